// Unit tests of the patches `kubectl everynode rollout pause|resume|promote` send and the lines it
// prints (src/plugin/rollout-edit.ts). Plain objects, no cluster.
import type { V1DaemonSet, V1DaemonSetCondition } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { partitionProblem, planPause, planPromote, planResume } from '../../../src/plugin/rollout-edit.ts';

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
