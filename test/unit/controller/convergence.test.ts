// Properties of repeated planning: applying each plan (simulated) and planning
// again reaches exactly one pod per eligible node, whatever mess of pods it
// starts from; rollouts finish within their budget; and no single plan does
// anything unsafe on the way.
import type { V1DaemonSet, V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planDaemonSet } from '../../../src/controller/plan.ts';
import { nodeShouldRunDaemonPod } from '../../../src/controller/placement.ts';
import { isPodAvailable, isPodUpdated, isTerminating } from '../../../src/controller/pods.ts';
import { rolloutLimits } from '../../../src/controller/rolling-update.ts';
import { buildSyncContext } from '../../../src/controller/sync-context.ts';
import { MANAGED_LABEL, TARGET_NODE_ANNOTATION, pinnedNodeOf } from '../../../src/contract/daemon-pod.ts';
import type { Plan } from '../../../src/controller/types.ts';
import {
  Cluster,
  daemonSet,
  markReady,
  node,
  onDelete,
  pod,
  rollingUpdate,
  setImage,
  surge,
  type PodOptions,
  type Strategy,
} from './fixtures.ts';

const HOUR = 3_600_000;

// ---- arbitraries --------------------------------------------------------------

const taintArb = fc.constantFrom(
  undefined,
  { key: 'dedicated', value: 'x', effect: 'NoSchedule' as const },
  { key: 'dedicated', value: 'x', effect: 'NoExecute' as const },
);

const nodesArb = fc
  .array(fc.record({ run: fc.boolean(), taint: taintArb }), { minLength: 1, maxLength: 8 })
  .map((specs) =>
    specs.map((s, i) =>
      node(`node-${i}`, { labels: { run: s.run ? 'yes' : 'no' }, taints: s.taint ? [s.taint] : undefined }),
    ),
  );

const strategyArb: fc.Arbitrary<Strategy> = fc.oneof(
  fc.constant(onDelete),
  fc.integer({ min: 1, max: 3 }).map((n) => rollingUpdate(n)),
  fc.constantFrom('25%', '50%').map((p) => rollingUpdate(p)),
  fc.integer({ min: 1, max: 2 }).map((n) => surge(n)),
);

const dsArb = fc
  .record({ selector: fc.boolean(), tolerate: fc.boolean(), strategy: strategyArb })
  .map(({ selector, tolerate, strategy }) => {
    const ds = daemonSet('foo', strategy);
    if (selector) ds.spec!.template.spec!.nodeSelector = { run: 'yes' };
    if (tolerate) ds.spec!.template.spec!.tolerations = [{ key: 'dedicated', operator: 'Exists' }];
    return ds;
  });

const podSpecArb = fc.record({
  node: fc.integer({ min: 0, max: 8 }), // 8 may name a node that does not exist
  bound: fc.boolean(),
  pinned: fc.boolean(),
  target: fc.constantFrom<'own' | 'other' | 'none'>('own', 'own', 'own', 'other', 'none'),
  phase: fc.constantFrom<'Pending' | 'Running' | 'Succeeded' | 'Failed'>(
    'Pending',
    'Running',
    'Running',
    'Succeeded',
    'Failed',
  ),
  ready: fc.boolean(),
  deleting: fc.boolean(),
  oldHash: fc.boolean(),
});

const scenarioArb = fc.record({
  nodes: nodesArb,
  ds: dsArb,
  pods: fc.array(podSpecArb, { maxLength: 16 }),
});

type PodSpec = typeof podSpecArb extends fc.Arbitrary<infer T> ? T : never;

function makePods(ds: V1DaemonSet, specs: PodSpec[], now: number): V1Pod[] {
  return specs.map((s, i) => {
    const nodeName = `node-${s.node}`;
    const opts: PodOptions = {
      bound: s.bound,
      pinned: s.pinned,
      target: s.target === 'own' ? nodeName : s.target === 'other' ? `node-${(s.node + 1) % 9}` : null,
      phase: s.phase,
      readySince: s.ready && s.phase === 'Running' ? now - HOUR : undefined,
      deleting: s.deleting,
      created: now - 10 * HOUR + i * 1000,
    };
    if (s.oldHash) opts.hash = 'old-hash';
    return pod(ds, nodeName, opts);
  });
}

// ---- the world between syncs --------------------------------------------------

/** Kubelets finish terminating pods, pods start and turn Ready, an hour passes (backoffs expire). */
function worldStep(cluster: Cluster): void {
  cluster.pods = cluster.pods.filter((p) => !isTerminating(p));
  for (const p of cluster.pods) {
    const phase = p.status?.phase;
    if ((phase === 'Pending' || phase === 'Running') && !isPodAvailable(p, 0, cluster.now))
      markReady(p, cluster.now);
  }
  cluster.now += HOUR;
}

// ---- checks ---------------------------------------------------------------------

/** The node a live pod is placed on, for a cluster in a settled state (bound, or pinned). */
const placedOn = (p: V1Pod): string | undefined => pinnedNodeOf(p);

function assertSafePlan(plan: Plan, cluster: Cluster, allowSurge: boolean): void {
  const seen = new Set<string>();
  for (const c of plan.creates) {
    const n = cluster.nodes.find((x) => x.metadata?.name === c.nodeName);
    expect(n, `create on a node that does not exist: ${c.nodeName}`).toBeDefined();
    expect(nodeShouldRunDaemonPod(n!, cluster.ds).shouldRun).toBe(true);
    expect(seen.has(c.nodeName), `two creates for ${c.nodeName}`).toBe(false);
    seen.add(c.nodeName);
    expect(c.pod.spec?.nodeName).toBeUndefined();
    expect(pinnedNodeOf(c.pod)).toBe(c.nodeName);
    expect(c.pod.metadata?.annotations?.[TARGET_NODE_ANNOTATION]).toBe(c.nodeName);
    expect(c.pod.metadata?.labels?.[MANAGED_LABEL]).toBe('true');
    if (!allowSurge) {
      const live = cluster.pods.filter((p) => !isTerminating(p) && placedOn(p) === c.nodeName);
      // Without surge a node gets a pod only when it has none left (unpinned ones are deleted in the same plan).
      const deleted = new Set(plan.deletes.map((d) => d.uid));
      expect(live.filter((p) => !deleted.has(p.metadata!.uid!))).toEqual([]);
    }
  }
  const uids = plan.deletes.map((d) => d.uid);
  expect(new Set(uids).size).toBe(uids.length);
  for (const d of plan.deletes) {
    const p = cluster.pods.find((x) => x.metadata?.uid === d.uid);
    expect(p, `delete of an unknown pod ${d.name}`).toBeDefined();
    expect(isTerminating(p!)).toBe(false);
  }
}

function assertConverged(cluster: Cluster, rolling: boolean): void {
  const hash = cluster.currentHash();
  for (const n of cluster.nodes) {
    const name = n.metadata!.name!;
    const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(n, cluster.ds);
    const here = cluster.pods.filter((p) => placedOn(p) === name);
    if (shouldRun) {
      expect(here, `node ${name} should run exactly one pod`).toHaveLength(1);
      expect(here[0]!.status?.phase).toBe('Running');
      if (rolling) expect(isPodUpdated(here[0]!, hash, undefined)).toBe(true);
    } else if (!shouldContinueRunning) {
      expect(here, `node ${name} should run no pod`).toEqual([]);
    } else {
      expect(here.length).toBeLessThanOrEqual(1);
    }
  }
  // Unbound pods only remain pinned to nodes that exist; bound ones on vanished nodes are PodGC's.
  const names = new Set(cluster.nodes.map((n) => n.metadata!.name!));
  for (const p of cluster.pods) {
    if (!p.spec?.nodeName) expect(names.has(placedOn(p) ?? '')).toBe(true);
  }
  const again = planDaemonSet(cluster.snapshot());
  expect(again.creates).toEqual([]);
  expect(again.deletes).toEqual([]);
}

const isSurge = (ds: V1DaemonSet) => (ds.spec?.updateStrategy?.rollingUpdate?.maxSurge ?? 0) !== 0;

/**
 * Syncs a rollout may take: up to 3 (replace, start, turn available) per batch of maxSurge or
 * maxUnavailable nodes, counting every node that should run a pod or has one (old pods bound to
 * nodes that are gone are rolled away too).
 */
function rolloutSyncs(cluster: Cluster): number {
  if (cluster.ds.spec?.updateStrategy?.type !== 'RollingUpdate') return 0;
  const ctx = buildSyncContext(cluster.snapshot(), 'unused');
  const { maxUnavailable, maxSurge } = rolloutLimits(ctx);
  const inPlay = new Set([
    ...cluster.nodes
      .filter((n) => nodeShouldRunDaemonPod(n, cluster.ds).shouldRun)
      .map((n) => n.metadata!.name!),
    ...ctx.pods.byNode.keys(),
  ]);
  return 3 * Math.ceil(inPlay.size / Math.max(1, maxSurge > 0 ? maxSurge : maxUnavailable));
}

describe('planning converges', () => {
  it('to one pod per eligible node from any starting pods', () => {
    fc.assert(
      fc.property(scenarioArb, ({ nodes: nodeList, ds, pods }) => {
        const cluster = new Cluster(ds, nodeList);
        cluster.pods = makePods(ds, pods, cluster.now);
        // Each node loses at most one failed pod per sync (the backoff); placement settles within 3 syncs;
        // pods with an old hash under RollingUpdate add a rollout of at most 3 syncs per batch.
        const failedPerNode = Math.max(
          0,
          ...nodeList.map(
            (n) => pods.filter((p) => `node-${p.node}` === n.metadata!.name && p.phase === 'Failed').length,
          ),
        );
        const rounds = 3 + failedPerNode + rolloutSyncs(cluster);
        for (let i = 0; i < rounds; i++) {
          const plan = planDaemonSet(cluster.snapshot());
          assertSafePlan(plan, cluster, isSurge(ds));
          cluster.apply(plan);
          worldStep(cluster);
        }
        assertConverged(cluster, false);
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  it('through a rollout, within the unavailability budget, in a bounded number of syncs', () => {
    fc.assert(
      fc.property(nodesArb, dsArb, (nodeList, ds) => {
        fc.pre(ds.spec!.updateStrategy!.type === 'RollingUpdate');
        const cluster = new Cluster(ds, nodeList);
        for (let i = 0; i < 3; i++) {
          cluster.apply(planDaemonSet(cluster.snapshot()));
          worldStep(cluster);
        }
        setImage(cluster.ds, 'foo/bar:2');
        const { maxUnavailable, maxSurge, desired } = rolloutLimits(
          buildSyncContext(cluster.snapshot(), 'unused'),
        );
        const rounds = rolloutSyncs(cluster) + 1;
        for (let i = 0; i < rounds; i++) {
          const plan = planDaemonSet(cluster.snapshot());
          assertSafePlan(plan, cluster, maxSurge > 0);
          cluster.apply(plan);
          // Sample availability right after the plan is carried out, before new pods turn Ready.
          const available = cluster.nodes.filter((n) => {
            if (!nodeShouldRunDaemonPod(n, cluster.ds).shouldRun) return false;
            return cluster.pods.some(
              (p) => placedOn(p) === n.metadata!.name && isPodAvailable(p, 0, cluster.now),
            );
          }).length;
          if (maxSurge > 0) expect(available).toBe(desired);
          else expect(desired - available).toBeLessThanOrEqual(maxUnavailable);
          worldStep(cluster);
        }
        assertConverged(cluster, true);
      }),
      { numRuns: 300 },
    );
  }, 60_000);
});
