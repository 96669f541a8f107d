// Claims (upstream ClaimObject) as a pure decision: the table of who is adopted,
// released or ignored, and the planner counting the claims as done.
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { daemonOwnerRef } from '../../../src/contract/daemon-pod.ts';
import { APPS_V1_DAEMONSET } from '../../../src/contract/daemon-pod.ts';
import { decideClaims, type Claimer } from '../../../src/controller/claims.ts';
import { planDaemonSet } from '../../../src/controller/plan.ts';
import { createdNodes, daemonSet, nodes, pod, snapshot } from './fixtures.ts';

const ds = daemonSet();
const claimer = (over: Partial<Claimer> = {}): Claimer => ({
  uid: ds.metadata!.uid!,
  namespace: 'default',
  selector: ds.spec!.selector,
  deleting: false,
  ownerRef: daemonOwnerRef(APPS_V1_DAEMONSET, ds),
  ...over,
});

const orphan = (p: V1Pod): V1Pod => ({ ...p, metadata: { ...p.metadata, ownerReferences: [] } });
const relabel = (p: V1Pod, labels: Record<string, string>): V1Pod => ({
  ...p,
  metadata: { ...p.metadata, labels },
});
const ownedBy = (p: V1Pod, uid: string): V1Pod => ({
  ...p,
  metadata: {
    ...p.metadata,
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'other', uid, controller: true }],
  },
});
const names = (pods: readonly V1Pod[]) => pods.map((p) => p.metadata!.name);

describe('decideClaims (upstream ClaimObject)', () => {
  const matching = pod(ds, 'node-0');
  const notMatching = relabel(pod(ds, 'node-1'), { other: 'x' });
  const matchingOrphan = orphan(pod(ds, 'node-2'));
  const otherOrphan = relabel(orphan(pod(ds, 'node-3')), { other: 'x' });
  const terminatingOrphan = orphan(pod(ds, 'node-4', { deleting: true }));
  const foreignNamespace: V1Pod = {
    ...orphan(pod(ds, 'node-5')),
    metadata: { ...orphan(pod(ds, 'node-5')).metadata, namespace: 'elsewhere' },
  };
  const someoneElses = ownedBy(pod(ds, 'node-6'), 'another-uid');

  const rows: Array<{
    name: string;
    claimer: Claimer;
    owned: V1Pod[];
    orphans: V1Pod[];
    adopt: V1Pod[];
    release: V1Pod[];
    controlled: V1Pod[];
  }> = [
    {
      name: 'owned and matching: kept',
      claimer: claimer(),
      owned: [matching],
      orphans: [],
      adopt: [],
      release: [],
      controlled: [matching],
    },
    {
      name: 'owned, no longer matching: released',
      claimer: claimer(),
      owned: [notMatching],
      orphans: [],
      adopt: [],
      release: [notMatching],
      controlled: [],
    },
    {
      name: 'owned, not matching, owner being deleted: neither kept nor released',
      claimer: claimer({ deleting: true }),
      owned: [notMatching],
      orphans: [],
      adopt: [],
      release: [],
      controlled: [],
    },
    {
      name: 'matching orphan: adopted',
      claimer: claimer(),
      owned: [],
      orphans: [matchingOrphan],
      adopt: [matchingOrphan],
      release: [],
      controlled: [matchingOrphan],
    },
    {
      name: 'orphans the selector misses, terminating orphans, other namespaces: ignored',
      claimer: claimer(),
      owned: [],
      orphans: [otherOrphan, terminatingOrphan, foreignNamespace],
      adopt: [],
      release: [],
      controlled: [],
    },
    {
      name: 'owner being deleted: adopts nothing',
      claimer: claimer({ deleting: true }),
      owned: [],
      orphans: [matchingOrphan],
      adopt: [],
      release: [],
      controlled: [],
    },
    {
      name: "another owner's objects: ignored, whichever list they come in",
      claimer: claimer(),
      owned: [someoneElses],
      orphans: [someoneElses],
      adopt: [],
      release: [],
      controlled: [],
    },
  ];

  it.each(rows)('$name', (row) => {
    const d = decideClaims(row.claimer, row.owned, row.orphans);
    expect(names(d.adopt)).toEqual(names(row.adopt));
    expect(names(d.release)).toEqual(names(row.release));
    expect(names(d.controlled)).toEqual(names(row.controlled));
  });

  it('an adopted object reads as controlled by the owner, with the reference it will get', () => {
    const d = decideClaims(claimer(), [], [matchingOrphan]);
    expect(d.controlled[0]!.metadata!.ownerReferences).toEqual([daemonOwnerRef(APPS_V1_DAEMONSET, ds)]);
    expect(matchingOrphan.metadata!.ownerReferences).toEqual([]);
  });
});

describe('the planner plans the claims and counts them as done', () => {
  it('adopts a matching orphan on a node instead of creating a second pod there', () => {
    const o = orphan(pod(ds, 'node-0'));
    const plan = planDaemonSet(snapshot(ds, nodes(2), [pod(ds, 'node-1')], { orphanPods: [o] }));
    expect(plan.claims.adopt).toEqual([
      { resource: 'pods', namespace: 'default', name: o.metadata!.name, uid: o.metadata!.uid },
    ]);
    expect(plan.claims.ownerRef).toEqual(daemonOwnerRef(APPS_V1_DAEMONSET, ds));
    expect(createdNodes(plan)).toEqual([]);
    expect(plan.status?.currentNumberScheduled).toBe(2);
  });

  it('releases a pod whose labels stopped matching and replaces it', () => {
    const moved = relabel(pod(ds, 'node-0'), { other: 'x' });
    const plan = planDaemonSet(snapshot(ds, nodes(2), [moved, pod(ds, 'node-1')]));
    expect(plan.claims.release.map((c) => c.name)).toEqual([moved.metadata!.name]);
    expect(createdNodes(plan)).toEqual(['node-0']);
    expect(plan.deletes).toEqual([]);
  });

  it('adopts orphaned ControllerRevisions that match', () => {
    const first = planDaemonSet(snapshot(ds, nodes(1)));
    const created = first.history.create!;
    const rev = { ...created, metadata: { ...created.metadata, uid: 'rev-uid', ownerReferences: [] } };
    const plan = planDaemonSet(snapshot(ds, nodes(1), [], { orphanRevisions: [rev] }));
    expect(plan.claims.adopt).toEqual([
      { resource: 'controllerrevisions', namespace: 'default', name: rev.metadata.name, uid: 'rev-uid' },
    ]);
    expect(plan.history.create).toBeUndefined();
  });

  it('claims nothing for a DaemonSet being deleted or selecting everything', () => {
    const o = orphan(pod(ds, 'node-0'));
    const deleting = {
      ...ds,
      metadata: { ...ds.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' as never },
    };
    const all = { ...ds, spec: { ...ds.spec!, selector: {} } };
    for (const d of [deleting, all]) {
      const plan = planDaemonSet(snapshot(d, nodes(1), [], { orphanPods: [o] }));
      expect(plan.claims.adopt).toEqual([]);
      expect(plan.claims.release).toEqual([]);
    }
  });
});
