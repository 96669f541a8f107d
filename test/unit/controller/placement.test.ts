// Placement, after upstream's TestNodeShouldRunDaemonPod, the taint tests of
// daemon_controller_test.go and component-helpers' node affinity tests.
import type { V1NodeSelectorTerm, V1Taint, V1Toleration } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  nodeShouldRunDaemonPod,
  nodeSelectorTermsMatch,
  toleratesTaint,
} from '../../../src/controller/placement.ts';
import {
  daemonSet,
  node,
  simpleDaemonSetLabel,
  withNodeSelector,
  withRequiredAffinity,
  withTolerations,
} from './fixtures.ts';

const both = (shouldRun: boolean, shouldContinueRunning: boolean) => ({ shouldRun, shouldContinueRunning });

describe('nodeShouldRunDaemonPod (TestNodeShouldRunDaemonPod)', () => {
  const testNode = () => node('test-node', { labels: { ...simpleDaemonSetLabel } });

  it.each([
    ['no constraints', daemonSet(), both(true, true)],
    [
      'resources are not checked (InsufficientResourceError still runs)',
      (() => {
        const ds = daemonSet();
        ds.spec!.template.spec!.containers[0]!.resources = { requests: { cpu: '1000', memory: '1000Gi' } };
        return ds;
      })(),
      both(true, true),
    ],
    [
      'host ports are not checked',
      (() => {
        const ds = daemonSet();
        ds.spec!.template.spec!.containers[0]!.ports = [{ containerPort: 666, hostPort: 666 }];
        return ds;
      })(),
      both(true, true),
    ],
    [
      'template nodeName of another node (ErrPodNotMatchHostName)',
      (() => {
        const ds = daemonSet();
        ds.spec!.template.spec!.nodeName = 'other-node';
        return ds;
      })(),
      both(false, false),
    ],
    [
      'template nodeName of this node',
      (() => {
        const ds = daemonSet();
        ds.spec!.template.spec!.nodeName = 'test-node';
        return ds;
      })(),
      both(true, true),
    ],
    [
      'nodeSelector not matching (ErrNodeSelectorNotMatch)',
      withNodeSelector(daemonSet(), { name: 'simple-daemon', type: 'test' }),
      both(false, false),
    ],
    ['nodeSelector matching', withNodeSelector(daemonSet(), { ...simpleDaemonSetLabel }), both(true, true)],
    [
      'required affinity not matching (ErrPodAffinityNotMatch)',
      withRequiredAffinity(daemonSet(), [
        { matchExpressions: [{ key: 'type', operator: 'In', values: ['test'] }] },
      ]),
      both(false, false),
    ],
    [
      'required affinity matching',
      withRequiredAffinity(daemonSet(), [
        { matchExpressions: [{ key: 'type', operator: 'In', values: ['production'] }] },
      ]),
      both(true, true),
    ],
    [
      'nodeSelector AND affinity: selector fails though affinity matches',
      withRequiredAffinity(withNodeSelector(daemonSet(), { type: 'test' }), [
        { matchExpressions: [{ key: 'type', operator: 'In', values: ['production'] }] },
      ]),
      both(false, false),
    ],
  ])('%s', (_name, ds, expected) => {
    expect(nodeShouldRunDaemonPod(testNode(), ds)).toEqual(expected);
  });

  it('runs on an unschedulable node: the unschedulable taint is tolerated by default, the field is not checked', () => {
    const n = node('test-node', {
      unschedulable: true,
      taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }],
    });
    expect(nodeShouldRunDaemonPod(n, daemonSet())).toEqual(both(true, true));
  });
});

describe('taints (TestTaintedNodeDaemonDoesNotLaunchIntolerantPods and friends)', () => {
  const noScheduleTaint: V1Taint = { key: 'dedicated', value: 'user1', effect: 'NoSchedule' };
  const noExecuteTaint: V1Taint = { key: 'dedicated', value: 'user1', effect: 'NoExecute' };
  const toleration: V1Toleration = { key: 'dedicated', value: 'user1', effect: 'NoSchedule' };

  it.each([
    [
      'an untolerated NoSchedule taint: no new pod, an existing one stays',
      [noScheduleTaint],
      [],
      both(false, true),
    ],
    ['an untolerated NoExecute taint: no pod at all', [noExecuteTaint], [], both(false, false)],
    ['a tolerated NoSchedule taint', [noScheduleTaint], [toleration], both(true, true)],
    [
      'a NoSchedule toleration does not cover the NoExecute taint',
      [noScheduleTaint, noExecuteTaint],
      [toleration],
      both(false, false),
    ],
    [
      'PreferNoSchedule is ignored',
      [{ key: 'dedicated', value: 'user1', effect: 'PreferNoSchedule' }],
      [],
      both(true, true),
    ],
    [
      'the control-plane taint without toleration (nginx tutorial)',
      [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
      [],
      both(false, true),
    ],
    [
      'the control-plane taint with the fluentd toleration',
      [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
      [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
      both(true, true),
    ],
    [
      'not-ready NoExecute is tolerated by default (TestNodeDaemonLaunchesToleratePods)',
      [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }],
      [],
      both(true, true),
    ],
    [
      'unreachable NoExecute is tolerated by default',
      [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }],
      [],
      both(true, true),
    ],
    [
      'memory, disk and pid pressure are tolerated by default (TestTaintPressureNodeDaemonLaunchesPod)',
      [
        { key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/pid-pressure', effect: 'NoSchedule' },
      ],
      [],
      both(true, true),
    ],
    [
      'network-unavailable is not tolerated without hostNetwork',
      [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }],
      [],
      both(false, true),
    ],
  ])('%s', (_name, taints, tolerations, expected) => {
    const ds = withTolerations(daemonSet(), tolerations);
    expect(nodeShouldRunDaemonPod(node('n', { taints }), ds)).toEqual(expected);
  });

  it('network-unavailable is tolerated for hostNetwork pods', () => {
    const ds = daemonSet();
    ds.spec!.template.spec!.hostNetwork = true;
    const n = node('n', {
      taints: [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }],
    });
    expect(nodeShouldRunDaemonPod(n, ds)).toEqual(both(true, true));
  });
});

describe('toleratesTaint (v1.Toleration.ToleratesTaint)', () => {
  const taint: V1Taint = { key: 'k', value: 'v', effect: 'NoSchedule' };
  it.each<[string, V1Toleration, boolean]>([
    ['empty key with Exists tolerates everything', { operator: 'Exists' }, true],
    ['empty effect matches every effect', { key: 'k', operator: 'Exists' }, true],
    ['another effect does not', { key: 'k', operator: 'Exists', effect: 'NoExecute' }, false],
    ['another key does not', { key: 'x', operator: 'Exists' }, false],
    ['Equal compares the value', { key: 'k', operator: 'Equal', value: 'v' }, true],
    ['Equal with another value', { key: 'k', operator: 'Equal', value: 'w' }, false],
    ['the operator defaults to Equal', { key: 'k', value: 'v' }, true],
    ['the default Equal with no value does not match a valued taint', { key: 'k' }, false],
    ['an unknown operator tolerates nothing', { key: 'k', operator: 'Gt', value: 'v' }, false],
  ])('%s', (_name, toleration, expected) => {
    expect(toleratesTaint(toleration, taint)).toBe(expected);
  });
});

describe('nodeSelectorTermsMatch (required node affinity)', () => {
  const n = node('node-a', { labels: { zone: 'z1', gpu: 'true', cores: '16' } });
  const expr = (key: string, operator: string, values?: string[]): V1NodeSelectorTerm => ({
    matchExpressions: [{ key, operator, values }],
  });
  const field = (operator: string, values: string[], key = 'metadata.name'): V1NodeSelectorTerm => ({
    matchFields: [{ key, operator, values }],
  });

  it.each<[string, V1NodeSelectorTerm[], boolean]>([
    ['In', [expr('zone', 'In', ['z0', 'z1'])], true],
    ['In, no such value', [expr('zone', 'In', ['z2'])], false],
    ['In, no such label', [expr('rack', 'In', ['r1'])], false],
    ['NotIn', [expr('zone', 'NotIn', ['z2'])], true],
    ['NotIn, value listed', [expr('zone', 'NotIn', ['z1'])], false],
    ['NotIn, label absent', [expr('rack', 'NotIn', ['r1'])], true],
    ['Exists', [expr('gpu', 'Exists')], true],
    ['Exists, absent', [expr('rack', 'Exists')], false],
    ['DoesNotExist', [expr('rack', 'DoesNotExist')], true],
    ['DoesNotExist, present', [expr('gpu', 'DoesNotExist')], false],
    ['Gt', [expr('cores', 'Gt', ['8'])], true],
    ['Gt, equal is not greater', [expr('cores', 'Gt', ['16'])], false],
    ['Lt', [expr('cores', 'Lt', ['32'])], true],
    ['Gt on a non-integer label', [expr('zone', 'Gt', ['1'])], false],
    [
      'expressions in a term are ANDed',
      [
        {
          matchExpressions: [
            ...expr('zone', 'In', ['z1']).matchExpressions!,
            ...expr('gpu', 'DoesNotExist').matchExpressions!,
          ],
        },
      ],
      false,
    ],
    ['terms are ORed', [expr('zone', 'In', ['z9']), expr('gpu', 'Exists')], true],
    ['matchFields metadata.name In', [field('In', ['node-a'])], true],
    ['matchFields metadata.name In another', [field('In', ['node-b'])], false],
    ['matchFields metadata.name NotIn', [field('NotIn', ['node-b'])], true],
    ['matchFields on an unknown field never equals', [field('In', ['x'], 'metadata.uid')], false],
    [
      'expressions and fields in one term are ANDed',
      [{ ...expr('zone', 'In', ['z1']), ...field('In', ['node-b']) }],
      false,
    ],
    ['an empty term list matches nothing', [], false],
    ['a term with no requirements matches nothing', [{}], false],
    ['an empty term is skipped, the next one can match', [{}, expr('gpu', 'Exists')], true],
    // Parse errors make a term match nothing (upstream ignores the error, the term is skipped).
    ['In without values is invalid', [expr('zone', 'In', [])], false],
    ['NotIn without values is invalid (would otherwise match)', [expr('rack', 'NotIn', [])], false],
    ['Exists with values is invalid', [expr('gpu', 'Exists', ['true'])], false],
    ['Gt with two values is invalid', [expr('cores', 'Gt', ['1', '2'])], false],
    ['Gt with a non-integer value is invalid', [expr('cores', 'Gt', ['x'])], false],
    ['an invalid label key is invalid', [expr('bad key', 'DoesNotExist')], false],
    ['an invalid label value is invalid', [expr('rack', 'NotIn', ['not a label value'])], false],
    ['an unknown operator is invalid', [expr('rack', 'Like', ['x'])], false],
    ['matchFields In with two values is invalid', [field('In', ['node-a', 'node-b'])], false],
    ['matchFields Exists is invalid', [field('Exists', [])], false],
    ['an invalid term does not spoil a valid one', [expr('zone', 'In', []), expr('gpu', 'Exists')], true],
  ])('%s', (_name, terms, expected) => {
    expect(nodeSelectorTermsMatch(terms, n)).toBe(expected);
  });
});
