// Every manifest in examples/, applied verbatim to the real control plane with
// everynode installed by its chart (development mode, processes on the host),
// and where its pods land: the nginx tutorial on the workers only,
// fluentd-elasticsearch and node-exporter on every node including the tainted
// control plane, the hostNetwork network agent also on a node whose network is
// not up yet.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1DaemonSet, V1Node, V1Pod, V1Toleration } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { daemonTolerations, TAINT_NETWORK_UNAVAILABLE } from '../../src/contract/daemon-pod.ts';
import { e2eCluster } from '../harness/e2e.ts';
import { repoRoot } from '../harness/tools.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import { installEverynodeOnHost, type HostEverynode } from './chart-support.ts';

const cluster = e2eCluster();
const RELEASE = 'examples';
const NETWORK_PENDING_NODE = 'examples-network-pending';
let namespace: string;
let everynode: HostEverynode | undefined;

const exampleText = (file: string) => readFileSync(join(repoRoot, 'examples', file), 'utf8');

function daemonSetOf(file: string): V1DaemonSet {
  const docs = parseAllDocuments(exampleText(file)).map((d) => d.toJS() as { kind?: string });
  return docs.find((d) => d.kind === 'DaemonSet') as V1DaemonSet;
}

const tolerates = (tolerations: V1Toleration[], taint: { key: string; effect: string; value?: string }) =>
  tolerations.some(
    (t) =>
      (t.key === undefined || t.key === '' || t.key === taint.key) &&
      (t.effect === undefined || t.effect === '' || t.effect === taint.effect) &&
      (t.operator === 'Exists' || t.value === taint.value),
  );

/** The nodes a DaemonSet should run on: its nodeSelector matches and every NoSchedule/NoExecute taint is tolerated. */
function eligibleNodes(ds: V1DaemonSet, nodes: V1Node[]): string[] {
  const spec = ds.spec!.template.spec!;
  const tolerations = [...(spec.tolerations ?? []), ...daemonTolerations(spec.hostNetwork === true)];
  return nodes
    .filter((n) => Object.entries(spec.nodeSelector ?? {}).every(([k, v]) => n.metadata?.labels?.[k] === v))
    .filter((n) =>
      (n.spec?.taints ?? [])
        .filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute')
        .every((t) => tolerates(tolerations, t)),
    )
    .map((n) => n.metadata!.name!)
    .sort();
}

const pinnedNode = (pod: V1Pod) =>
  pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.[0]
    ?.matchFields?.[0]?.values?.[0];

/** Applies the example and waits until its DaemonSet has one Running, pinned pod on each eligible node. */
async function applyAndWait(file: string): Promise<{ ds: V1DaemonSet; pods: V1Pod[]; expected: string[] }> {
  await cluster.applyManifest(exampleText(file));
  const ds = daemonSetOf(file);
  const ns = ds.metadata!.namespace!;
  const selector = Object.entries(ds.spec!.selector.matchLabels!)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const expected = eligibleNodes(ds, (await cluster.core.listNode()).items);
  const pods = await waitFor(
    `${file}: one Running pod on each of ${expected.join(', ')}`,
    async () => {
      const all = (
        await cluster.core.listNamespacedPod({ namespace: ns, labelSelector: selector })
      ).items.filter((p) => !p.metadata?.deletionTimestamp);
      const on = all.map((p) => p.spec?.nodeName ?? '(unbound)').sort();
      const ok = all.every((p) => p.status?.phase === 'Running') && on.join() === expected.join();
      return ok ? done(all) : notYet(all.map((p) => `${p.spec?.nodeName ?? '(unbound)'}:${p.status?.phase}`));
    },
    { timeoutMs: 120_000, abortIf: () => everynode?.exited() },
  );
  for (const pod of pods) expect(pinnedNode(pod)).toBe(pod.spec!.nodeName);
  return { ds, pods, expected };
}

beforeAll(async () => {
  namespace = await cluster.createNamespace('examples-');
  everynode = await installEverynodeOnHost(cluster, { release: RELEASE, namespace });
});

afterAll(async () => {
  for (const file of [
    'nginx-ds.yaml',
    'fluentd-elasticsearch.yaml',
    'node-exporter.yaml',
    'network-agent.yaml',
  ]) {
    await cluster.deleteManifest(exampleText(file));
  }
  await cluster.deleteNode(NETWORK_PENDING_NODE);
  await everynode?.stop();
  await cluster.helm(['uninstall', RELEASE, '--namespace', namespace], { allowFailure: true });
  await cluster.deleteNamespace(namespace);
});

describe('examples/', () => {
  it('nginx-ds.yaml: one pod on each worker, none on the tainted control-plane node', async () => {
    const { pods, expected } = await applyAndWait('nginx-ds.yaml');
    const nodes = (await cluster.core.listNode()).items;
    const controlPlane = nodes.filter(
      (n) => n.metadata?.labels?.['node-role.kubernetes.io/control-plane'] !== undefined,
    );
    expect(controlPlane.length).toBeGreaterThanOrEqual(1);
    expect(expected.length).toBeGreaterThanOrEqual(4);
    for (const cp of controlPlane) expect(expected).not.toContain(cp.metadata!.name);
    expect(pods.every((p) => p.metadata?.namespace === 'default')).toBe(true);
  });

  it('fluentd-elasticsearch.yaml: in kube-system on every node including the control plane, with its resources and hostPath mounts', async () => {
    const { pods, expected } = await applyAndWait('fluentd-elasticsearch.yaml');
    expect(expected).toContain('kwok-control-plane');
    for (const pod of pods) {
      expect(pod.metadata?.namespace).toBe('kube-system');
      expect(pod.spec?.containers[0]?.resources).toEqual({
        limits: { memory: '200Mi' },
        requests: { cpu: '100m', memory: '200Mi' },
      });
      expect(pod.spec?.volumes?.filter((v) => v.hostPath).map((v) => v.hostPath?.path)).toEqual([
        '/var/log',
        '/var/log/pods',
      ]);
    }
  });

  it('node-exporter.yaml: its namespace and ServiceAccount, and a pod on every Linux node', async () => {
    const { pods, expected } = await applyAndWait('node-exporter.yaml');
    expect(expected).toContain('kwok-control-plane');
    const sa = await cluster.core.readNamespacedServiceAccount({
      name: 'node-exporter',
      namespace: 'monitoring',
    });
    expect(sa.automountServiceAccountToken).toBe(false);
    for (const pod of pods) {
      expect(pod.metadata?.namespace).toBe('monitoring');
      expect(pod.spec?.serviceAccountName).toBe('node-exporter');
      expect(pod.spec?.hostPID).toBe(true);
    }
  });

  it('network-agent.yaml: hostNetwork, also on a node whose network is not up yet', async () => {
    // The node-lifecycle controller keeps the network-unavailable taint in step with the node's
    // NetworkUnavailable condition (kwok reports False), so report the network as down and let it taint the node.
    await cluster.addNode(NETWORK_PENDING_NODE);
    const now = new Date().toISOString();
    await cluster.kubectl([
      'patch',
      'node',
      NETWORK_PENDING_NODE,
      '--subresource=status',
      '--type=strategic',
      '-p',
      JSON.stringify({
        status: {
          conditions: [
            {
              type: 'NetworkUnavailable',
              status: 'True',
              reason: 'NoRouteCreated',
              message: 'the network agent has not configured this node yet',
              lastHeartbeatTime: now,
              lastTransitionTime: now,
            },
          ],
        },
      }),
    ]);
    const tainted = (node: V1Node) =>
      (node.spec?.taints ?? []).some((t) => t.key === TAINT_NETWORK_UNAVAILABLE && t.effect === 'NoSchedule');
    await waitFor(`${NETWORK_PENDING_NODE} to be tainted network-unavailable`, async () => {
      const node = await cluster.core.readNode({ name: NETWORK_PENDING_NODE });
      return tainted(node) ? done(node) : notYet(node.spec?.taints);
    });

    const { pods, expected } = await applyAndWait('network-agent.yaml');
    expect(expected).toContain(NETWORK_PENDING_NODE);
    expect(expected).toContain('kwok-control-plane');
    const pending = pods.find((p) => p.spec?.nodeName === NETWORK_PENDING_NODE)!;
    expect(pending.spec?.hostNetwork).toBe(true);
    expect(pending.spec?.tolerations).toContainEqual({
      key: TAINT_NETWORK_UNAVAILABLE,
      operator: 'Exists',
      effect: 'NoSchedule',
    });
    // It landed there while the network was still down.
    expect(tainted(await cluster.core.readNode({ name: NETWORK_PENDING_NODE }))).toBe(true);
  });
});
