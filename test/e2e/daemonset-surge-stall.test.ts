// A surge rollout with minReadySeconds in which a user deletes an old pod by
// hand must still complete (issue 9: upstream's "[sig-apps] Daemon set should
// surge pods onto nodes" spec deletes pods at random, and everynode once left
// an old pod beside its available new one for over a minute).
//
// 4 workers, maxSurge 20% (one node at a time), maxUnavailable 0,
// minReadySeconds 10. The steps are placed so that the stall, when the
// controller has it, follows every time:
//   1. the template changes; the first surge pod N1 turns Ready at t0, and its
//      Ready transition requeues the DaemonSet for t0 + 11 s;
//   2. ~2.5 s later the test deletes the old pod of a node without a new pod;
//      its replacement R (not a surge pod: no old pod beside it) turns Ready
//      at t1 > t0 + 1 s, so its own requeue (t1 + 11 s) is absorbed by the
//      nearer one (the work queue keeps the nearest delayed add per key), and
//      the status requeues for R's availability at ~t1 + 10 s;
//   3. at t0 + 11 s N1 is available: its old pod goes and the next surge pod
//      N2 is created; it turns Ready at t2 ≈ t0 + 12 s, later than the pending
//      t1 + 10 s, so its requeue is absorbed too;
//   4. at t1 + 10 s R is available, N2 is not yet (t2 + 10 s), and N2 is a
//      surge pod beside an available old pod: nothing else requeues. Unless the
//      plan requeues for N2 itself, the rollout waits for an unrelated event.
// The rollout must finish within a generous wait (a working controller needs
// about 4 × 11 s), and every sample must respect what upstream guarantees.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { e2eCluster } from '../harness/e2e.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import {
  describePods,
  describeSample,
  Everynode,
  isReady,
  isTerminating,
  podsOf,
  PodSampler,
  waitForDaemonPods,
  waitForStatus,
  type Sample,
} from './support/everynode.ts';

const cluster = e2eCluster();
let namespace: string;
let everynode: Everynode;
let workers: string[];

const NAME = 'surge-stall';
const MIN_READY_SECONDS = 10;
const MAX_SURGE = 1; // 20% of 4 nodes, rounded up

const kubectl = (...args: string[]) => cluster.kubectl([...args, '-n', namespace]);

const daemonSet = () => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: { name: NAME, namespace },
  spec: {
    selector: { matchLabels: { app: NAME } },
    minReadySeconds: MIN_READY_SECONDS,
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '20%', maxUnavailable: 0 } },
    template: {
      metadata: { labels: { app: NAME } },
      spec: {
        containers: [
          { name: 'agent', image: 'registry.k8s.io/pause:3.10', env: [{ name: 'VERSION', value: '1' }] },
        ],
      },
    },
  },
});

const versionOf = (pod: V1Pod) => pod.spec?.containers[0]?.env?.find((e) => e.name === 'VERSION')?.value;
const revisionOf = (pod: V1Pod) => pod.metadata?.labels?.['controller-revision-hash'];

beforeAll(async () => {
  namespace = await cluster.createNamespace('ds-surge-stall-');
  everynode = await Everynode.start(cluster, { namespaces: [namespace] });
  workers = await cluster.workerNames();
});

afterAll(async () => {
  await kubectl('delete', 'ds', NAME, '--ignore-not-found').catch(() => undefined);
  await everynode?.stop();
  if (namespace) await cluster.deleteNamespace(namespace);
});

describe('surge rollout with minReadySeconds and an old pod deleted by hand', () => {
  it('completes: every node ends with one available new pod, and no sample breaks the surge invariants', async () => {
    expect(workers).toHaveLength(4);
    await cluster.applyManifest(daemonSet());
    const before = await waitForDaemonPods(cluster, namespace, NAME, workers, { abortIf: everynode.failure });
    await waitForStatus(
      cluster,
      namespace,
      NAME,
      'every pod available after minReadySeconds',
      (s) => s.numberAvailable === workers.length && s.updatedNumberScheduled === workers.length,
    );
    const oldRevision = revisionOf(before[0]!);
    expect(oldRevision).toBeDefined();

    const sampler = new PodSampler(cluster, namespace, NAME);
    let samples: Sample[];
    let victim: V1Pod | undefined;
    try {
      await kubectl('set', 'env', `ds/${NAME}`, 'VERSION=2');

      // Step 1: the first surge pod is Ready next to its node's old pod.
      const surgePod = await waitFor(
        'the first surge pod to be Ready',
        async () => {
          const pods = await podsOf(cluster, namespace, NAME);
          const ready = pods.find((p) => versionOf(p) === '2' && isReady(p) && !isTerminating(p));
          return ready ? done(ready) : notYet(describePods(pods));
        },
        { timeoutMs: 60_000, abortIf: everynode.failure },
      );
      const surgeNode = surgePod.spec!.nodeName!;

      // Step 2: a little later (past the second the Ready times are rounded to), delete the old pod
      // of a node that has no new pod yet, as upstream's spec does at random.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const pods = await podsOf(cluster, namespace, NAME);
      const withNew = new Set(pods.filter((p) => versionOf(p) === '2').map((p) => p.spec?.nodeName));
      const candidates = pods.filter(
        (p) =>
          versionOf(p) === '1' &&
          !isTerminating(p) &&
          !withNew.has(p.spec?.nodeName) &&
          p.spec?.nodeName !== surgeNode,
      );
      expect(candidates.length, describePods(pods).join(', ')).toBeGreaterThan(0);
      victim = candidates[candidates.length - 1]!;
      await kubectl('delete', 'pod', victim.metadata!.name!, '--wait=false');

      // Steps 3 and 4 happen on their own; a working controller finishes in about 4 × 11 s.
      await waitFor(
        `every node with one Ready VERSION=2 pod and nothing else (old pod ${victim.metadata!.name!} deleted by hand)`,
        async () => {
          const now = await podsOf(cluster, namespace, NAME);
          const on = now.map((p) => p.spec?.nodeName ?? '(unbound)').sort();
          const finished =
            on.join() === [...workers].sort().join() &&
            now.every((p) => versionOf(p) === '2' && isReady(p) && !isTerminating(p));
          return finished
            ? done(undefined)
            : notYet(
                now
                  .map(
                    (p) =>
                      `${p.metadata?.name ?? '?'}@${p.spec?.nodeName ?? '?'}:VERSION=${versionOf(p) ?? '?'}${isReady(p) ? ':ready' : ''}${isTerminating(p) ? ':terminating' : ''}`,
                  )
                  .sort(),
              );
        },
        { timeoutMs: 150_000, intervalMs: 500, abortIf: everynode.failure },
      );
      await waitForStatus(
        cluster,
        namespace,
        NAME,
        'every pod updated and available',
        (s) =>
          s.desiredNumberScheduled === workers.length &&
          s.updatedNumberScheduled === workers.length &&
          s.numberAvailable === workers.length,
        { timeoutMs: 30_000 },
      );
    } finally {
      samples = await sampler.stop();
    }

    const victimNode = victim.spec!.nodeName!;
    const revisions = new Set<string>();
    for (const sample of samples) {
      const where = describeSample(sample);
      const live = sample.pods.filter((p) => !p.terminating);
      for (const p of live) if (p.revision) revisions.add(p.revision);
      for (const node of workers) {
        const onNode = live.filter((p) => p.node === node);
        // Surge never runs two pods of one revision on a node, nor more than two pods.
        for (const revision of new Set(onNode.map((p) => p.revision))) {
          expect(
            onNode.filter((p) => p.revision === revision).length,
            `${node}: ${where}`,
          ).toBeLessThanOrEqual(1);
        }
        expect(onNode.length, `${node}: ${where}`).toBeLessThanOrEqual(2);
        // maxUnavailable 0: an old pod goes only once its node's new pod is available, so every node
        // keeps a Ready pod, except the one whose pod the test deleted.
        if (node !== victimNode) {
          expect(
            onNode.some((p) => p.available),
            `${node} without a Ready pod: ${where}`,
          ).toBe(true);
        }
      }
      // upstream's bound: new pods not Ready ≤ maxSurge + old pods not Ready + nodes without an old pod.
      const newUnready = live.filter((p) => p.revision !== oldRevision && !p.available).length;
      const oldUnready = sample.pods.filter((p) => p.revision === oldRevision && !p.available).length;
      const nodesWithoutOld = workers.filter(
        (n) =>
          live.some((p) => p.node === n) && !live.some((p) => p.node === n && p.revision === oldRevision),
      ).length;
      expect(newUnready, where).toBeLessThanOrEqual(MAX_SURGE + oldUnready + nodesWithoutOld);
    }
    // Two revisions, the old and the new, never a third.
    expect(revisions.size).toBeLessThanOrEqual(2);
    // The sampler saw the rollout under way.
    expect(samples.some((s) => s.pods.some((p) => p.revision !== oldRevision))).toBe(true);
    expect(samples.some((s) => s.pods.some((p) => p.revision === oldRevision))).toBe(true);
  });
});
