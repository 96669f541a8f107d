// The reserved-label guard and the create bound: a DaemonSet whose selector
// can never match the pods everynode creates is refused (no endless orphan
// stream), template labels everynode overwrites are warned about, and no plan
// creates more pods than there are nodes that should run one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MANAGED_LABEL } from '../../../src/contract/daemon-pod.ts';
import { labelSelectorMatches } from '../../../src/machinery/label-selector.ts';
import { boundCreates, planDaemonSet } from '../../../src/controller/plan.ts';
import { newPod } from '../../../src/controller/pod-template.ts';
import { buildSyncContext } from '../../../src/controller/sync-context.ts';
import { reservedSelectorProblem } from '../../../src/controller/reserved-labels.ts';
import { createdNodes, daemonSet, node, nodes, pod, snapshot } from './fixtures.ts';

const withLabels = (selector: Record<string, string>, template: Record<string, string>) => {
  const ds = daemonSet();
  ds.spec!.selector = { matchLabels: selector };
  ds.spec!.template.metadata!.labels = template;
  return ds;
};

describe('a selector on a reserved label', () => {
  const refused: Array<{ name: string; selector: Record<string, string>; label: string }> = [
    { name: 'managed: "false"', selector: { app: 'x', [MANAGED_LABEL]: 'false' }, label: MANAGED_LABEL },
    {
      name: 'controller-revision-hash',
      selector: { app: 'x', 'controller-revision-hash': 'abc' },
      label: 'controller-revision-hash',
    },
    {
      name: 'pod-template-generation',
      selector: { app: 'x', 'pod-template-generation': '1' },
      label: 'pod-template-generation',
    },
  ];

  it.each(refused)('$name is refused with a Warning naming the label, and no pod is created', (row) => {
    const ds = withLabels(row.selector, { ...row.selector });
    const plan = planDaemonSet(snapshot(ds, nodes(4)));
    expect(plan.skipped).toBe('reserved-label');
    expect(plan.creates).toEqual([]);
    expect(plan.deletes).toEqual([]);
    expect(plan.history.create).toBeUndefined();
    expect(plan.events).toHaveLength(1);
    expect(plan.events[0]!.type).toBe('Warning');
    expect(plan.events[0]!.reason).toBe('ReservedLabelConflict');
    expect(plan.events[0]!.message).toContain(`spec.selector`);
    expect(plan.events[0]!.message).toContain(row.label);
  });

  it('a matchExpressions NotIn ["true"] on the managed label is refused too', () => {
    const ds = withLabels({ app: 'x' }, { app: 'x' });
    ds.spec!.selector.matchExpressions = [{ key: MANAGED_LABEL, operator: 'NotIn', values: ['true'] }];
    expect(reservedSelectorProblem(ds)).toContain(MANAGED_LABEL);
  });

  it('selecting managed: "true" (the value everynode sets) is fine', () => {
    const ds = withLabels({ app: 'x', [MANAGED_LABEL]: 'true' }, { app: 'x', [MANAGED_LABEL]: 'true' });
    const plan = planDaemonSet(snapshot(ds, nodes(2)));
    expect(plan.skipped).toBeUndefined();
    expect(createdNodes(plan)).toEqual(['node-0', 'node-1']);
    expect(plan.events).toEqual([]);
  });
});

describe('a template label everynode overwrites', () => {
  it('is warned about when pods are created, and the pods get everynode’s value', () => {
    const ds = withLabels({ app: 'x' }, { app: 'x', [MANAGED_LABEL]: 'false' });
    const plan = planDaemonSet(snapshot(ds, nodes(2)));
    expect(createdNodes(plan)).toEqual(['node-0', 'node-1']);
    for (const c of plan.creates) expect(c.pod.metadata!.labels![MANAGED_LABEL]).toBe('true');
    expect(plan.events).toEqual([
      expect.objectContaining({
        type: 'Warning',
        reason: 'ReservedLabelOverwritten',
        message: expect.stringContaining(`spec.template.metadata.labels[${MANAGED_LABEL}]="false"`),
      }),
    ]);
  });

  it('says nothing when nothing is created', () => {
    const ds = withLabels({ app: 'x' }, { app: 'x', [MANAGED_LABEL]: 'false' });
    const plan = planDaemonSet(snapshot(ds, nodes(1), [pod(ds, 'node-0')]));
    expect(plan.creates).toEqual([]);
    expect(plan.events).toEqual([]);
  });
});

describe('the create bound', () => {
  it('drops a second create for a node, creates for nodes that should not run a pod, and pods the selector misses', () => {
    const ds = withLabels({ app: 'x' }, { app: 'x' });
    const list = [
      node('node-0'),
      node('node-1', { taints: [{ key: 'k', effect: 'NoSchedule' }] }),
      node('node-2'),
    ];
    const ctx = buildSyncContext(snapshot(ds, list), 'h');
    const create = (nodeName: string) => ({ nodeName, pod: newPod(ds, nodeName, 'h', '1') });
    const stray = create('node-2');
    stray.pod.metadata!.labels = { app: 'y' };
    const kept = boundCreates(ctx, [
      create('node-0'),
      create('node-0'),
      create('node-1'),
      create('gone'),
      stray,
    ]);
    expect(kept.map((c) => c.nodeName)).toEqual(['node-0']);
  });

  it('never creates more pods than nodes that should run one, one per node, all matching the selector', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
        fc.subarray(['node-0', 'node-1', 'node-2', 'node-3', 'node-4', 'node-5']),
        fc.constantFrom<Record<string, string>>(
          {},
          { [MANAGED_LABEL]: 'false' },
          { 'pod-template-generation': '9' },
        ),
        (n, tainted, withPod, extraTemplateLabels) => {
          const ds = withLabels({ app: 'x' }, { app: 'x', ...extraTemplateLabels });
          const list = Array.from({ length: n }, (_, i) =>
            node(`node-${i}`, tainted[i] ? { taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }] } : {}),
          );
          const pods = withPod.filter((name) => Number(name.slice(5)) < n).map((name) => pod(ds, name));
          const plan = planDaemonSet(snapshot(ds, list, pods));
          const should = list.filter((_, i) => !tainted[i]).length;
          const nodesCreated = plan.creates.map((c) => c.nodeName);
          expect(new Set(nodesCreated).size).toBe(nodesCreated.length);
          expect(nodesCreated.length).toBeLessThanOrEqual(should);
          for (const c of plan.creates) {
            expect(tainted[Number(c.nodeName.slice(5))]).toBe(false);
            expect(labelSelectorMatches(ds.spec!.selector, c.pod.metadata!.labels)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
