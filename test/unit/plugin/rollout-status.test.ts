// Unit tests of `kubectl everynode rollout status`'s decision (src/plugin/rollout-status.ts):
// kubectl's DaemonSet lines, partitions and node selectors, pauses, waves, the progress deadline
// and auto-pause errors, stale conditions of another revision, the current revision and the
// `-o wide` table. Plain objects, no cluster.
import type {
  V1ControllerRevision,
  V1DaemonSet,
  V1DaemonSetCondition,
  V1Node,
  V1Pod,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { getPatch } from '../../../src/controller/history.ts';
import {
  currentRevision,
  formatTable,
  rolloutStatus,
  wideTable,
} from '../../../src/plugin/rollout-status.ts';

interface DsOptions {
  generation?: number;
  observed?: number;
  desired?: number;
  updated?: number;
  available?: number;
  annotations?: Record<string, string>;
  conditions?: V1DaemonSetCondition[];
  strategy?: string;
}

function ds(o: DsOptions = {}): V1DaemonSet {
  return {
    metadata: {
      name: 'agent',
      uid: 'ds-uid',
      generation: o.generation ?? 2,
      annotations: o.annotations ?? {},
    },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      updateStrategy: { type: o.strategy ?? 'RollingUpdate' },
      template: {
        metadata: { labels: { app: 'agent' } },
        spec: { containers: [{ name: 'agent', image: 'agent:2' }] },
      },
    },
    status: {
      observedGeneration: o.observed ?? o.generation ?? 2,
      desiredNumberScheduled: o.desired ?? 4,
      currentNumberScheduled: o.desired ?? 4,
      numberReady: o.available ?? 4,
      numberMisscheduled: 0,
      updatedNumberScheduled: o.updated ?? 4,
      numberAvailable: o.available ?? 4,
      conditions: o.conditions,
    },
  };
}

const cond = (type: string, status: string, reason: string, message: string): V1DaemonSetCondition => ({
  type,
  status,
  reason,
  message,
});

describe('rolloutStatus: kubectl DaemonSetStatusViewer behaviour', () => {
  it('waits for the spec update to be observed', () => {
    expect(rolloutStatus(ds({ generation: 3, observed: 2 }))).toEqual({
      state: 'waiting',
      line: 'Waiting for daemon set spec update to be observed...',
    });
  });

  it('counts updated pods, then available ones, then is done', () => {
    expect(rolloutStatus(ds({ updated: 2, available: 3 }))).toEqual({
      state: 'waiting',
      line: 'Waiting for daemon set "agent" rollout to finish: 2 out of 4 new pods have been updated...',
    });
    expect(rolloutStatus(ds({ updated: 4, available: 3 }))).toEqual({
      state: 'waiting',
      line: 'Waiting for daemon set "agent" rollout to finish: 3 of 4 updated pods are available...',
    });
    expect(rolloutStatus(ds())).toEqual({
      state: 'done',
      line: 'daemon set "agent" successfully rolled out',
    });
  });

  it('refuses OnDelete as kubectl does', () => {
    expect(rolloutStatus(ds({ strategy: 'OnDelete' }))).toEqual({
      state: 'error',
      message: 'rollout status is only available for RollingUpdate strategy type',
    });
  });
});

describe('rolloutStatus: partitions and node selectors', () => {
  const partition = { 'rollout.everynode.dev/partition': '1' };

  it('without conditions, a partition finishes from the counters and says how many nodes are held', () => {
    expect(rolloutStatus(ds({ annotations: partition, updated: 2, available: 4 }))).toEqual({
      state: 'waiting',
      line: 'Waiting for daemon set "agent" rollout to finish: 2 out of 3 new pods have been updated (1 node keeps the old revision: partition 1)...',
    });
    const done = rolloutStatus(ds({ annotations: partition, updated: 3, available: 4 }));
    expect(done).toEqual({
      state: 'done',
      line: 'daemon set "agent" successfully rolled out to 3 of 4 nodes; 1 node keeps the old revision (partition 1); continue with: kubectl everynode rollout promote ds/agent',
    });
  });

  it('a percentage is of the desired nodes, rounded up', () => {
    const r = rolloutStatus(ds({ annotations: { 'rollout.everynode.dev/partition': '30%' }, updated: 2 }));
    expect(r.state).toBe('done');
    expect(r.state === 'done' && r.line).toContain('2 nodes keep the old revision (partition 30%)');
  });

  it('with a condition, NewRevisionAvailable ends the wait and NewRevisionProgressing does not', () => {
    const progressing = cond(
      'Progressing',
      'True',
      'NewRevisionProgressing',
      'revision agent-abc: 2 of 4 nodes updated',
    );
    expect(
      rolloutStatus(ds({ annotations: partition, updated: 3, conditions: [progressing] }), 'agent-abc').state,
    ).toBe('waiting');
    const available = cond(
      'Progressing',
      'True',
      'NewRevisionAvailable',
      'revision agent-abc: 3 of 4 nodes updated',
    );
    expect(
      rolloutStatus(ds({ annotations: partition, updated: 3, conditions: [available] }), 'agent-abc').state,
    ).toBe('done');
  });

  it("a node selector finishes on the controller's NewRevisionAvailable", () => {
    const annotations = { 'rollout.everynode.dev/node-selector': 'pool=canary' };
    const waiting = rolloutStatus(ds({ annotations, updated: 1 }));
    expect(waiting).toEqual({
      state: 'waiting',
      line: 'Waiting for daemon set "agent" rollout to finish: 1 out of 4 new pods have been updated (only nodes the node selector "pool=canary" allows update)...',
    });
    const available = cond(
      'Progressing',
      'True',
      'NewRevisionAvailable',
      'revision agent-abc: 2 of 4 nodes updated',
    );
    expect(rolloutStatus(ds({ annotations, updated: 2, conditions: [available] }), 'agent-abc')).toEqual({
      state: 'done',
      line: 'daemon set "agent" successfully rolled out to 2 of 4 nodes; 2 nodes keep the old revision (node selector "pool=canary"); continue with: kubectl everynode rollout promote ds/agent',
    });
  });

  it('a stale NewRevisionAvailable does not end the wait once the partition is gone (promote)', () => {
    const available = cond(
      'Progressing',
      'True',
      'NewRevisionAvailable',
      'revision agent-abc: 3 of 4 nodes updated',
    );
    expect(rolloutStatus(ds({ updated: 3, conditions: [available] }), 'agent-abc').state).toBe('waiting');
    // ...nor once the partition was lowered
    const lowered = { 'rollout.everynode.dev/partition': '0' };
    expect(
      rolloutStatus(ds({ annotations: lowered, updated: 3, conditions: [available] }), 'agent-abc').state,
    ).toBe('waiting');
  });
});

describe('rolloutStatus: pauses and errors', () => {
  it('a paused rollout ends the wait with a clear line', () => {
    expect(
      rolloutStatus(ds({ annotations: { 'rollout.everynode.dev/paused': 'true' }, updated: 1 })),
    ).toEqual({
      state: 'done',
      line: 'daemon set "agent" rollout is paused: 1 of 4 nodes updated; resume with: kubectl everynode rollout resume ds/agent',
    });
  });

  it('a paused rollout that is complete is simply rolled out', () => {
    expect(rolloutStatus(ds({ annotations: { 'rollout.everynode.dev/paused': 'true' } })).state).toBe('done');
  });

  it('a stale RolloutPaused after resume keeps waiting', () => {
    const paused = cond(
      'Progressing',
      'Unknown',
      'RolloutPaused',
      'revision agent-abc: paused by annotation',
    );
    expect(rolloutStatus(ds({ updated: 1, conditions: [paused] }), 'agent-abc').state).toBe('waiting');
  });

  it('a held rollout (invalid annotation) is an error with the message', () => {
    const held = cond(
      'Progressing',
      'Unknown',
      'RolloutPaused',
      'revision agent-abc: held: invalid annotation rollout.everynode.dev/partition and no earlier valid settings; 1 of 4 nodes updated',
    );
    const r = rolloutStatus(
      ds({ updated: 1, annotations: { 'rollout.everynode.dev/partition': 'x' }, conditions: [held] }),
    );
    expect(r.state).toBe('error');
    expect(r.state === 'error' && r.message).toContain(
      'held: invalid annotation rollout.everynode.dev/partition',
    );
  });

  it('ProgressDeadlineExceeded is an error carrying the message', () => {
    const stalled = cond(
      'Progressing',
      'False',
      'ProgressDeadlineExceeded',
      'revision agent-abc: no updated pod became available for 60s; 1 of 4 nodes updated, 0 available',
    );
    expect(rolloutStatus(ds({ updated: 1, conditions: [stalled] }), 'agent-abc')).toEqual({
      state: 'error',
      message:
        'daemon set "agent" exceeded its progress deadline: revision agent-abc: no updated pod became available for 60s; 1 of 4 nodes updated, 0 available',
    });
  });

  it('an auto-pause is an error naming the pod, and how to go on', () => {
    const why = 'revision agent-abc: pod agent-x on node n1: ImagePullBackOff (container agent)';
    const conditions = [
      cond('Progressing', 'False', 'RolloutAutoPaused', why),
      cond('RolloutAutoPaused', 'True', 'RolloutAutoPaused', why),
    ];
    const r = rolloutStatus(ds({ updated: 1, conditions }), 'agent-abc');
    expect(r).toEqual({
      state: 'error',
      message: `daemon set "agent" rollout was paused automatically: ${why}\nfix the template (or kubectl rollout undo ds/agent), or resume with: kubectl everynode rollout resume ds/agent`,
    });
  });

  it('a Progressing=RolloutAutoPaused left from before a resume is not an error', () => {
    const why = 'revision agent-abc: pod agent-x on node n1: ImagePullBackOff (container agent)';
    const conditions = [
      cond('Progressing', 'False', 'RolloutAutoPaused', why),
      cond('RolloutAutoPaused', 'False', 'Resumed', 'revision agent-abc: resumed by kubectl everynode'),
    ];
    expect(rolloutStatus(ds({ updated: 1, conditions }), 'agent-abc').state).toBe('waiting');
  });

  it('conditions naming another revision are stale and ignored', () => {
    const why = 'revision agent-old: pod agent-x on node n1: ImagePullBackOff (container agent)';
    const conditions = [cond('RolloutAutoPaused', 'True', 'RolloutAutoPaused', why)];
    expect(rolloutStatus(ds({ updated: 1, conditions }), 'agent-new').state).toBe('waiting');
    const resumed = [
      cond('RolloutAutoPaused', 'False', 'Resumed', 'revision agent-new: resumed by kubectl everynode'),
    ];
    expect(rolloutStatus(ds({ updated: 1, conditions: resumed }), 'agent-new').state).toBe('waiting');
  });

  it('the wave in progress is shown in the progress line', () => {
    const wave = cond('RolloutWave', 'True', 'WaveInProgress', 'wave 2/3: topology.kubernetes.io/zone=b');
    expect(rolloutStatus(ds({ updated: 2, conditions: [wave] }))).toEqual({
      state: 'waiting',
      line: 'Waiting for daemon set "agent" rollout to finish: 2 out of 4 new pods have been updated (wave 2/3: topology.kubernetes.io/zone=b)...',
    });
  });
});

// ---- revisions and the wide table --------------------------------------------------------------

const owner = { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true };

function revision(name: string, number: number, data: unknown, hash: string): V1ControllerRevision {
  return {
    metadata: { name, labels: { 'controller-revision-hash': hash }, ownerReferences: [owner] },
    revision: number,
    data,
  };
}

describe('currentRevision', () => {
  it('is the owned revision whose data matches the template, else the highest', () => {
    const d = ds();
    const matching = revision('agent-aaa', 1, JSON.parse(getPatch(d)), 'aaa');
    const newer = revision('agent-bbb', 2, { spec: { template: { $patch: 'replace' } } }, 'bbb');
    expect(currentRevision(d, [newer, matching])).toEqual({ name: 'agent-aaa', hash: 'aaa' });
    expect(currentRevision(d, [newer])).toEqual({ name: 'agent-bbb', hash: 'bbb' });
    const foreign = {
      ...matching,
      metadata: { ...matching.metadata, ownerReferences: [{ ...owner, uid: 'x' }] },
    };
    expect(currentRevision(d, [foreign])).toBeUndefined();
  });
});

function pod(name: string, node: string, hash: string, ready: boolean): V1Pod {
  return {
    metadata: { name, labels: { app: 'agent', 'controller-revision-hash': hash }, ownerReferences: [owner] },
    spec: { nodeName: node, containers: [{ name: 'agent', image: 'agent' }] },
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'agent',
          ready,
          restartCount: 0,
          image: 'agent',
          imageID: '',
          ...(ready ? {} : { state: { waiting: { reason: 'CrashLoopBackOff' } } }),
        },
      ],
    },
  };
}

const node = (name: string, labels: Record<string, string> = {}, taints: V1Node['spec'] = {}): V1Node => ({
  metadata: { name, labels },
  spec: taints,
});

describe('wideTable', () => {
  it('lists every node that should run a pod, with revision, readiness and whether it is updated', () => {
    const table = wideTable({
      ds: ds(),
      pods: [pod('agent-2', 'n2', 'old', true), pod('agent-1', 'n1', 'new', false)],
      nodes: [
        node('n1'),
        node('n2'),
        node('n3'),
        node('cp', {}, { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }),
      ],
      revision: { name: 'agent-new', hash: 'new' },
    });
    expect(table.split('\n')).toEqual([
      'NODE   POD       STATUS             REVISION   READY   UPDATED',
      'n1     agent-1   CrashLoopBackOff   new        0/1     true',
      'n2     agent-2   Running            old        1/1     false',
      'n3     <none>                                          false',
    ]);
  });

  it('says in-place for a pod patched in place that the kubelet has not restarted yet', () => {
    const patched = pod('agent-1', 'n1', 'new', true);
    patched.metadata!.annotations = {
      ...(patched.metadata!.annotations ?? {}),
      'rollout.everynode.dev/in-place-update': JSON.stringify({
        revision: 'new',
        startedAt: '2026-01-01T00:00:00Z',
        containers: { agent: { imageID: '', restartCount: 0 } },
      }),
    };
    const table = wideTable({
      ds: ds(),
      pods: [patched],
      nodes: [node('n1')],
      revision: { name: 'agent-new', hash: 'new' },
    });
    expect(table.split('\n')[1]).toMatch(/ in-place$/);
  });

  it('adds the WAVE column with waves', () => {
    const table = wideTable({
      ds: ds({ annotations: { 'rollout.everynode.dev/waves': 'zone' } }),
      pods: [pod('agent-1', 'n1', 'new', true)],
      nodes: [node('n1', { zone: 'a' }), node('n2')],
      revision: { name: 'agent-new', hash: 'new' },
    });
    expect(table.split('\n')).toEqual([
      'NODE   POD       STATUS    REVISION   READY   UPDATED   WAVE',
      'n1     agent-1   Running   new        1/1     true      a',
      'n2     <none>                                 false     <none>',
    ]);
  });

  it('ignores pods of another owner and still lists pods when nodes could not be read', () => {
    const other = {
      ...pod('x', 'n9', 'new', true),
      metadata: { name: 'x', ownerReferences: [{ ...owner, uid: 'y' }] },
    };
    const table = wideTable({
      ds: ds(),
      pods: [other, pod('agent-1', 'n1', 'new', true)],
      nodes: [],
      revision: undefined,
    });
    expect(table.split('\n')).toHaveLength(2);
    expect(table).toContain('agent-1');
  });

  it('formatTable pads like kubectl', () => {
    expect(
      formatTable([
        ['A', 'BB'],
        ['CCC', 'D'],
      ]),
    ).toBe('A     BB\nCCC   D');
  });
});

describe('an everynode.dev DaemonSet: the same decisions from spec.rollout', () => {
  const evds = (rollout: Record<string, unknown>, o: DsOptions = {}) => ({
    ...ds(o),
    apiVersion: 'everynode.dev/v1alpha1',
    spec: { ...ds(o).spec!, rollout },
  });

  it('a partition in spec.rollout finishes at the partition, with evds hints', () => {
    expect(rolloutStatus(evds({ partition: 1 }, { updated: 3 }))).toEqual({
      state: 'done',
      line: 'daemon set "agent" successfully rolled out to 3 of 4 nodes; 1 node keeps the old revision (partition 1); continue with: kubectl everynode rollout promote evds/agent',
    });
  });

  it('a node selector in spec.rollout is spelled as a selector string', () => {
    const result = rolloutStatus(
      evds(
        { nodeSelector: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] } },
        { updated: 1 },
      ),
    );
    expect(result).toEqual({
      state: 'waiting',
      line: 'Waiting for daemon set "agent" rollout to finish: 1 out of 4 new pods have been updated (only nodes the node selector "zone in (a,b)" allows update)...',
    });
  });

  it('paused in spec.rollout ends the wait; the annotations of a CR are not read', () => {
    expect(rolloutStatus(evds({ paused: true }, { updated: 1 }))).toEqual({
      state: 'done',
      line: 'daemon set "agent" rollout is paused: 1 of 4 nodes updated; resume with: kubectl everynode rollout resume evds/agent',
    });
    const annotated = evds({}, { updated: 1, annotations: { 'rollout.everynode.dev/paused': 'true' } });
    expect(rolloutStatus(annotated)).toMatchObject({ state: 'waiting' });
  });

  it('an auto-pause points at the plugin for undo', () => {
    const auto = cond(
      'RolloutAutoPaused',
      'True',
      'RolloutAutoPaused',
      'revision r: pod p on node n: CrashLoopBackOff',
    );
    expect(rolloutStatus(evds({ autoPause: true }, { updated: 1, conditions: [auto] }))).toEqual({
      state: 'error',
      message:
        'daemon set "agent" rollout was paused automatically: revision r: pod p on node n: CrashLoopBackOff\n' +
        'fix the template (or kubectl everynode rollout undo evds/agent), or resume with: kubectl everynode rollout resume evds/agent',
    });
  });
});
