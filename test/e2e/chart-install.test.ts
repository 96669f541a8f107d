// A real `helm install` in development mode, with the webhook and the
// controller running on the host (the controller as the chart's own
// ServiceAccount): the tutorial DaemonSet gets one pinned pod per worker
// through the installed webhook configuration; `helm upgrade` leaves running
// pods untouched and keeps admission working; `helm uninstall` removes
// everything the chart created.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1DaemonSet, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { e2eCluster } from '../harness/e2e.ts';
import { CONTROL_PLANE_ROLE } from '../harness/kube.ts';
import { repoRoot } from '../harness/tools.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import { CHART, installEverynodeOnHost, type HostEverynode } from './chart-support.ts';

const cluster = e2eCluster();
const RELEASE = 'dev';
const EXTRA_NODE = 'chart-install-extra';
let namespace: string;
let everynode: HostEverynode | undefined;

/** examples/nginx-ds.yaml, moved into this test's namespace. */
function tutorialDaemonSet(): V1DaemonSet {
  const ds = parse(readFileSync(join(repoRoot, 'examples/nginx-ds.yaml'), 'utf8')) as V1DaemonSet;
  ds.metadata = { ...ds.metadata, namespace };
  return ds;
}

const nginxPods = async (): Promise<V1Pod[]> =>
  (await cluster.core.listNamespacedPod({ namespace, labelSelector: 'app=nginx' })).items.filter(
    (p) => !p.metadata?.deletionTimestamp,
  );

const pinnedNode = (pod: V1Pod) =>
  pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.[0]
    ?.matchFields?.[0]?.values?.[0];

async function schedulableWorkers(): Promise<string[]> {
  const nodes = (await cluster.core.listNode()).items;
  return nodes
    .filter((n) => !(n.spec?.taints ?? []).some((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute'))
    .filter((n) => !(n.metadata?.labels ?? {})[CONTROL_PLANE_ROLE])
    .map((n) => n.metadata!.name!)
    .sort();
}

/** Waits until exactly one Running nginx pod sits on each of `nodes`, and returns them. */
function waitForOnePodPer(nodes: string[]): Promise<V1Pod[]> {
  return waitFor(
    `one Running nginx pod on each of ${nodes.join(', ')}`,
    async () => {
      const pods = await nginxPods();
      const placed = pods.map((p) => `${p.spec?.nodeName ?? '(unbound)'}:${p.status?.phase}`).sort();
      const ok =
        pods.length === nodes.length &&
        pods.every((p) => p.status?.phase === 'Running') &&
        [...new Set(pods.map((p) => p.spec?.nodeName))].sort().join() === nodes.join();
      return ok ? done(pods) : notYet(placed);
    },
    { timeoutMs: 120_000, abortIf: () => everynode?.exited() },
  );
}

beforeAll(async () => {
  namespace = await cluster.createNamespace('chart-install-');
  everynode = await installEverynodeOnHost(cluster, { release: RELEASE, namespace });
});

afterAll(async () => {
  await cluster.deleteNode(EXTRA_NODE);
  await cluster.apps.deleteNamespacedDaemonSet({ name: 'nginx', namespace }).catch(() => undefined);
  await cluster.helm(['uninstall', RELEASE, '--namespace', namespace], { allowFailure: true });
  await everynode?.stop();
  await cluster.deleteNamespace(namespace);
});

describe('helm install in development mode', () => {
  it('the tutorial DaemonSet gets one pinned pod on each worker, none on the control plane, through the installed webhook', async () => {
    const config = await cluster.kubectl([
      'get',
      'mutatingwebhookconfiguration',
      `${namespace}-${RELEASE}-everynode`,
      '-o',
      'json',
    ]);
    expect(JSON.parse(config.stdout).webhooks[0].clientConfig.url).toBe(
      `https://127.0.0.1:${everynode!.webhookPort}/mutate`,
    );
    const admittedBefore = await everynode!.admissionsServed();

    await cluster.applyManifest(stringify(tutorialDaemonSet()));
    const workers = await schedulableWorkers();
    expect(workers.length).toBeGreaterThanOrEqual(4);
    const pods = await waitForOnePodPer(workers);

    for (const pod of pods) {
      expect(pinnedNode(pod)).toBe(pod.spec!.nodeName);
      expect(pod.metadata?.annotations?.['everynode.dev/target-node']).toBe(pod.spec!.nodeName);
      expect(pod.spec?.tolerations).toContainEqual({
        key: 'node.kubernetes.io/unschedulable',
        operator: 'Exists',
        effect: 'NoSchedule',
      });
    }
    // Each pod creation went through the webhook the chart configured.
    expect((await everynode!.admissionsServed()) - admittedBefore).toBeGreaterThanOrEqual(workers.length);

    const ds = await waitFor('the DaemonSet status to settle', async () => {
      const d = await cluster.apps.readNamespacedDaemonSet({ name: 'nginx', namespace });
      const s = d.status;
      return s?.observedGeneration === d.metadata?.generation && s?.numberReady === workers.length
        ? done(d)
        : notYet(s);
    });
    expect(ds.status).toMatchObject({
      desiredNumberScheduled: workers.length,
      currentNumberScheduled: workers.length,
      numberMisscheduled: 0,
    });
  });

  it('helm upgrade leaves the running pods untouched, and the upgraded configuration keeps pinning new pods', async () => {
    const before = (await nginxPods()).map((p) => `${p.metadata!.uid}@${p.metadata!.resourceVersion}`).sort();
    const dsBefore = await cluster.apps.readNamespacedDaemonSet({ name: 'nginx', namespace });

    await cluster.helm([
      'upgrade',
      RELEASE,
      CHART,
      '--namespace',
      namespace,
      '--reuse-values',
      '--set',
      'webhook.timeoutSeconds=10',
      '--set',
      'logLevel=debug',
      '--wait',
    ]);
    const config = await cluster.kubectl([
      'get',
      'mutatingwebhookconfiguration',
      `${namespace}-${RELEASE}-everynode`,
      '-o',
      'json',
    ]);
    expect(JSON.parse(config.stdout).webhooks[0].timeoutSeconds).toBe(10);

    expect(
      (await nginxPods()).map((p) => `${p.metadata!.uid}@${p.metadata!.resourceVersion}`).sort(),
    ).toEqual(before);
    const dsAfter = await cluster.apps.readNamespacedDaemonSet({ name: 'nginx', namespace });
    expect(dsAfter.metadata?.generation).toBe(dsBefore.metadata?.generation);

    // A new node gets its pod through the upgraded configuration.
    await cluster.addNode(EXTRA_NODE);
    const pods = await waitForOnePodPer(await schedulableWorkers());
    const extra = pods.find((p) => p.spec?.nodeName === EXTRA_NODE)!;
    expect(pinnedNode(extra)).toBe(EXTRA_NODE);
    expect(
      pods
        .filter((p) => p.spec?.nodeName !== EXTRA_NODE)
        .map((p) => `${p.metadata!.uid}@${p.metadata!.resourceVersion}`)
        .sort(),
    ).toEqual(before);
  });

  it('helm uninstall removes everything the chart created', async () => {
    const selector = `app.kubernetes.io/instance=${RELEASE}`;
    const namespaced = 'deploy,sa,role,rolebinding,secret,svc,pdb';
    const clusterScoped = 'mutatingwebhookconfiguration,clusterrole,clusterrolebinding';
    const before = await cluster.kubectl(['get', namespaced, '-n', namespace, '-l', selector, '-o', 'name']);
    expect(before.stdout).toContain(`serviceaccount/${RELEASE}-everynode-controller`);

    // As with in-cluster processes, which go with their Deployments: nothing runs on without its RBAC.
    await everynode!.stop();
    await cluster.helm(['uninstall', RELEASE, '--namespace', namespace, '--wait']);
    expect(
      (
        await cluster.kubectl(['get', namespaced, '-n', namespace, '-l', selector, '-o', 'name'])
      ).stdout.trim(),
    ).toBe('');
    expect((await cluster.kubectl(['get', clusterScoped, '-l', selector, '-o', 'name'])).stdout.trim()).toBe(
      '',
    );
    const releases = await cluster.helm(['list', '--namespace', namespace, '-q']);
    expect(releases.stdout.trim()).toBe('');
  });
});
