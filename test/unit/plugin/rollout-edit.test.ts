// Unit tests of the patches `kubectl everynode rollout pause|resume|promote` send and the lines it
// prints (src/plugin/rollout-edit.ts). Plain objects, no cluster.
import type { V1DaemonSet, V1DaemonSetCondition } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { partitionProblem, planPause, planPromote, planResume } from '../../../src/plugin/rollout-edit.ts';
import type { AnyDaemonSet } from '../../../src/plugin/rollout-settings.ts';

const ds = (annotations: Record<string, string> = {}, conditions?: V1DaemonSetCondition[]): V1DaemonSet => ({
  metadata: { name: 'agent', annotations },
  status: {
    currentNumberScheduled: 0,
    desiredNumberScheduled: 0,
    numberMisscheduled: 0,
    numberReady: 0,
    conditions,
  },
});

describe('pause', () => {
  it('sets the annotation, or says it is already paused', () => {
    expect(planPause(ds())).toEqual({
      patch: { metadata: { annotations: { 'rollout.everynode.dev/paused': 'true' } } },
      line: 'daemonset.apps/agent paused',
      warnings: [],
    });
    expect(planPause(ds({ 'rollout.everynode.dev/paused': 'true' }))).toEqual({
      line: 'daemonset.apps/agent already paused',
      warnings: [],
    });
  });
});

describe('resume', () => {
  it('removes the annotation', () => {
    expect(planResume(ds({ 'rollout.everynode.dev/paused': 'true' }), '2026-01-01T00:00:00Z')).toEqual({
      patch: { metadata: { annotations: { 'rollout.everynode.dev/paused': null } } },
      line: 'daemonset.apps/agent resumed',
      warnings: [],
    });
  });

  it('marks a True RolloutAutoPaused condition False/Resumed for the same revision', () => {
    const auto = {
      type: 'RolloutAutoPaused',
      status: 'True',
      reason: 'RolloutAutoPaused',
      message: 'revision agent-abc: pod p on node n1: ImagePullBackOff (container c)',
    };
    const plan = planResume(ds({}, [auto]), '2026-01-01T00:00:00Z', 'agent-other');
    expect(plan.patch).toBeUndefined();
    expect(plan.statusPatch).toEqual({
      status: {
        conditions: [
          {
            type: 'RolloutAutoPaused',
            status: 'False',
            reason: 'Resumed',
            message: 'revision agent-abc: resumed by kubectl everynode',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      },
    });
    expect(plan.line).toBe('daemonset.apps/agent resumed');
  });

  it('says already resumed when there is nothing to do', () => {
    const resumed = {
      type: 'RolloutAutoPaused',
      status: 'False',
      reason: 'Resumed',
      message: 'revision a: resumed',
    };
    expect(planResume(ds({ 'rollout.everynode.dev/paused': 'false' }, [resumed]), 'now')).toEqual({
      line: 'daemonset.apps/agent already resumed',
      warnings: [],
    });
  });
});

describe('promote', () => {
  it('removes the partition and the node selector', () => {
    const plan = planPromote(
      ds({ 'rollout.everynode.dev/partition': '2', 'rollout.everynode.dev/node-selector': 'pool=canary' }),
    );
    expect(plan.patch).toEqual({
      metadata: {
        annotations: { 'rollout.everynode.dev/partition': null, 'rollout.everynode.dev/node-selector': null },
      },
    });
    expect(plan.line).toBe(
      'daemonset.apps/agent promoted: removed the partition (2) and the node selector (pool=canary); the rollout continues to every node',
    );
  });

  it('says when there is nothing to promote, and warns when paused', () => {
    expect(planPromote(ds({ 'rollout.everynode.dev/paused': 'true' }))).toEqual({
      line: 'daemonset.apps/agent has no partition or node selector: nothing to promote',
      warnings: [
        'the rollout is paused: nothing is replaced until kubectl everynode rollout resume ds/agent',
      ],
    });
  });

  it('sets a new partition and keeps the node selector', () => {
    const plan = planPromote(
      ds({ 'rollout.everynode.dev/partition': '3', 'rollout.everynode.dev/node-selector': 'a=b' }),
      '1',
    );
    expect(plan.patch).toEqual({ metadata: { annotations: { 'rollout.everynode.dev/partition': '1' } } });
    expect(plan.line).toBe('daemonset.apps/agent partition set to 1 (was 3)');
    expect(planPromote(ds(), '25%').line).toBe('daemonset.apps/agent partition set to 25% (was unset)');
    expect(planPromote(ds({ 'rollout.everynode.dev/partition': '1' }), '1').patch).toBeUndefined();
  });

  it('validates --partition with the contract parser', () => {
    expect(partitionProblem('3')).toBeUndefined();
    expect(partitionProblem('25%')).toBeUndefined();
    expect(partitionProblem('half')).toBe(
      'invalid argument "half" for "--partition" flag: must be a number of nodes ("3") or a percentage of the desired nodes from 0% to 100% ("25%")',
    );
    expect(partitionProblem('101%')).toContain('from 0% to 100%');
    expect(partitionProblem('-1')).toContain('must be a number of nodes');
  });
});

describe('an everynode.dev DaemonSet: the same decisions on spec.rollout', () => {
  const evds = (
    rollout: Record<string, unknown> = {},
    conditions?: V1DaemonSetCondition[],
  ): AnyDaemonSet => ({
    apiVersion: 'everynode.dev/v1alpha1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', resourceVersion: '42' },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: { spec: { containers: [] } },
      rollout,
    },
    status: {
      currentNumberScheduled: 0,
      desiredNumberScheduled: 0,
      numberMisscheduled: 0,
      numberReady: 0,
      conditions,
    },
  });

  it('pause sets spec.rollout.paused, resume removes it', () => {
    expect(planPause(evds())).toEqual({
      patch: { spec: { rollout: { paused: true } } },
      line: 'daemonset.everynode.dev/agent paused',
      warnings: [],
    });
    expect(planPause(evds({ paused: true })).line).toBe('daemonset.everynode.dev/agent already paused');
    expect(planResume(evds({ paused: true }), 'now')).toEqual({
      patch: { spec: { rollout: { paused: null } } },
      line: 'daemonset.everynode.dev/agent resumed',
      warnings: [],
    });
    expect(planResume(evds({ paused: false }), 'now').line).toBe(
      'daemonset.everynode.dev/agent already resumed',
    );
  });

  it('resume of an auto-pause: a merge patch of the whole conditions list, guarded by the resourceVersion', () => {
    const progressing = {
      type: 'Progressing',
      status: 'False',
      reason: 'RolloutAutoPaused',
      message: 'revision agent-abc: auto-paused',
    };
    const auto = {
      type: 'RolloutAutoPaused',
      status: 'True',
      reason: 'RolloutAutoPaused',
      message: 'revision agent-abc: x',
    };
    const plan = planResume(evds({}, [progressing, auto]), '2026-01-01T00:00:00Z');
    expect(plan.statusPatchType).toBe('merge');
    expect(plan.statusPatch).toEqual({
      metadata: { resourceVersion: '42' },
      status: {
        conditions: [
          progressing,
          {
            type: 'RolloutAutoPaused',
            status: 'False',
            reason: 'Resumed',
            message: 'revision agent-abc: resumed by kubectl everynode',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      },
    });
  });

  it('promote removes spec.rollout.partition and nodeSelector, or sets the partition', () => {
    const both = evds({ partition: '25%', nodeSelector: { matchLabels: { pool: 'canary' } }, paused: true });
    expect(planPromote(both)).toEqual({
      patch: { spec: { rollout: { partition: null, nodeSelector: null } } },
      line: 'daemonset.everynode.dev/agent promoted: removed the partition (25%) and the node selector (pool=canary); the rollout continues to every node',
      warnings: [
        'the rollout is paused: nothing is replaced until kubectl everynode rollout resume evds/agent',
      ],
    });
    expect(planPromote(evds({ partition: 3 }), '1')).toEqual({
      patch: { spec: { rollout: { partition: 1 } } },
      line: 'daemonset.everynode.dev/agent partition set to 1 (was 3)',
      warnings: [],
    });
    expect(planPromote(evds({}), '25%').patch).toEqual({ spec: { rollout: { partition: '25%' } } });
    expect(planPromote(evds({ partition: 2 }), '2').line).toBe(
      'daemonset.everynode.dev/agent partition already 2',
    );
    expect(planPromote(evds()).line).toBe(
      'daemonset.everynode.dev/agent has no partition or node selector: nothing to promote',
    );
  });
});
