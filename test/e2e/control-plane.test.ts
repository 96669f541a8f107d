// Proof that the e2e cluster is a real control plane with the pieces everynode
// relies on: the scheduler binds, kwok runs pods, the controller-manager's
// controllers (minus the DaemonSet one) and garbage collector work, admission
// webhooks reach a loopback HTTPS server, and the tools report their pins.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eCluster } from '../harness/e2e.ts';
import { createAuthority, issueCertificate } from '../harness/pki.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';

const cluster = e2eCluster();
let namespace: string;

beforeAll(async () => {
  namespace = await cluster.createNamespace('control-plane-');
});

afterAll(async () => {
  await cluster.deleteNamespace(namespace);
});

const pause = 'registry.k8s.io/pause:3.10';

function pod(name: string, labels: Record<string, string> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { containers: [{ name: 'app', image: pause }] },
  };
}

async function podsWithLabel(selector: string): Promise<V1Pod[]> {
  return (await cluster.core.listNamespacedPod({ namespace, labelSelector: selector })).items;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('the e2e control plane', () => {
  it('binds a plain Pod to a kwok worker with kube-scheduler, and kwok runs it', async () => {
    await cluster.core.createNamespacedPod({ namespace, body: pod('plain') });

    const running = await waitFor('pod plain to be bound and Running', async () => {
      const p = await cluster.core.readNamespacedPod({ name: 'plain', namespace });
      const seen = { nodeName: p.spec?.nodeName, phase: p.status?.phase };
      return p.spec?.nodeName && p.status?.phase === 'Running' ? done(p) : notYet(seen);
    });
    // The control-plane node is tainted NoSchedule, so only a worker fits.
    expect(running.spec?.nodeName).toMatch(/^kwok-worker-\d+$/);
    expect(running.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(running.status?.podIP).toBeTruthy();

    const events = (
      await cluster.core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=plain' })
    ).items;
    const scheduled = events.find((e) => e.reason === 'Scheduled');
    expect(scheduled?.reportingComponent ?? scheduled?.source?.component).toBe('default-scheduler');
  });

  it('creates a Deployment’s pods, and garbage-collects them when the Deployment is deleted', async () => {
    await cluster.applyManifest(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: pause }] },
          },
        },
      },
      { namespace },
    );
    await waitFor('3 Running pods of deployment web', async () => {
      const pods = await podsWithLabel('app=web');
      const phases = pods.map((p) => `${p.metadata?.name}:${p.status?.phase}`);
      return pods.length === 3 && pods.every((p) => p.status?.phase === 'Running')
        ? done(pods)
        : notYet(phases);
    });

    await cluster.apps.deleteNamespacedDeployment({ name: 'web', namespace });

    await waitFor('the garbage collector to remove deployment web’s ReplicaSet and pods', async () => {
      const replicaSets = (
        await cluster.apps.listNamespacedReplicaSet({ namespace, labelSelector: 'app=web' })
      ).items;
      const pods = await podsWithLabel('app=web');
      return replicaSets.length === 0 && pods.length === 0
        ? done(undefined)
        : notYet({
            replicaSets: replicaSets.map((r) => r.metadata?.name),
            pods: pods.map((p) => p.metadata?.name),
          });
    });
  });

  it('gives an apps/v1 DaemonSet no pods: the built-in DaemonSet controller is off', async () => {
    await cluster.applyManifest(
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'agent', namespace },
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: {
            metadata: { labels: { app: 'agent' } },
            spec: { containers: [{ name: 'agent', image: pause }] },
          },
        },
      },
      { namespace },
    );
    // Proving an absence: give a controller ample time to act (the built-in one
    // creates pods within a second here), then check that nothing did.
    await sleep(10_000);

    expect(await podsWithLabel('app=agent')).toHaveLength(0);
    const ds = await cluster.apps.readNamespacedDaemonSet({ name: 'agent', namespace });
    expect(ds.status?.observedGeneration ?? 0).toBe(0);
    expect(ds.status?.desiredNumberScheduled ?? 0).toBe(0);
  });

  it('calls a mutating webhook at https://127.0.0.1:<port> with its caBundle, and the patch lands on the Pod', async () => {
    const ca = await createAuthority('e2e-webhook-ca');
    const serving = await issueCertificate(ca, { commonName: '127.0.0.1', hosts: ['127.0.0.1'] });
    const reviewed: string[] = [];
    const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const review = JSON.parse(body) as { request: { uid: string; name?: string; object: V1Pod } };
        reviewed.push(review.request.object.metadata?.name ?? review.request.name ?? '');
        const patch = [
          ...(review.request.object.metadata?.labels
            ? []
            : [{ op: 'add', path: '/metadata/labels', value: {} }]),
          { op: 'add', path: '/metadata/labels/everynode.dev~1e2e-webhook', value: 'patched' },
        ];
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: {
              uid: review.request.uid,
              allowed: true,
              patchType: 'JSONPatch',
              patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
            },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const webhookName = `e2e-${namespace}`;
    try {
      await cluster.applyManifest({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: webhookName },
        webhooks: [
          {
            name: 'e2e.everynode.dev',
            clientConfig: {
              url: `https://127.0.0.1:${port}/mutate`,
              caBundle: Buffer.from(ca.certPem).toString('base64'),
            },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
            // Only this test's namespace: other tests' pods never see this webhook.
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Fail',
            timeoutSeconds: 5,
          },
        ],
      });
      // The API server picks up new webhook configurations asynchronously; dry-run
      // creates (allowed: sideEffects None) show when it has.
      await waitFor('the API server to call the new webhook', async () => {
        const dry = await cluster.core.createNamespacedPod({ namespace, body: pod('probe'), dryRun: 'All' });
        return dry.metadata?.labels?.['everynode.dev/e2e-webhook']
          ? done(undefined)
          : notYet(dry.metadata?.labels);
      });

      const created = await cluster.core.createNamespacedPod({
        namespace,
        body: pod('mutated', { app: 'mutated' }),
      });

      expect(created.metadata?.labels).toEqual({ app: 'mutated', 'everynode.dev/e2e-webhook': 'patched' });
      const stored = await cluster.core.readNamespacedPod({ name: 'mutated', namespace });
      expect(stored.metadata?.labels?.['everynode.dev/e2e-webhook']).toBe('patched');
      expect(reviewed).toContain('mutated');
    } finally {
      await cluster.deleteManifest({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: webhookName },
      });
      server.closeAllConnections(); // the API server keeps its connection alive
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('adds, labels, taints and deletes kwok nodes through the harness', async () => {
    const name = 'kwok-harness-check';
    const added = await cluster.addNode(name, { zone: 'a' });
    expect(added.metadata?.labels).toMatchObject({
      'kubernetes.io/hostname': name,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      type: 'kwok',
      zone: 'a',
    });
    try {
      // Ready, and the node-lifecycle controller lifted the not-ready taint the API server added.
      expect(added.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(added.spec?.taints ?? []).toEqual([]);

      await cluster.labelNode(name, { zone: null, tier: 'edge' });
      await cluster.taintNode(name, { key: 'dedicated', value: 'edge', effect: 'NoSchedule' });
      let node = await cluster.core.readNode({ name });
      expect(node.metadata?.labels?.zone).toBeUndefined();
      expect(node.metadata?.labels?.tier).toBe('edge');
      expect(node.spec?.taints).toEqual([{ key: 'dedicated', value: 'edge', effect: 'NoSchedule' }]);

      await cluster.untaintNode(name, 'dedicated');
      node = await cluster.core.readNode({ name });
      expect(node.spec?.taints ?? []).toEqual([]);
    } finally {
      await cluster.deleteNode(name);
    }
    const names = (await cluster.core.listNode()).items.map((n) => n.metadata?.name);
    expect(names).not.toContain(name);
  });

  it('reports the pinned versions: kube-apiserver v1.37.2 through kubectl, helm v3.21.4', async () => {
    const { stdout } = await cluster.kubectl(['version', '-o', 'json']);
    const versions = JSON.parse(stdout) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string };
    };
    expect(versions.serverVersion.gitVersion).toBe('v1.37.2');
    expect(versions.clientVersion.gitVersion).toBe('v1.37.2');

    const helm = await cluster.helm(['version', '--template', '{{ .Version }}']);
    expect(helm.stdout.trim()).toBe('v3.21.4');
  });
});
