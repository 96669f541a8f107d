// planDaemonSet: the sync behaviours of upstream's daemon_controller_test.go,
// asserted on the plan (creates, deletes, events, status).
import { describe, expect, it } from 'vitest';
import { planDaemonSet } from '../../../src/controller/plan.ts';
import { pinnedNodeOf } from '../../../src/contract/daemon-pod.ts';
import {
  Cluster,
  NOW,
  counts,
  createdNodes,
  daemonSet,
  deletedNames,
  node,
  nodes,
  onDelete,
  pod,
  rollingUpdate,
  simpleNodeLabel,
  snapshot,
  surge,
  withNodeSelector,
  withRequiredAffinity,
  withTolerations,
} from './fixtures.ts';

const strategies = [
  ['OnDelete', onDelete],
  ['RollingUpdate', rollingUpdate()],
] as const;

describe.each(strategies)('launching pods (%s)', (_name, strategy) => {
  it('launches one pod per node (TestSimpleDaemonSetLaunchesPods)', () => {
    const plan = planDaemonSet(snapshot(daemonSet('foo', strategy), nodes(5)));
    expect(createdNodes(plan)).toEqual(['node-0', 'node-1', 'node-2', 'node-3', 'node-4']);
    expect(plan.deletes).toEqual([]);
    for (const c of plan.creates) {
      expect(pinnedNodeOf(c.pod)).toBe(c.nodeName);
      expect(c.pod.spec?.nodeName).toBeUndefined();
      expect(c.pod.metadata?.labels?.['controller-revision-hash']).toBe(plan.history.current.hash);
      expect(c.pod.metadata?.labels?.['pod-template-generation']).toBe('1');
    }
  });

  it('does nothing without nodes (TestNoNodesDoesNothing)', () => {
    const plan = planDaemonSet(snapshot(daemonSet('foo', strategy), []));
    expect(counts(plan)).toEqual({ creates: 0, deletes: 0 });
    expect(plan.status?.desiredNumberScheduled).toBe(0);
  });

  it('launches on the only node (TestOneNodeDaemonLaunchesPod)', () => {
    expect(createdNodes(planDaemonSet(snapshot(daemonSet('foo', strategy), nodes(1))))).toEqual(['node-0']);
  });

  it('creates where missing and removes excess pods, keeping the oldest (TestDealsWithExistingPods)', () => {
    const ds = daemonSet('foo', strategy);
    const pods = [
      pod(ds, 'node-1'),
      pod(ds, 'node-2'),
      pod(ds, 'node-2'),
      ...[1, 2, 3, 4, 5].map((i) => pod(ds, 'node-3', { created: NOW - i * 1000 })),
    ];
    const plan = planDaemonSet(snapshot(ds, nodes(5), pods));
    expect(createdNodes(plan)).toEqual(['node-0', 'node-4']);
    expect(plan.deletes.filter((d) => d.nodeName === 'node-2')).toHaveLength(1);
    const node3 = plan.deletes.filter((d) => d.nodeName === 'node-3').map((d) => d.name);
    expect(node3).toHaveLength(4);
    // The oldest (created NOW-5000, the last built) survives.
    expect(node3).not.toContain(pods[7]!.metadata!.name);
    expect(new Set(plan.deletes.map((d) => d.reason))).toEqual(new Set(['excess']));
  });

  it('keeps a bound pod over an older unbound one', () => {
    const ds = daemonSet('foo', strategy);
    const unbound = pod(ds, 'node-0', { bound: false, created: NOW - 9000 });
    const bound = pod(ds, 'node-0', { created: NOW - 1000 });
    expect(deletedNames(planDaemonSet(snapshot(ds, nodes(1), [unbound, bound])))).toEqual([
      unbound.metadata!.name,
    ]);
  });

  it('respects terminating pods: no replacement until they are gone (TestDaemonSetRespectsTermination)', () => {
    const ds = daemonSet('foo', strategy);
    const plan = planDaemonSet(snapshot(ds, nodes(1), [pod(ds, 'node-0', { deleting: true })]));
    expect(counts(plan)).toEqual({ creates: 0, deletes: 0 });
  });

  it('ignores terminal pods that are being deleted (TestGetNodesToDaemonPods)', () => {
    const ds = daemonSet('foo', strategy);
    const plan = planDaemonSet(
      snapshot(ds, nodes(1), [pod(ds, 'node-0', { phase: 'Succeeded', deleting: true })]),
    );
    expect(createdNodes(plan)).toEqual(['node-0']);
  });
});

describe('placement in a sync', () => {
  it('launches only on nodes matching the nodeSelector and deletes pods elsewhere (TestSelectorDaemonDeletesUnselectedPods)', () => {
    const ds = withNodeSelector(daemonSet(), simpleNodeLabel);
    const nodeList = [...nodes(2), ...nodes(2, { labels: simpleNodeLabel }, 2)];
    const misplaced = pod(ds, 'node-0');
    const plan = planDaemonSet(snapshot(ds, nodeList, [misplaced, pod(ds, 'node-2')]));
    expect(createdNodes(plan)).toEqual(['node-3']);
    expect(plan.deletes).toEqual([
      {
        name: misplaced.metadata!.name,
        uid: misplaced.metadata!.uid,
        nodeName: 'node-0',
        reason: 'misscheduled',
      },
    ]);
    expect(plan.status?.numberMisscheduled).toBe(1);
  });

  it('launches on nodes selected by required node affinity (TestNodeAffinityDaemonLaunchesPods)', () => {
    const ds = withRequiredAffinity(daemonSet(), [
      { matchExpressions: [{ key: 'color', operator: 'In', values: ['blue'] }] },
    ]);
    const nodeList = [...nodes(4), ...nodes(3, { labels: simpleNodeLabel }, 4)];
    expect(createdNodes(planDaemonSet(snapshot(ds, nodeList)))).toEqual(['node-4', 'node-5', 'node-6']);
  });

  it('launches on the one node the template names (TestNameDaemonSetLaunchesPods)', () => {
    const ds = daemonSet();
    ds.spec!.template.spec!.nodeName = 'node-0';
    expect(createdNodes(planDaemonSet(snapshot(ds, nodes(3))))).toEqual(['node-0']);
  });

  it('launches nothing when the template names a node that does not exist (TestBadNameDaemonSetDoesNothing)', () => {
    const ds = daemonSet();
    ds.spec!.template.spec!.nodeName = 'node-10';
    expect(counts(planDaemonSet(snapshot(ds, nodes(3))))).toEqual({ creates: 0, deletes: 0 });
  });

  it('does not launch on a NoSchedule-tainted node without toleration, and keeps the pod already there', () => {
    const ds = daemonSet();
    const tainted = node('tainted', { taints: [{ key: 'dedicated', value: 'user1', effect: 'NoSchedule' }] });
    expect(counts(planDaemonSet(snapshot(ds, [tainted])))).toEqual({ creates: 0, deletes: 0 });
    const plan = planDaemonSet(snapshot(ds, [tainted], [pod(ds, 'tainted')]));
    expect(counts(plan)).toEqual({ creates: 0, deletes: 0 });
    expect(plan.status?.numberMisscheduled).toBe(1);
  });

  it('evicts from a NoExecute-tainted node (TestTaintedNodeDaemonDoesNotLaunchIntolerantPods, NoExecute)', () => {
    const ds = daemonSet();
    const tainted = node('tainted', { taints: [{ key: 'dedicated', value: 'user1', effect: 'NoExecute' }] });
    const p = pod(ds, 'tainted');
    expect(planDaemonSet(snapshot(ds, [tainted], [p])).deletes).toEqual([
      { name: p.metadata!.name, uid: p.metadata!.uid, nodeName: 'tainted', reason: 'misscheduled' },
    ]);
  });

  it('launches pods that tolerate the taint (TestTaintedNodeDaemonLaunchesToleratePods)', () => {
    const ds = withTolerations(daemonSet(), [{ key: 'dedicated', value: 'user1', effect: 'NoSchedule' }]);
    const tainted = node('tainted', { taints: [{ key: 'dedicated', value: 'user1', effect: 'NoSchedule' }] });
    expect(createdNodes(planDaemonSet(snapshot(ds, [tainted])))).toEqual(['tainted']);
  });

  it('deletes unscheduled pods pinned to a node that is gone, leaves bound ones to PodGC (TestDeleteUnscheduledPodForNotExistingNode)', () => {
    const ds = daemonSet();
    const unbound = pod(ds, 'node-gone', { bound: false });
    const bound = pod(ds, 'node-gone-2');
    const plan = planDaemonSet(snapshot(ds, nodes(1), [pod(ds, 'node-0'), unbound, bound]));
    expect(plan.deletes).toEqual([
      {
        name: unbound.metadata!.name,
        uid: unbound.metadata!.uid,
        nodeName: 'node-gone',
        reason: 'node-gone',
      },
    ]);
  });
});

describe('failed and succeeded pods', () => {
  it.each([
    // TestDaemonKillFailedPods
    { failed: 0, normal: 1, creates: 0, deletes: 0, events: 0, name: 'normal (do nothing)' },
    { failed: 0, normal: 0, creates: 1, deletes: 0, events: 0, name: 'no pods (create 1)' },
    {
      failed: 1,
      normal: 0,
      creates: 0,
      deletes: 1,
      events: 1,
      name: '1 failed pod (kill 1), created again next sync',
    },
    {
      failed: 1,
      normal: 3,
      creates: 0,
      deletes: 3,
      events: 1,
      name: '1 failed pod (kill 1), 3 normal pods (kill 2)',
    },
    // One failed pod per node per backoff period: the second waits (upstream dropped its "kill 2" row for that reason).
    {
      failed: 2,
      normal: 1,
      creates: 0,
      deletes: 1,
      events: 1,
      name: '2 failed pods (kill 1, the other waits)',
    },
  ])('$name', ({ failed, normal, creates, deletes, events }) => {
    for (const [, strategy] of strategies) {
      const ds = daemonSet('foo', strategy);
      const pods = [
        ...Array.from({ length: failed }, () => pod(ds, 'node-0', { phase: 'Failed' })),
        ...Array.from({ length: normal }, () => pod(ds, 'node-0')),
      ];
      const plan = planDaemonSet(snapshot(ds, nodes(1, { labels: simpleNodeLabel }), pods));
      expect(counts(plan)).toEqual({ creates, deletes });
      expect(plan.events).toHaveLength(events);
      for (const e of plan.events) {
        expect(e).toMatchObject({ type: 'Warning', reason: 'FailedDaemonPod' });
        expect(e.message).toMatch(
          /^Found failed daemon pod default\/node-0-\d+ on node node-0, will try to kill it$/,
        );
      }
    }
  });

  it('backs off between kills of failed pods on a node (TestDaemonKillFailedPodsBackoff)', () => {
    const ds = daemonSet();
    ds.status!.observedGeneration = 1;
    const failed = pod(ds, 'node-0', { phase: 'Failed' });
    const key = 'ds-uid-foo/1/node-0';

    const first = planDaemonSet(snapshot(ds, nodes(1), [failed]));
    expect(counts(first)).toEqual({ creates: 0, deletes: 1 });
    expect(first.backoffUpdates).toEqual([{ key, entry: { durationMs: 1000, lastUpdateMs: NOW } }]);

    const backoff = new Map(first.backoffUpdates.map((u) => [u.key, u.entry]));
    const limited = planDaemonSet(
      snapshot(ds, nodes(1), [failed], { failedPodBackoff: backoff, now: NOW + 400 }),
    );
    expect(counts(limited)).toEqual({ creates: 0, deletes: 0 });
    expect(limited.events).toEqual([]);
    expect(limited.backoffUpdates).toEqual([]);
    expect(limited.requeueAfterMs).toBe(600);

    const justBefore = planDaemonSet(
      snapshot(ds, nodes(1), [failed], { failedPodBackoff: backoff, now: NOW + 999 }),
    );
    expect(justBefore.deletes).toEqual([]);

    const after = planDaemonSet(
      snapshot(ds, nodes(1), [failed], { failedPodBackoff: backoff, now: NOW + 1000 }),
    );
    expect(counts(after)).toEqual({ creates: 0, deletes: 1 });
    expect(after.backoffUpdates).toEqual([{ key, entry: { durationMs: 2000, lastUpdateMs: NOW + 1000 } }]);
  });

  it('doubles the backoff up to 15 minutes and forgets it after 30 quiet minutes', () => {
    const ds = daemonSet();
    const failed = pod(ds, 'node-0', { phase: 'Failed' });
    const key = 'ds-uid-foo/0/node-0';
    const planAt = (now: number, entry: { durationMs: number; lastUpdateMs: number }) =>
      planDaemonSet(snapshot(ds, nodes(1), [failed], { now, failedPodBackoff: new Map([[key, entry]]) }))
        .backoffUpdates;
    expect(planAt(NOW, { durationMs: 600_000, lastUpdateMs: NOW - 600_000 })).toEqual([
      { key, entry: { durationMs: 900_000, lastUpdateMs: NOW } },
    ]);
    expect(planAt(NOW, { durationMs: 900_000, lastUpdateMs: NOW - 1_800_001 })).toEqual([
      { key, entry: { durationMs: 1000, lastUpdateMs: NOW } },
    ]);
  });

  it('deletes succeeded pods with a Normal event', () => {
    const ds = daemonSet();
    const done = pod(ds, 'node-0', { phase: 'Succeeded' });
    const plan = planDaemonSet(snapshot(ds, nodes(1), [done]));
    expect(deletedNames(plan)).toEqual([done.metadata!.name]);
    expect(plan.events).toEqual([
      {
        type: 'Normal',
        reason: 'SucceededDaemonPod',
        message: `Found succeeded daemon pod default/${done.metadata!.name} on node node-0, will try to delete it`,
      },
    ]);
  });
});

describe('unpinned pods (everynode: the webhook was bypassed)', () => {
  it('deletes an unbound pod without the pinning affinity and creates a pinned replacement in the same plan', () => {
    const ds = daemonSet();
    const unpinned = pod(ds, 'node-0', { bound: false, pinned: false });
    const plan = planDaemonSet(snapshot(ds, nodes(2), [unpinned, pod(ds, 'node-1')]));
    expect(plan.deletes).toEqual([
      { name: unpinned.metadata!.name, uid: unpinned.metadata!.uid, nodeName: 'node-0', reason: 'unpinned' },
    ]);
    expect(createdNodes(plan)).toEqual(['node-0']);
    expect(plan.events).toEqual([
      {
        type: 'Warning',
        reason: 'UnpinnedDaemonPod',
        message: `Found daemon pod default/${unpinned.metadata!.name} without node pinning for node node-0: the pinning webhook was bypassed, will delete it and create a pinned replacement`,
      },
    ]);
  });

  it('deletes an unbound pod pinned to a node other than its target', () => {
    const ds = daemonSet();
    const wrong = pod(ds, 'node-1', { bound: false, target: 'node-0' });
    const plan = planDaemonSet(snapshot(ds, nodes(2), [wrong, pod(ds, 'node-1')]));
    expect(plan.deletes.map((d) => [d.name, d.reason, d.nodeName])).toEqual([
      [wrong.metadata!.name, 'unpinned', 'node-0'],
    ]);
    expect(createdNodes(plan)).toEqual(['node-0']);
  });

  it('deletes a controlled unbound pod that has neither pinning nor a target', () => {
    const ds = daemonSet();
    const stray = pod(ds, 'node-0', { bound: false, pinned: false, target: null });
    const plan = planDaemonSet(snapshot(ds, nodes(1), [stray, pod(ds, 'node-0')]));
    expect(plan.deletes.map((d) => d.reason)).toEqual(['unpinned']);
    expect(plan.events[0]?.message).toContain('without node pinning for any node');
  });

  it('judges a bound pod by its nodeName, pinned or not', () => {
    const ds = daemonSet();
    const bound = pod(ds, 'node-0', { pinned: false, target: 'node-1' });
    const plan = planDaemonSet(snapshot(ds, nodes(2), [bound]));
    expect(plan.deletes).toEqual([]);
    expect(createdNodes(plan)).toEqual(['node-1']);
  });

  it('accepts pinned pods without the annotation (made by the built-in controller)', () => {
    const ds = daemonSet();
    const plan = planDaemonSet(snapshot(ds, nodes(1), [pod(ds, 'node-0', { bound: false, target: null })]));
    expect(counts(plan)).toEqual({ creates: 0, deletes: 0 });
  });

  it('leaves unpinned pods that are already terminating alone', () => {
    const ds = daemonSet();
    const plan = planDaemonSet(
      snapshot(ds, nodes(1), [pod(ds, 'node-0', { bound: false, pinned: false, deleting: true })]),
    );
    expect(plan.deletes).toEqual([]);
    expect(plan.events).toEqual([]);
  });
});

describe('syncDaemonSet gates', () => {
  it('creates nothing while expectations are unsatisfied, but still reports status without observedGeneration', () => {
    const ds = daemonSet();
    ds.metadata!.generation = 2;
    ds.status!.observedGeneration = 1;
    const plan = planDaemonSet(
      snapshot(ds, nodes(3), [pod(ds, 'node-0', { readySince: NOW - 1000 })], {
        expectationsSatisfied: false,
      }),
    );
    expect(counts(plan)).toEqual({ creates: 0, deletes: 0 });
    expect(plan.status).toMatchObject({
      desiredNumberScheduled: 3,
      currentNumberScheduled: 1,
      numberReady: 1,
      observedGeneration: 1,
    });
    expect(plan.history.deleteOld).toEqual([]);
  });

  it('still snapshots history while expectations are unsatisfied (constructHistory runs first)', () => {
    const plan = planDaemonSet(snapshot(daemonSet(), nodes(1), [], { expectationsSatisfied: false }));
    expect(plan.history.create).toBeDefined();
  });

  it('caps creates and deletes at the burst (burstReplicas)', () => {
    const cluster = new Cluster(daemonSet(), nodes(7), { burst: 3 });
    expect(counts(cluster.sync())).toEqual({ creates: 3, deletes: 0 });
    expect(counts(cluster.sync())).toEqual({ creates: 3, deletes: 0 });
    expect(counts(cluster.sync())).toEqual({ creates: 1, deletes: 0 });
    expect(counts(cluster.sync())).toEqual({ creates: 0, deletes: 0 });
  });

  it('refuses an empty selector with a SelectingAll warning', () => {
    const ds = daemonSet();
    ds.spec!.selector = {};
    const plan = planDaemonSet(snapshot(ds, nodes(2)));
    expect(plan.skipped).toBe('selecting-all');
    expect(plan.events).toEqual([
      {
        type: 'Warning',
        reason: 'SelectingAll',
        message: 'This daemon set is selecting all pods. A non-empty selector is required.',
      },
    ]);
    expect(counts(plan)).toEqual({ creates: 0, deletes: 0 });
    expect(plan.status).toBeUndefined();
    expect(plan.history.create).toBeUndefined();
  });

  it('leaves a DaemonSet that is being deleted alone', () => {
    const ds = daemonSet();
    ds.metadata!.deletionTimestamp = new Date(NOW);
    const plan = planDaemonSet(snapshot(ds, nodes(2), [pod(ds, 'node-0', { phase: 'Failed' })]));
    expect(plan.skipped).toBe('deleting');
    expect(counts(plan)).toEqual({ creates: 0, deletes: 0 });
    expect(plan.status).toBeUndefined();
    expect(plan.events).toEqual([]);
    expect(plan.history.create).toBeUndefined();
  });

  it('stops on a hash collision: no pods, no status; the next sync hashes with the bumped count', () => {
    const cluster = new Cluster(daemonSet(), nodes(2));
    const plan = planDaemonSet(cluster.snapshot());
    // Someone else's revision already holds the name this template hashes to.
    cluster.revisions.push({
      ...plan.history.create!,
      data: { spec: { template: { $patch: 'replace', spec: { containers: [] } } } },
    });
    const collided = cluster.sync();
    expect(collided.skipped).toBe('collision');
    expect(collided.history.collision).toBe(true);
    expect(counts(collided)).toEqual({ creates: 0, deletes: 0 });
    expect(collided.status).toBeUndefined();
    const retried = cluster.sync();
    expect(retried.history.current.name).not.toBe(plan.history.current.name);
    expect(retried.history.create?.metadata?.name).toBe(retried.history.current.name);
    expect(counts(retried)).toEqual({ creates: 2, deletes: 0 });
  });
});

describe('status (updateDaemonSetStatus)', () => {
  it('counts desired, current, ready, available, updated and misscheduled pods (TestNumberReadyStatus)', () => {
    const ds = daemonSet();
    ds.spec!.minReadySeconds = 10;
    ds.spec!.template.spec!.nodeSelector = { run: 'yes' };
    const cluster = new Cluster(ds, [...nodes(4, { labels: { run: 'yes' } }), node('other')]);
    cluster.sync();
    const hash = cluster.currentHash();
    const [p0, p1, p2] = cluster.pods;
    cluster.pods = [p0!, p1!, p2!, pod(ds, 'other', { hash })];
    cluster.pods[0]!.status = {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(NOW - 60_000) }],
    };
    cluster.pods[1]!.status = {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(NOW - 5_000) }],
    };
    const plan = cluster.sync();
    expect(plan.status).toMatchObject({
      desiredNumberScheduled: 4,
      currentNumberScheduled: 3,
      numberReady: 2,
      numberAvailable: 1,
      numberUnavailable: 3,
      updatedNumberScheduled: 3,
      numberMisscheduled: 1,
      observedGeneration: 1,
    });
    // Ready but not yet available: sync again when the pod passes minReadySeconds (5 s from now), not later.
    expect(plan.requeueAfterMs).toBe(5_001);
  });

  it('uses the oldest pod of a node for its counts', () => {
    const ds = daemonSet('foo', surge(1));
    const oldReady = pod(ds, 'node-0', { hash: 'old', readySince: NOW - 1000, created: NOW - 9000 });
    const newNotReady = pod(ds, 'node-0', { created: NOW - 1000 });
    const plan = planDaemonSet(snapshot(ds, nodes(1), [oldReady, newNotReady]));
    expect(plan.status).toMatchObject({
      currentNumberScheduled: 1,
      numberReady: 1,
      updatedNumberScheduled: 0,
    });
  });

  it('sets observedGeneration to the generation it acted on (TestObservedGeneration)', () => {
    const ds = daemonSet();
    ds.metadata!.generation = 3;
    const hash = planDaemonSet(snapshot(ds, nodes(1))).history.current.hash;
    expect(
      planDaemonSet(snapshot(ds, nodes(1), [pod(ds, 'node-0', { hash })])).status?.observedGeneration,
    ).toBe(3);
  });

  it('writes nothing when the counters and observedGeneration are already right, and keeps fields it does not own', () => {
    const ds = daemonSet();
    const cluster = new Cluster(ds, nodes(2));
    cluster.ds.status = {
      ...cluster.ds.status!,
      collisionCount: 4,
      conditions: [{ type: 'Custom', status: 'True' }],
    };
    cluster.sync();
    cluster.markPodsReady(NOW - 1000);
    const written = cluster.sync().status;
    expect(written).toMatchObject({
      numberReady: 2,
      collisionCount: 4,
      conditions: [{ type: 'Custom', status: 'True' }],
    });
    expect(cluster.sync().status).toBeUndefined();
  });
});

describe('surge in manage (TestSurgeDealsWithExistingPods and friends)', () => {
  const hashOf = (ds: ReturnType<typeof daemonSet>) => planDaemonSet(snapshot(ds, [])).history.current.hash;

  it('keeps an old and a new pod while the new one is not available', () => {
    const ds = daemonSet('foo', surge(1));
    const hash = hashOf(ds);
    const plan = planDaemonSet(
      snapshot(ds, nodes(1), [
        pod(ds, 'node-0', { hash: 'old', readySince: NOW - 1000 }),
        pod(ds, 'node-0', { hash }),
      ]),
    );
    expect(counts(plan)).toEqual({ creates: 0, deletes: 0 });
  });

  it('deletes the old pod once the new one is available', () => {
    const ds = daemonSet('foo', surge(1));
    const hash = hashOf(ds);
    const old = pod(ds, 'node-0', { hash: 'old', readySince: NOW - 1000 });
    const plan = planDaemonSet(
      snapshot(ds, nodes(1), [old, pod(ds, 'node-0', { hash, readySince: NOW - 10 })]),
    );
    expect(plan.deletes).toEqual([
      { name: old.metadata!.name, uid: old.metadata!.uid, nodeName: 'node-0', reason: 'surge-replaced' },
    ]);
  });

  it('deletes an old pod that is not ready in favour of the new one', () => {
    const ds = daemonSet('foo', surge(1));
    const hash = hashOf(ds);
    const old = pod(ds, 'node-0', { hash: 'old' });
    expect(deletedNames(planDaemonSet(snapshot(ds, nodes(1), [old, pod(ds, 'node-0', { hash })])))).toEqual([
      old.metadata!.name,
    ]);
  });

  it('keeps only the oldest of each kind', () => {
    const ds = daemonSet('foo', surge(1));
    const hash = hashOf(ds);
    const pods = [
      pod(ds, 'node-0', { hash: 'old', readySince: NOW, created: NOW - 9000 }),
      pod(ds, 'node-0', { hash: 'old', readySince: NOW, created: NOW - 8000 }),
      pod(ds, 'node-0', { hash, created: NOW - 7000 }),
      pod(ds, 'node-0', { hash, created: NOW - 6000 }),
    ];
    expect(deletedNames(planDaemonSet(snapshot(ds, nodes(1), pods)))).toEqual(
      [pods[1]!, pods[3]!].map((p) => p.metadata!.name).sort(),
    );
  });

  it('creates a pod while the only one terminates', () => {
    const ds = daemonSet('foo', surge(1));
    expect(
      createdNodes(planDaemonSet(snapshot(ds, nodes(1), [pod(ds, 'node-0', { deleting: true })]))),
    ).toEqual(['node-0']);
  });
});
