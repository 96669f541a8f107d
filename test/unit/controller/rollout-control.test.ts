// Rollout control in the planner: partition, node selector, pause, waves with
// soak, progress deadline, auto-pause, invalid annotations, and the upstream
// gaps fixed for every DaemonSet (dead nodes, hostPort with maxSurge).
import type { V1DaemonSet, V1Node, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  AUTO_PAUSED,
  AUTO_PAUSE_ANNOTATION,
  NODE_SELECTOR_ANNOTATION,
  PARTITION_ANNOTATION,
  PAUSED_ANNOTATION,
  PROGRESS_DEADLINE_ANNOTATION,
  PROGRESSING,
  WAVE,
  WAVES_ANNOTATION,
  WAVE_SOAK_ANNOTATION,
  parseLabelSelector,
  parseRolloutSettings,
  partitionCount,
} from '../../../src/contract/rollout.ts';
import { planDaemonSet } from '../../../src/controller/plan.ts';
import type { Plan } from '../../../src/controller/types.ts';
import { NOW, daemonSet, iso, node, pod, rollingUpdate, snapshot, surge } from './fixtures.ts';

const ZONE = 'topology.kubernetes.io/zone';

/** A DaemonSet mid-update: every node runs an old-revision pod, Ready for an hour. */
function world(
  names: string[],
  annotations: Record<string, string> = {},
  opts: { strategy?: ReturnType<typeof rollingUpdate>; labels?: Record<string, Record<string, string>> } = {},
) {
  const ds: V1DaemonSet = daemonSet('foo', opts.strategy ?? rollingUpdate(10));
  Object.assign(ds.metadata!.annotations!, annotations);
  const nodeList = names.map((n) => node(n, { labels: opts.labels?.[n] ?? {} }));
  const pods = names.map((n) => pod(ds, n, { hash: 'old', readySince: NOW - 3_600_000 }));
  return { ds, nodeList, pods };
}

const deletedNodes = (plan: Plan) => plan.deletes.map((d) => d.nodeName).sort();
const createdNodes = (plan: Plan) => plan.creates.map((c) => c.nodeName).sort();
const conditionOf = (plan: Plan, type: string) => plan.status?.conditions?.find((c) => c.type === type);
const names4 = ['node-0', 'node-1', 'node-2', 'node-3'];

describe('annotations: parsing and the accepted forms', () => {
  it.each([
    ['3', 3, 10],
    ['0', 0, 4],
    ['25%', 1, 4],
    ['50%', 2, 3],
    ['100%', 4, 4],
    ['7', 4, 4],
  ])('partition %s of %i nodes keeps %i', (raw, kept, desired) => {
    const { settings, problems } = parseRolloutSettings({ [PARTITION_ANNOTATION]: raw });
    expect(problems).toEqual([]);
    expect(partitionCount(settings.partition, desired)).toBe(kept);
  });

  it.each([
    [PARTITION_ANNOTATION, 'abc', /number of nodes \("3"\) or a percentage/],
    [PARTITION_ANNOTATION, '150%', /0% to 100%/],
    [PAUSED_ANNOTATION, 'yes', /"true" or "false"/],
    [NODE_SELECTOR_ANNOTATION, 'a in (b', /label selector such as/],
    [WAVES_ANNOTATION, 'not a key!', /node label key/],
    [WAVE_SOAK_ANNOTATION, '-1', /whole number of seconds/],
    [PROGRESS_DEADLINE_ANNOTATION, '0', /at least 1/],
  ])('%s: "%s" is refused naming the accepted forms', (annotation, value, forms) => {
    const { problems } = parseRolloutSettings({ [annotation]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ annotation, value });
    expect(problems[0]!.message).toMatch(forms);
  });

  it('parses label selector strings as kubectl does', () => {
    expect(parseLabelSelector('pool=canary,zone in (a, b),tier!=db,gpu,!spot')).toEqual({
      matchLabels: { pool: 'canary' },
      matchExpressions: [
        { key: 'zone', operator: 'In', values: ['a', 'b'] },
        { key: 'tier', operator: 'NotIn', values: ['db'] },
        { key: 'gpu', operator: 'Exists' },
        { key: 'spot', operator: 'DoesNotExist' },
      ],
    });
  });
});

describe('partition', () => {
  it('keeps the partition on the old revision, updating nodes in name order', () => {
    const { ds, nodeList, pods } = world(names4, { [PARTITION_ANNOTATION]: '2' });
    const plan = planDaemonSet(snapshot(ds, nodeList, pods));
    expect(deletedNodes(plan)).toEqual(['node-0', 'node-1']);
  });

  it('counts the nodes already updated: lowering the partition continues the rollout', () => {
    const { ds, nodeList, pods } = world(names4, { [PARTITION_ANNOTATION]: '1' });
    // node-0 and node-1 already updated (available new pods).
    pods[0] = pod(ds, 'node-0', { readySince: NOW - 600_000 });
    pods[1] = pod(ds, 'node-1', { readySince: NOW - 600_000 });
    const plan = planDaemonSet(snapshot(ds, nodeList, pods));
    expect(deletedNodes(plan)).toEqual(['node-2']);
    expect(conditionOf(plan, PROGRESSING)).toMatchObject({
      status: 'True',
      reason: 'NewRevisionProgressing',
    });
  });

  it('reports NewRevisionAvailable once every node it may update is updated, naming the held nodes', () => {
    const { ds, nodeList, pods } = world(names4, { [PARTITION_ANNOTATION]: '25%' });
    for (const i of [0, 1, 2]) pods[i] = pod(ds, `node-${i}`, { readySince: NOW - 600_000 });
    const plan = planDaemonSet(snapshot(ds, nodeList, pods));
    expect(plan.deletes).toEqual([]);
    const c = conditionOf(plan, PROGRESSING)!;
    expect(c).toMatchObject({ status: 'True', reason: 'NewRevisionAvailable' });
    expect(c.message).toContain('1 node keeps the old revision');
  });
});

describe('node selector (canary pool)', () => {
  it('updates only the nodes the selector matches', () => {
    const labels = { 'node-1': { pool: 'canary' }, 'node-3': { pool: 'canary' } };
    const { ds, nodeList, pods } = world(names4, { [NODE_SELECTOR_ANNOTATION]: 'pool=canary' }, { labels });
    const plan = planDaemonSet(snapshot(ds, nodeList, pods));
    expect(deletedNodes(plan)).toEqual(['node-1', 'node-3']);
  });
});

describe('pause', () => {
  it('replaces nothing and creates no surge pod, but a node without a pod still gets one', () => {
    const { ds, nodeList, pods } = world(
      [...names4, 'node-4'],
      { [PAUSED_ANNOTATION]: 'true' },
      { strategy: surge(2) },
    );
    pods.pop(); // node-4 has no pod yet
    const plan = planDaemonSet(snapshot(ds, nodeList, pods));
    expect(plan.deletes).toEqual([]);
    expect(createdNodes(plan)).toEqual(['node-4']);
    expect(conditionOf(plan, PROGRESSING)).toMatchObject({ status: 'Unknown', reason: 'RolloutPaused' });
  });

  it('does not finish a surge step (delete the old pod beside an available new one) while paused', () => {
    const { ds, nodeList, pods } = world(['node-0'], { [PAUSED_ANNOTATION]: 'true' }, { strategy: surge(1) });
    pods.push(pod(ds, 'node-0', { readySince: NOW - 600_000 }));
    expect(planDaemonSet(snapshot(ds, nodeList, pods)).deletes).toEqual([]);
    ds.metadata!.annotations![PAUSED_ANNOTATION] = 'false';
    expect(deletedNodes(planDaemonSet(snapshot(ds, nodeList, pods)))).toEqual(['node-0']);
  });
});

describe('waves', () => {
  const labels = {
    'node-0': { [ZONE]: 'b' },
    'node-1': { [ZONE]: 'b' },
    'node-2': { [ZONE]: 'c' },
    'node-3': { [ZONE]: 'a' },
    'node-4': {},
  };
  const names5 = [...names4, 'node-4'];

  it('updates the smallest group first, ties by value: zone=a, then c, then b, unlabelled last', () => {
    const { ds, nodeList, pods } = world(names5, { [WAVES_ANNOTATION]: ZONE }, { labels });
    const plan = planDaemonSet(snapshot(ds, nodeList, pods));
    expect(deletedNodes(plan)).toEqual(['node-3']);
    expect(conditionOf(plan, WAVE)).toMatchObject({
      reason: 'WaveInProgress',
      message: `wave 1/4: ${ZONE}=a`,
    });
    expect(plan.events).toContainEqual(expect.objectContaining({ reason: 'WaveStarted' }));
  });

  it('starts the next wave only after the previous is available and has soaked', () => {
    const { ds, nodeList, pods } = world(
      names5,
      { [WAVES_ANNOTATION]: ZONE, [WAVE_SOAK_ANNOTATION]: '300' },
      { labels },
    );
    // wave 1 (node-3) updated, available for 100 s of the 300 s soak.
    pods[3] = pod(ds, 'node-3', { readySince: NOW - 100_000 });
    ds.status!.conditions = [
      { type: WAVE, status: 'True', reason: 'WaveInProgress', message: `wave 1/4: ${ZONE}=a` },
    ] as never;
    const soaking = planDaemonSet(snapshot(ds, nodeList, pods));
    expect(soaking.deletes).toEqual([]);
    expect(conditionOf(soaking, WAVE)?.reason).toBe('WaveSoaking');
    expect(soaking.requeueAfterMs).toBeGreaterThan(199_000);
    expect(soaking.requeueAfterMs).toBeLessThanOrEqual(200_002);
    expect(soaking.events).toContainEqual(expect.objectContaining({ reason: 'WaveCompleted' }));

    pods[3] = pod(ds, 'node-3', { readySince: NOW - 400_000 });
    const next = planDaemonSet(snapshot(ds, nodeList, pods));
    expect(deletedNodes(next)).toEqual(['node-2']);
    expect(conditionOf(next, WAVE)?.message).toBe(`wave 2/4: ${ZONE}=c`);
  });
});

describe('progress deadline', () => {
  it('restarts its clock on a resume', () => {
    const { ds, nodeList, pods } = world(['node-0', 'node-1'], { [PROGRESS_DEADLINE_ANNOTATION]: '60' });
    pods[0] = pod(ds, 'node-0', { created: NOW - 3_600_000 });
    const first = planDaemonSet(snapshot(ds, nodeList, pods));
    const rev = {
      ...first.history.create!,
      metadata: { ...first.history.create!.metadata, uid: 'r', creationTimestamp: iso(NOW - 3_600_000) },
    };
    // Paused for an hour, then resumed: no stall reported at once.
    ds.status!.conditions = [
      {
        type: PROGRESSING,
        status: 'Unknown',
        reason: 'RolloutPaused',
        message: `revision ${rev.metadata.name}: paused`,
        lastTransitionTime: iso(NOW - 3_600_000),
      },
    ] as never;
    const resumed = planDaemonSet(snapshot(ds, nodeList, pods, { revisions: [rev] as never }));
    expect(conditionOf(resumed, PROGRESSING)?.reason).toBe('NewRevisionProgressing');
    expect(resumed.events.filter((e) => e.reason === 'ProgressDeadlineExceeded')).toEqual([]);
  });

  it('reports ProgressDeadlineExceeded with a Warning once no updated pod became available for N s', () => {
    const { ds, nodeList, pods } = world(['node-0', 'node-1'], { [PROGRESS_DEADLINE_ANNOTATION]: '60' });
    pods[0] = pod(ds, 'node-0', { created: NOW - 120_000 }); // new pod, never Ready
    const first = planDaemonSet(snapshot(ds, nodeList, pods));
    const rev = {
      ...first.history.create!,
      metadata: { ...first.history.create!.metadata, uid: 'r', creationTimestamp: iso(NOW - 120_000) },
    };
    // The rollout of this revision has been under way for two minutes (status says so).
    ds.status!.conditions = [
      {
        type: PROGRESSING,
        status: 'True',
        reason: 'NewRevisionProgressing',
        message: `revision ${rev.metadata.name}: 0 of 2 nodes updated`,
        lastTransitionTime: iso(NOW - 120_000),
      },
    ] as never;
    const plan = planDaemonSet(snapshot(ds, nodeList, pods, { revisions: [rev] as never }));
    expect(conditionOf(plan, PROGRESSING)).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    });
    expect(plan.events).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'ProgressDeadlineExceeded' }),
    );
  });
});

describe('auto-pause', () => {
  const crashLooping = (p: V1Pod): V1Pod => ({
    ...p,
    status: {
      ...p.status,
      containerStatuses: [
        {
          name: 'foo',
          restartCount: 3,
          ready: false,
          image: 'x',
          imageID: '',
          state: { waiting: { reason: 'CrashLoopBackOff' } },
        },
      ],
    },
  });

  it('stops the rollout when a new pod crash-loops, naming the pod and node, until the template changes', () => {
    const { ds, nodeList, pods } = world(
      names4,
      { [AUTO_PAUSE_ANNOTATION]: 'true' },
      { strategy: rollingUpdate(1) },
    );
    pods[0] = crashLooping(pod(ds, 'node-0', { created: NOW - 60_000 }));
    const plan = planDaemonSet(snapshot(ds, nodeList, pods));
    expect(plan.deletes).toEqual([]);
    const paused = conditionOf(plan, AUTO_PAUSED)!;
    expect(paused.status).toBe('True');
    expect(paused.message).toMatch(/^revision foo-\S+: pod node-0-\d+ on node node-0: CrashLoopBackOff/);
    expect(conditionOf(plan, PROGRESSING)).toMatchObject({ status: 'False', reason: 'RolloutAutoPaused' });
    expect(plan.events).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'RolloutAutoPaused' }),
    );

    // Held by status even once the pod is gone; released when resumed (condition False, Resumed).
    ds.status!.conditions = plan.status!.conditions;
    pods[0] = pod(ds, 'node-0', { readySince: NOW - 600_000 });
    expect(planDaemonSet(snapshot(ds, nodeList, pods)).deletes).toEqual([]);
    ds.status!.conditions = plan.status!.conditions!.map((c) =>
      c.type === AUTO_PAUSED ? { ...c, status: 'False', reason: 'Resumed' } : c,
    );
    expect(planDaemonSet(snapshot(ds, nodeList, pods)).deletes.length).toBe(1);
  });

  it.each([
    ['ImagePullBackOff', { waiting: { reason: 'ImagePullBackOff' } }, 0],
    ['ErrImagePull', { waiting: { reason: 'ErrImagePull' } }, 0],
  ])('%s is a trigger', (_reason, state, restarts) => {
    const { ds, nodeList, pods } = world(names4, { [AUTO_PAUSE_ANNOTATION]: 'true' });
    pods[0] = {
      ...pod(ds, 'node-0'),
      status: {
        phase: 'Pending',
        containerStatuses: [
          { name: 'foo', restartCount: restarts, ready: false, image: 'x', imageID: '', state },
        ],
      },
    };
    expect(conditionOf(planDaemonSet(snapshot(ds, nodeList, pods)), AUTO_PAUSED)?.status).toBe('True');
  });

  it('a new pod not Ready 5 min after creation, or whose node turned NotReady after receiving it, is a trigger', () => {
    const { ds, nodeList, pods } = world(names4, { [AUTO_PAUSE_ANNOTATION]: 'true' });
    pods[0] = pod(ds, 'node-0', { created: NOW - 301_000 });
    expect(conditionOf(planDaemonSet(snapshot(ds, nodeList, pods)), AUTO_PAUSED)?.message).toContain(
      'not Ready',
    );

    const w = world(names4, { [AUTO_PAUSE_ANNOTATION]: 'true' });
    w.pods[1] = pod(w.ds, 'node-1', { created: NOW - 60_000, readySince: NOW - 50_000 });
    // The update began two minutes ago, before the node went NotReady (so the node is not "dead").
    const first = planDaemonSet(snapshot(w.ds, w.nodeList, w.pods)).history.create!;
    const rev = {
      ...first,
      metadata: { ...first.metadata, uid: 'r', creationTimestamp: iso(NOW - 120_000) },
    };
    w.nodeList[1]!.status!.conditions = [
      { type: 'Ready', status: 'Unknown', lastTransitionTime: iso(NOW - 10_000) },
    ] as never;
    expect(
      conditionOf(
        planDaemonSet(snapshot(w.ds, w.nodeList, w.pods, { revisions: [rev] as never })),
        AUTO_PAUSED,
      )?.message,
    ).toContain('node node-1 turned NotReady after receiving the pod');
  });
});

describe('invalid annotations', () => {
  it('warn, naming the annotation and the accepted forms, and hold the rollout when nothing valid is known', () => {
    const { ds, nodeList, pods } = world(names4, { [PARTITION_ANNOTATION]: 'half' });
    const plan = planDaemonSet(snapshot(ds, nodeList, pods));
    expect(plan.deletes).toEqual([]);
    expect(plan.rolloutSettings).toBeUndefined();
    expect(plan.events).toContainEqual({
      type: 'Warning',
      reason: 'InvalidRolloutSetting',
      message: expect.stringMatching(
        /^annotation rollout\.everynode\.dev\/partition: "half" must be a number of nodes .*; the rollout is held until it is fixed$/,
      ),
    });
  });

  it('keep the last valid settings', () => {
    const { ds, nodeList, pods } = world(names4, { [PARTITION_ANNOTATION]: '3' });
    const valid = planDaemonSet(snapshot(ds, nodeList, pods));
    expect(deletedNodes(valid)).toEqual(['node-0']);
    ds.metadata!.annotations![PARTITION_ANNOTATION] = '3 nodes';
    const plan = planDaemonSet(snapshot(ds, nodeList, pods, { lastValidRollout: valid.rolloutSettings! }));
    expect(deletedNodes(plan)).toEqual(['node-0']);
    expect(plan.events[0]?.message).toContain('keeping the last valid rollout settings');
  });
});

describe('upstream gaps fixed for every DaemonSet', () => {
  const deadNode = (name: string): V1Node => {
    const n = node(name);
    n.status!.conditions = [
      { type: 'Ready', status: 'Unknown', lastTransitionTime: iso(NOW - 3_600_000) },
    ] as never;
    return n;
  };

  it('pods on nodes dead before the update began do not use the maxUnavailable budget and are replaced last', () => {
    const { ds, nodeList, pods } = world(names4, {}, { strategy: rollingUpdate(1) });
    nodeList[0] = deadNode('node-0');
    nodeList[1] = deadNode('node-1');
    pods[0] = { ...pods[0]!, status: { phase: 'Running' } }; // not Ready any more
    pods[1] = { ...pods[1]!, status: { phase: 'Running' } };
    const plan = planDaemonSet(snapshot(ds, nodeList, pods));
    // Upstream would count both dead nodes as unavailable and delete their pods first.
    expect(deletedNodes(plan)).toEqual(['node-2']);
    // No Progressing condition without rollout annotations: status is upstream's.
    expect(plan.status?.conditions).toBeUndefined();

    // Once the live nodes are updated, the dead ones are replaced.
    pods[2] = pod(ds, 'node-2', { readySince: NOW - 600_000 });
    pods[3] = pod(ds, 'node-3', { readySince: NOW - 600_000 });
    expect(deletedNodes(planDaemonSet(snapshot(ds, nodeList, pods)))).toEqual(['node-0', 'node-1']);
  });

  it('a node object whose conditions change between syncs is judged by its new conditions', () => {
    // Informers replace objects; a caller that replaces only the conditions must be seen too.
    const { ds, nodeList, pods } = world(names4, {}, { strategy: rollingUpdate(1) });
    const n0 = nodeList[0]!;
    pods[0] = { ...pods[0]!, status: { phase: 'Running' } }; // not Ready
    const readyConditions = n0.status!.conditions;
    // Ready: its unavailable old pod is replaced first (upstream's order).
    expect(deletedNodes(planDaemonSet(snapshot(ds, nodeList, pods)))).toEqual(['node-0']);
    n0.status!.conditions = deadNode('node-0').status!.conditions;
    expect(deletedNodes(planDaemonSet(snapshot(ds, nodeList, pods)))).toEqual(['node-1']);
    // NotReady only since the update began (no revision: it began now): not dead.
    n0.status!.conditions = [{ type: 'Ready', status: 'Unknown', lastTransitionTime: iso(NOW) }] as never;
    expect(deletedNodes(planDaemonSet(snapshot(ds, nodeList, pods)))).toEqual(['node-0']);
    n0.status!.conditions = deadNode('node-0').status!.conditions;
    expect(deletedNodes(planDaemonSet(snapshot(ds, nodeList, pods)))).toEqual(['node-1']);
    n0.status!.conditions = readyConditions;
    expect(deletedNodes(planDaemonSet(snapshot(ds, nodeList, pods)))).toEqual(['node-0']);
  });

  it('a real NotReady node (tainted not-ready:NoSchedule, so it should not get a new pod) is dead too', () => {
    const { ds, nodeList, pods } = world(names4, {}, { strategy: rollingUpdate(1) });
    const n = deadNode('node-1');
    n.spec!.taints = [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }];
    nodeList[1] = n;
    // Its old pod is stuck terminating (the kubelet is gone): it must not hold the budget.
    pods[1] = pod(ds, 'node-1', { hash: 'old', readySince: NOW - 3_600_000, deleting: true });
    pods[0] = pod(ds, 'node-0', { readySince: NOW - 600_000 });
    expect(deletedNodes(planDaemonSet(snapshot(ds, nodeList, pods)))).toEqual(['node-2']);

    // Before the others are done, its live old pod is not replaced; after, it is.
    pods[1] = pod(ds, 'node-1', { hash: 'old', readySince: NOW - 3_600_000 });
    expect(deletedNodes(planDaemonSet(snapshot(ds, nodeList, pods)))).toEqual(['node-2']);
    pods[2] = pod(ds, 'node-2', { readySince: NOW - 600_000 });
    pods[3] = pod(ds, 'node-3', { readySince: NOW - 600_000 });
    expect(deletedNodes(planDaemonSet(snapshot(ds, nodeList, pods)))).toEqual(['node-1']);
  });

  it('with a hostPort, maxSurge replaces delete-first, one at a time, with a SurgeNotPossible Warning', () => {
    const { ds, nodeList, pods } = world(names4, {}, { strategy: surge(2) });
    ds.spec!.template.spec!.containers[0]!.ports = [{ containerPort: 9100, hostPort: 9100 }];
    const plan = planDaemonSet(snapshot(ds, nodeList, pods));
    expect(plan.creates).toEqual([]);
    expect(plan.deletes).toHaveLength(1);
    expect(plan.events).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'SurgeNotPossible' }),
    );
  });
});
