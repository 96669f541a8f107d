// A DaemonSet's pods over their life on the real control plane with everynode
// running: a Failed pod is replaced, `kubectl get ds` reports the counts,
// `kubectl delete ds` leaves no pod behind, and a daemon pod that reached the
// API server without the webhook's pinning is deleted with a Warning and
// replaced by a pinned one; creates a ResourceQuota refuses fail visibly and
// leave no extra pod.
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MANAGED_LABEL, MANAGED_LABEL_VALUE, TARGET_NODE_ANNOTATION } from '../../src/contract/daemon-pod.ts';
import { e2eCluster } from '../harness/e2e.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import {
  describePods,
  Everynode,
  podsOf,
  readPodIfExists,
  waitForDaemonPods,
  waitForEvent,
  waitForStatus,
} from './support/everynode.ts';

const cluster = e2eCluster();
let namespace: string;
let everynode: Everynode;
let workers: string[];
const cleanups: Array<() => Promise<unknown>> = [];

function daemonSet(name: string, podSpec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'agent', image: 'registry.k8s.io/pause:3.10' }], ...podSpec },
      },
    },
  };
}

const kubectl = (...args: string[]) => cluster.kubectl([...args, '-n', namespace]);

async function create(name: string, podSpec: Record<string, unknown> = {}): Promise<V1Pod[]> {
  cleanups.push(() => kubectl('delete', 'ds', name, '--ignore-not-found'));
  await cluster.applyManifest(daemonSet(name, podSpec));
  return waitForDaemonPods(cluster, namespace, name, workers, { abortIf: everynode.failure });
}

beforeAll(async () => {
  namespace = await cluster.createNamespace('ds-lifecycle-');
  everynode = await Everynode.start(cluster, { namespaces: [namespace] });
  workers = await cluster.workerNames();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await everynode?.stop();
  if (namespace) await cluster.deleteNamespace(namespace);
});

describe('DaemonSet pod lifecycle', () => {
  it('a pod set to Failed is deleted with a FailedDaemonPod event and replaced on its node', async () => {
    const pods = await create('failing');
    const victim = pods[0]!;
    const node = victim.spec!.nodeName!;
    await kubectl(
      'patch',
      'pod',
      victim.metadata!.name!,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { phase: 'Failed', reason: 'E2E', message: 'set to Failed by the test' } }),
    );

    const after = await waitForDaemonPods(cluster, namespace, 'failing', workers, {
      description: `a new Running pod on ${node} replacing the Failed ${victim.metadata!.name!}`,
      accept: (p) => p.metadata?.uid !== victim.metadata?.uid,
      abortIf: everynode.failure,
    });
    // Only the failed pod was replaced.
    const others = pods.filter((p) => p !== victim).map((p) => p.metadata!.uid);
    expect(
      after
        .filter((p) => p.spec?.nodeName !== node)
        .map((p) => p.metadata!.uid)
        .sort(),
    ).toEqual(others.sort());
    expect(await readPodIfExists(cluster, namespace, victim.metadata!.name!)).toBeUndefined();
    const event = await waitForEvent(cluster, namespace, 'failing', 'FailedDaemonPod');
    expect(event.type).toBe('Warning');
    expect(event.message).toContain(victim.metadata!.name!);
    expect(event.message).toContain(node);
  });

  it('kubectl get ds shows DESIRED/CURRENT/READY/UP-TO-DATE/AVAILABLE, and kubectl delete ds removes every pod', async () => {
    await create('counted', { nodeSelector: { 'kubernetes.io/os': 'linux' } });
    await waitForStatus(
      cluster,
      namespace,
      'counted',
      'all counted',
      (s) => s.numberAvailable === workers.length,
    );
    const { stdout } = await kubectl('get', 'ds', 'counted');
    const [header, row] = stdout.trim().split('\n');
    expect(header!.trim().split(/\s{2,}/)).toEqual([
      'NAME',
      'DESIRED',
      'CURRENT',
      'READY',
      'UP-TO-DATE',
      'AVAILABLE',
      'NODE SELECTOR',
      'AGE',
    ]);
    const n = String(workers.length);
    expect(
      row!
        .trim()
        .split(/\s{2,}/)
        .slice(0, 7),
    ).toEqual(['counted', n, n, n, n, n, 'kubernetes.io/os=linux']);

    const revisions = async () =>
      (await cluster.apps.listNamespacedControllerRevision({ namespace })).items.filter(
        (r) => r.metadata?.ownerReferences?.[0]?.name === 'counted',
      );
    expect(await revisions()).toHaveLength(1);
    await kubectl('delete', 'ds', 'counted');
    await waitFor(
      'the garbage collector to remove every pod and revision of the deleted DaemonSet',
      async () => {
        const [pods, revs] = [await podsOf(cluster, namespace, 'counted'), await revisions()];
        return pods.length === 0 && revs.length === 0
          ? done(undefined)
          : notYet({ pods: describePods(pods), revisions: revs.map((r) => r.metadata?.name) });
      },
    );
  });

  it('a daemon pod that bypassed the webhook is deleted with an UnpinnedDaemonPod Warning and replaced by a pinned pod', async () => {
    // A cordoned node: only pods carrying the daemon tolerations (which the webhook adds) can be
    // scheduled there, so a pod that bypassed the webhook stays unbound, as the controller finds it.
    const node = 'ds-lifecycle-cordoned';
    const pool = 'everynode.dev/e2e-pool';
    cleanups.push(() => cluster.deleteNode(node));
    await cluster.addNode(node, { [pool]: 'cordoned' });
    await cluster.kubectl(['cordon', node]);
    cleanups.push(() => kubectl('delete', 'ds', 'guarded', '--ignore-not-found'));
    await cluster.applyManifest(daemonSet('guarded', { nodeSelector: { [pool]: 'cordoned' } }));
    const [original] = await waitForDaemonPods(cluster, namespace, 'guarded', [node], {
      abortIf: everynode.failure,
    });
    const ds = await cluster.apps.readNamespacedDaemonSet({ namespace, name: 'guarded' });

    // With the controller stopped, the pod is removed and a look-alike created while the webhook is not registered.
    const [controller] = everynode.controllers;
    await controller!.kill('SIGTERM');
    await kubectl('delete', 'pod', original!.metadata!.name!, '--wait=true');
    await everynode.unregisterWebhook();
    const bypass = await cluster.core.createNamespacedPod({
      namespace,
      body: {
        metadata: {
          generateName: 'guarded-',
          labels: { ...original!.metadata!.labels },
          annotations: { [TARGET_NODE_ANNOTATION]: node },
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'DaemonSet',
              name: 'guarded',
              uid: ds.metadata!.uid!,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: {
          nodeSelector: { [pool]: 'cordoned' },
          containers: [{ name: 'agent', image: 'registry.k8s.io/pause:3.10' }],
        },
      },
    });
    expect(bypass.metadata?.labels?.[MANAGED_LABEL]).toBe(MANAGED_LABEL_VALUE);
    expect(bypass.spec?.affinity).toBeUndefined();
    await everynode.registerWebhook();
    await waitFor(`the scheduler to report ${bypass.metadata!.name!} unschedulable`, async () => {
      const pod = await cluster.core.readNamespacedPod({ namespace, name: bypass.metadata!.name! });
      const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
      return scheduled?.status === 'False' ? done(pod) : notYet(pod.status);
    });

    await everynode.startController();
    const [replacement] = await waitForDaemonPods(cluster, namespace, 'guarded', [node], {
      description: `a pinned pod on ${node} in place of the unpinned ${bypass.metadata!.name!}`,
      accept: (p) => p.metadata?.uid !== bypass.metadata?.uid,
      abortIf: everynode.failure,
    });
    expect(replacement!.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual(
      {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
      },
    );
    expect(await readPodIfExists(cluster, namespace, bypass.metadata!.name!)).toBeUndefined();
    const warning = await waitForEvent(cluster, namespace, 'guarded', 'UnpinnedDaemonPod');
    expect(warning.type).toBe('Warning');
    expect(warning.message).toContain(bypass.metadata!.name!);
    expect(warning.message).toContain(node);
  });

  it('creates the API server refuses (a ResourceQuota) give a FailedCreate Warning, no extra pod, and every node its pod once the quota allows', async () => {
    expect(workers.length).toBeGreaterThanOrEqual(3);
    const quota = 'daemon-pods';
    cleanups.push(() => kubectl('delete', 'resourcequota', quota, '--ignore-not-found'));
    await cluster.applyManifest({
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: quota, namespace },
      spec: { hard: { pods: '2' } },
    });
    // Admission enforces a quota only once kube-controller-manager has recorded its usage.
    await waitFor('the ResourceQuota to be tracked', async () => {
      const q = await cluster.core.readNamespacedResourceQuota({ namespace, name: quota });
      return q.status?.hard?.pods === '2' ? done(q) : notYet(q.status);
    });
    cleanups.push(() => kubectl('delete', 'ds', 'quota-bound', '--ignore-not-found'));
    await cluster.applyManifest(daemonSet('quota-bound'));

    const warning = await waitForEvent(cluster, namespace, 'quota-bound', 'FailedCreate');
    expect(warning.type).toBe('Warning');
    expect(warning.message).toContain('exceeded quota');
    // While the quota holds, the retries (with backoff) never make more than two pods, one per node.
    for (let sample = 0; sample < 6; sample++) {
      const pods = await podsOf(cluster, namespace, 'quota-bound');
      expect(pods.length).toBeLessThanOrEqual(2);
      const nodes = pods.map((p) => p.spec?.nodeName ?? p.metadata?.annotations?.[TARGET_NODE_ANNOTATION]);
      expect(new Set(nodes).size).toBe(pods.length);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await podsOf(cluster, namespace, 'quota-bound')).toHaveLength(2);

    await kubectl('patch', 'resourcequota', quota, '--type=merge', '-p', '{"spec":{"hard":{"pods":"100"}}}');
    const pods = await waitForDaemonPods(cluster, namespace, 'quota-bound', workers, {
      abortIf: everynode.failure,
    });
    expect(pods).toHaveLength(workers.length);
  });
});
