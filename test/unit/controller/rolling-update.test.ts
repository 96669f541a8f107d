// Rolling updates, after upstream's update_test.go. Each sync below is one
// planDaemonSet call whose plan the simulated cluster applies before the next.
//
// One deliberate difference in the sequences: upstream's unit tests use a fake
// pod control that observes its own deletes synchronously, so a sync in which
// manage deletes surge-replaced pods can go on to create the next surge pods.
// Against a real API server the deletes are not observed yet, expectations are
// unsatisfied and the rolling update waits for the next sync; the planner models
// that (no rolling update in a sync where manage changed anything), so where
// upstream's tests expect (creates N, deletes N) in one sync, these see
// (0, N) and then (N, 0).
import { describe, expect, it } from 'vitest';
import { planDaemonSet } from '../../../src/controller/plan.ts';
import { rolloutLimits, scaledValue } from '../../../src/controller/rolling-update.ts';
import { buildSyncContext } from '../../../src/controller/sync-context.ts';
import { isPodUpdated } from '../../../src/controller/pods.ts';
import {
  Cluster,
  NOW,
  counts,
  daemonSet,
  deletedNames,
  node,
  nodes,
  onDelete,
  pod,
  rollingUpdate,
  setImage,
  snapshot,
  surge,
  withTolerations,
  type Strategy,
} from './fixtures.ts';

/** Run syncs, marking every pod Ready where the script says `ready`, and collect (creates, deletes). */
function run(cluster: Cluster, script: ReadonlyArray<'sync' | 'ready'>): Array<[number, number]> {
  const seen: Array<[number, number]> = [];
  for (const step of script) {
    if (step === 'ready') cluster.markPodsReady();
    else {
      const c = counts(cluster.sync());
      seen.push([c.creates, c.deletes]);
    }
  }
  return seen;
}

/** A cluster of `n` nodes whose DaemonSet ran to completion with every pod Ready, then got a new image and `strategy`. */
function updatedCluster(n: number, strategy: Strategy, initial: Strategy = onDelete): Cluster {
  const cluster = new Cluster(daemonSet('foo', initial), nodes(n));
  expect(counts(cluster.sync())).toEqual({ creates: n, deletes: 0 });
  cluster.markPodsReady();
  setImage(cluster.ds, 'foo2/bar2');
  cluster.ds.spec!.updateStrategy = strategy;
  return cluster;
}

const allUpdated = (cluster: Cluster) => {
  const hash = cluster.currentHash();
  return cluster.pods.every((p) => isPodUpdated(p, hash, undefined));
};

describe('maxSurge = 0', () => {
  it('replaces maxUnavailable pods at a time (TestDaemonSetUpdatesPods)', () => {
    const cluster = updatedCluster(5, rollingUpdate(2));
    // prettier-ignore
    expect(run(cluster, ['sync', 'sync', 'ready', 'sync', 'sync', 'ready', 'sync', 'sync', 'ready', 'sync'])).toEqual([
      [0, 2], [2, 0], [0, 2], [2, 0], [0, 1], [1, 0], [0, 0],
    ]);
    expect(allUpdated(cluster)).toBe(true);
    expect(cluster.pods).toHaveLength(5);
  });

  it('does nothing when only the strategy changed (TestDaemonSetUpdatesNoTemplateChanged)', () => {
    const cluster = new Cluster(daemonSet('foo', onDelete), nodes(5));
    cluster.sync();
    cluster.markPodsReady();
    cluster.ds.spec!.updateStrategy = rollingUpdate(3);
    expect(counts(cluster.sync())).toEqual({ creates: 0, deletes: 0 });
  });

  it('waits while new pods are not ready (TestDaemonSetUpdatesWhenNewPodIsNotReady)', () => {
    const cluster = updatedCluster(5, rollingUpdate(3));
    expect(run(cluster, ['sync', 'sync', 'sync'])).toEqual([
      [0, 3],
      [3, 0],
      [0, 0],
    ]);
  });

  it('replaces old pods that are not available at once, outside the budget (TestDaemonSetUpdatesAllOldNotReadyPods)', () => {
    const cluster = updatedCluster(5, rollingUpdate(1));
    for (const p of cluster.pods.slice(0, 3)) p.status = { phase: 'Running' };
    const plan = cluster.sync();
    // Three unavailable old pods go regardless of maxUnavailable 1; no available one may follow.
    expect(counts(plan)).toEqual({ creates: 0, deletes: 3 });
    expect(new Set(plan.deletes.map((d) => d.reason))).toEqual(new Set(['rolling-update']));
  });

  it('uses the remaining budget on available old pods (TestDaemonSetUpdatesSomeOldPodsNotReady)', () => {
    const cluster = updatedCluster(5, rollingUpdate(3));
    cluster.pods[0]!.status = { phase: 'Running' };
    const plan = cluster.sync();
    expect(counts(plan)).toEqual({ creates: 0, deletes: 3 });
    expect(plan.deletes.map((d) => d.nodeName)).toContain('node-0');
  });

  it('never touches available pods while unavailable new pods use up the budget (TestDaemonSetUpdatesSaveOldHealthyPods)', () => {
    const cluster = updatedCluster(20, rollingUpdate(10));
    expect(run(cluster, ['sync', 'sync', 'sync'])).toEqual([
      [0, 10],
      [10, 0],
      [0, 0],
    ]);
    const readyOld = new Set(
      cluster.pods.filter((p) => p.status?.phase === 'Running').map((p) => p.metadata!.name),
    );
    expect(readyOld.size).toBe(10);
    setImage(cluster.ds, 'foo2/bar3');
    // The 10 pending pods are old now too and unavailable: they are replaced, the 10 healthy ones are kept.
    expect(run(cluster, ['sync', 'sync', 'sync'])).toEqual([
      [0, 10],
      [10, 0],
      [0, 0],
    ]);
    for (const name of readyOld) expect(cluster.pods.some((p) => p.metadata!.name === name)).toBe(true);
  });

  it('counts a pod with the current template generation as updated even with another hash', () => {
    const ds = daemonSet('foo', rollingUpdate(1));
    const plan = planDaemonSet(
      snapshot(ds, nodes(1), [
        pod(ds, 'node-0', { hash: 'legacy', generation: '1', readySince: NOW - 1000 }),
      ]),
    );
    expect(counts(plan)).toEqual({ creates: 0, deletes: 0 });
    expect(plan.status?.updatedNumberScheduled).toBe(1);
  });

  it('works through percentages (maxUnavailable 10% of 25 nodes rounds up to 3)', () => {
    const cluster = updatedCluster(25, rollingUpdate('10%'));
    expect(counts(cluster.sync())).toEqual({ creates: 0, deletes: 3 });
  });

  it('leaves OnDelete pods alone until deleted, then recreates them with the new template', () => {
    const cluster = updatedCluster(3, onDelete);
    expect(counts(cluster.sync())).toEqual({ creates: 0, deletes: 0 });
    cluster.pods.splice(0, 1);
    const plan = cluster.sync();
    expect(counts(plan)).toEqual({ creates: 1, deletes: 0 });
    expect(plan.creates[0]!.pod.spec!.containers[0]!.image).toBe('foo2/bar2');
    expect(plan.status?.updatedNumberScheduled).toBe(0);
  });
});

describe('maxSurge > 0', () => {
  it('surges maxSurge new pods, then retires the old ones (TestDaemonSetUpdatesPodsWithMaxSurge)', () => {
    const cluster = updatedCluster(5, surge(2));
    // prettier-ignore
    expect(run(cluster, [
      'sync', 'sync', 'ready',
      'sync', 'sync', 'sync', 'ready',
      'sync', 'sync', 'sync', 'ready',
      'sync', 'sync',
    ])).toEqual([
      [2, 0], [0, 0],
      [0, 2], [2, 0], [0, 0],
      [0, 2], [1, 0], [0, 0],
      [0, 1], [0, 0],
    ]);
    expect(allUpdated(cluster)).toBe(true);
    expect(cluster.pods).toHaveLength(5);
  });

  it('never has fewer available pods than desired during a surge rollout', () => {
    const cluster = updatedCluster(6, surge(2));
    for (let i = 0; i < 30 && !allUpdated(cluster); i++) {
      cluster.sync();
      const ready = cluster.pods.filter((p) => p.status?.phase === 'Running').length;
      expect(ready).toBeGreaterThanOrEqual(6);
      cluster.markPodsReady();
    }
    expect(allUpdated(cluster)).toBe(true);
  });

  it('creates a new pod at once where the old one is not available', () => {
    const cluster = updatedCluster(4, surge(1));
    cluster.pods[3]!.status = { phase: 'Running' };
    const plan = cluster.sync();
    // node-3's replacement is allowed outside the budget; node-0 is the one surge candidate.
    expect(plan.creates.map((c) => c.nodeName)).toEqual(['node-3', 'node-0']);
  });

  it('moves off a node that stops qualifying only once enough pods are available (PR #119317, TestDaemonSetUpdatesPodsNotMatchTainstWithMaxSurge)', () => {
    const controlPlane = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' as const };
    const ds = withTolerations(daemonSet('foo', surge(1)), [{ key: controlPlane.key, operator: 'Exists' }]);
    const cluster = new Cluster(ds, [node('node-0', { taints: [controlPlane] }), ...nodes(4, {}, 1)]);
    expect(counts(cluster.sync())).toEqual({ creates: 5, deletes: 0 });
    cluster.markPodsReady();
    const onControlPlane = cluster.podsOn('node-0')[0]!.metadata!.name;
    // The rollout drops the toleration: node-0 no longer qualifies (NoSchedule, so its pod may stay).
    cluster.ds.spec!.template.spec!.tolerations = undefined;
    setImage(cluster.ds, 'foo/bar');
    const first = cluster.sync();
    // 5 available for 4 desired: one surge pod, and node-0's pod may go.
    expect(counts(first)).toEqual({ creates: 1, deletes: 1 });
    expect(deletedNames(first)).toEqual([onControlPlane]);
    expect(first.deletes[0]!.reason).toBe('misscheduled');
    // prettier-ignore
    expect(run(cluster, ['sync', 'ready', 'sync', 'sync', 'ready', 'sync', 'sync', 'ready', 'sync', 'sync', 'ready', 'sync', 'sync'])).toEqual([
      [0, 0], [0, 1], [1, 0], [0, 1], [1, 0], [0, 1], [1, 0], [0, 1], [0, 0],
    ]);
    expect(cluster.podsOn('node-0')).toEqual([]);
    expect(cluster.pods).toHaveLength(4);
  });

  it('keeps the old pod on a node that stops qualifying while availability is only just met', () => {
    const controlPlane = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' as const };
    const ds = withTolerations(daemonSet('foo', surge(1)), [{ key: controlPlane.key, operator: 'Exists' }]);
    const cluster = new Cluster(ds, [node('node-0', { taints: [controlPlane] }), ...nodes(2, {}, 1)]);
    cluster.sync();
    cluster.markPodsReady();
    cluster.pods[1]!.status = { phase: 'Running' }; // node-1's pod is not available
    cluster.ds.spec!.template.spec!.tolerations = undefined;
    setImage(cluster.ds, 'foo/bar');
    const plan = cluster.sync();
    // 2 available (node-0, node-2) for 2 desired: node-0's pod stays for now.
    expect(plan.deletes).toEqual([]);
    expect(plan.creates.map((c) => c.nodeName)).toEqual(['node-1', 'node-2']);
  });

  it('deletes an unavailable old pod on a node that stops qualifying at once', () => {
    const ds = daemonSet('foo', surge(1));
    const tainted = node('node-0', { taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }] });
    const old = pod(ds, 'node-0', { hash: 'old' });
    const plan = planDaemonSet(
      snapshot(ds, [tainted, ...nodes(1, {}, 1)], [old, pod(ds, 'node-1', { readySince: NOW - 1000 })]),
    );
    expect(plan.deletes.map((d) => [d.name, d.reason])).toEqual([[old.metadata!.name, 'misscheduled']]);
  });
});

describe('rolloutLimits (TestGetUnavailableNumbers, SurgeCount, UnavailableCount)', () => {
  const limits = (strategy: Strategy, n: number) =>
    rolloutLimits(buildSyncContext(snapshot(daemonSet('foo', strategy), nodes(n)), 'h'));

  it.each<[string, Strategy, number, { maxSurge: number; maxUnavailable: number; desired: number }]>([
    ['no nodes', rollingUpdate(1), 0, { maxSurge: 0, maxUnavailable: 1, desired: 0 }],
    ['an integer', rollingUpdate(2), 5, { maxSurge: 0, maxUnavailable: 2, desired: 5 }],
    ['50% of 2', rollingUpdate('50%'), 2, { maxSurge: 0, maxUnavailable: 1, desired: 2 }],
    ['50% of 3 rounds up', rollingUpdate('50%'), 3, { maxSurge: 0, maxUnavailable: 2, desired: 3 }],
    [
      '0% unavailable, 10% surge of 5 rounds up',
      surge('10%'),
      5,
      { maxSurge: 1, maxUnavailable: 0, desired: 5 },
    ],
    [
      'both 0 fall back to maxUnavailable 1',
      rollingUpdate(0, 0),
      4,
      { maxSurge: 0, maxUnavailable: 1, desired: 4 },
    ],
    [
      '0% of few nodes is 0 → 1',
      rollingUpdate('0%', '0%'),
      3,
      { maxSurge: 0, maxUnavailable: 1, desired: 3 },
    ],
    ['100% surge', surge('100%'), 3, { maxSurge: 3, maxUnavailable: 0, desired: 3 }],
  ])('%s', (_name, strategy, n, expected) => {
    expect(limits(strategy, n)).toEqual(expected);
  });

  it('counts only nodes that should run a pod', () => {
    const ds = daemonSet('foo', rollingUpdate('50%'));
    ds.spec!.template.spec!.nodeSelector = { run: 'yes' };
    const ctx = buildSyncContext(
      snapshot(ds, [...nodes(4, { labels: { run: 'yes' } }), ...nodes(6, {}, 4)]),
      'h',
    );
    expect(rolloutLimits(ctx)).toEqual({ maxSurge: 0, maxUnavailable: 2, desired: 4 });
  });

  it('scaledValue follows intstr.GetScaledValueFromIntOrPercent', () => {
    expect(scaledValue(3, 10, true)).toBe(3);
    expect(scaledValue('25%', 10, true)).toBe(3);
    expect(scaledValue('25%', 10, false)).toBe(2);
    expect(scaledValue('3', 10, true)).toBe(0); // not a percentage: rejected upstream, 0 here
    expect(scaledValue(undefined, 10, true)).toBe(0);
  });
});
