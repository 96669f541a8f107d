// Property tests over generated pods: whatever the pod carries, the patched pod
// is pinned to exactly the target node, carries each daemon toleration exactly
// once, and is otherwise unchanged; patching it again changes nothing.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyPatch } from 'rfc6902';
import type { V1Pod, V1Toleration } from '@kubernetes/client-node';
import {
  isDaemonOwner,
  TARGET_NODE_ANNOTATION,
  daemonTolerations,
  pinnedNodeOf,
  sameToleration,
  type NetworkUnavailableMode,
} from '../../../src/contract/daemon-pod.ts';
import { admitPod, mutatePod } from '../../../src/webhook/mutate.ts';
import { pinnedRequired } from './fixtures.ts';

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/);
const nodeName = fc.oneof(
  label,
  fc.tuple(label, label).map(([a, b]) => `${a}.${b}`),
);
const taintKey = fc.constantFrom(
  'node.kubernetes.io/not-ready',
  'node.kubernetes.io/unreachable',
  'node.kubernetes.io/disk-pressure',
  'node.kubernetes.io/memory-pressure',
  'node.kubernetes.io/pid-pressure',
  'node.kubernetes.io/unschedulable',
  'node.kubernetes.io/network-unavailable',
  'node-role.kubernetes.io/control-plane',
  'dedicated',
  'example.com/gpu',
);
// Tolerations near the daemon ones: same keys with other operators, values, effects, seconds.
const toleration: fc.Arbitrary<V1Toleration> = fc.record(
  {
    key: taintKey,
    operator: fc.constantFrom('Exists', 'Equal'),
    value: fc.constantFrom('', 'true', 'x'),
    effect: fc.constantFrom('NoSchedule', 'NoExecute', 'PreferNoSchedule', ''),
    tolerationSeconds: fc.integer({ min: 0, max: 3600 }),
  },
  { requiredKeys: [] },
);
const tolerations = fc.array(toleration, { maxLength: 8 }).chain((list) =>
  // Sometimes repeat entries, to exercise duplicates.
  fc.subarray(list).map((dups) => [...list, ...dups]),
);
const selectorRequirement = fc.record({
  key: fc.constantFrom('kubernetes.io/os', 'disktype', 'metadata.name', 'zone'),
  operator: fc.constantFrom('In', 'NotIn', 'Exists'),
  values: fc.array(label, { maxLength: 3 }),
});
const nodeSelectorTerm = fc.record(
  {
    matchExpressions: fc.array(selectorRequirement, { maxLength: 2 }),
    matchFields: fc.array(selectorRequirement, { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const podAffinityTerm = fc.record({
  labelSelector: fc.record({ matchLabels: fc.dictionary(label, label, { maxKeys: 2 }) }),
  topologyKey: fc.constantFrom('kubernetes.io/hostname', 'topology.kubernetes.io/zone'),
});
const affinity = fc.record(
  {
    nodeAffinity: fc.record(
      {
        requiredDuringSchedulingIgnoredDuringExecution: fc.record({
          nodeSelectorTerms: fc.array(nodeSelectorTerm, { maxLength: 3 }),
        }),
        preferredDuringSchedulingIgnoredDuringExecution: fc.array(
          fc.record({ weight: fc.integer({ min: 1, max: 100 }), preference: nodeSelectorTerm }),
          { maxLength: 2 },
        ),
      },
      { requiredKeys: [] },
    ),
    podAffinity: fc.record({
      requiredDuringSchedulingIgnoredDuringExecution: fc.array(podAffinityTerm, { maxLength: 2 }),
    }),
    podAntiAffinity: fc.record({
      requiredDuringSchedulingIgnoredDuringExecution: fc.array(podAffinityTerm, { maxLength: 2 }),
    }),
  },
  { requiredKeys: [] },
);
const container = fc.record({
  name: label,
  image: fc.constantFrom('nginx:1.27', 'busybox', 'registry.example/agent:v1'),
  args: fc.array(fc.string(), { maxLength: 2 }),
});
const spec = fc.record(
  {
    containers: fc.array(container, { minLength: 1, maxLength: 3 }),
    hostNetwork: fc.boolean(),
    nodeName: label,
    nodeSelector: fc.dictionary(label, label, { maxKeys: 2 }),
    affinity,
    tolerations,
    priorityClassName: fc.constantFrom('system-node-critical', 'high'),
  },
  { requiredKeys: ['containers'] },
);

const daemonOwned = (node: string) =>
  fc.record({
    metadata: fc.record({
      generateName: label.map((l) => `${l}-`),
      namespace: label,
      labels: fc.dictionary(label, label, { maxKeys: 3 }),
      annotations: fc
        .dictionary(
          fc.constantFrom('a.example/x', 'b.example/y~z', 'kubectl.kubernetes.io/restartedAt'),
          fc.string(),
          { maxKeys: 2 },
        )
        .map((a) => ({ ...a, [TARGET_NODE_ANNOTATION]: node })),
      ownerReferences: fc.constant([
        {
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          name: 'ds',
          uid: 'u',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]),
    }),
    spec,
  }) as fc.Arbitrary<V1Pod>;

const mode = fc.constantFrom<NetworkUnavailableMode>('hostNetwork', 'always', 'never');
const ourPod = nodeName.chain((node) => fc.tuple(fc.constant(node), daemonOwned(node), mode));

function patched(pod: V1Pod, networkUnavailable: NetworkUnavailableMode): V1Pod {
  const result = mutatePod(pod, { networkUnavailable });
  if (result.kind !== 'patch') throw new Error(`expected a patch, got ${result.kind}`);
  const copy = structuredClone(pod);
  const errors = applyPatch(copy, result.ops);
  if (errors.some((e) => e !== null)) throw new Error(`patch failed: ${JSON.stringify(errors)}`);
  return copy;
}

/** The pod without required node affinity and tolerations (and parents left empty by removing them). */
function rest(pod: V1Pod): unknown {
  const copy = structuredClone(pod);
  const s = copy.spec!;
  delete s.tolerations;
  if (s.affinity?.nodeAffinity) {
    delete s.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    if (Object.keys(s.affinity.nodeAffinity).length === 0) delete s.affinity.nodeAffinity;
  }
  if (s.affinity && Object.keys(s.affinity).length === 0) delete s.affinity;
  return copy;
}

describe('pinning properties', () => {
  it('exactly one required term pinning the target node', () => {
    fc.assert(
      fc.property(ourPod, ([node, pod, m]) => {
        const after = patched(pod, m);
        expect(after.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual(
          pinnedRequired(node),
        );
        expect(pinnedNodeOf({ ...after, spec: { ...after.spec!, nodeName: undefined } })).toBe(node);
      }),
      { numRuns: 500 },
    );
  });

  it('each daemon toleration exactly once; every other toleration kept in order', () => {
    fc.assert(
      fc.property(ourPod, ([, pod, m]) => {
        const after = patched(pod, m);
        const daemon = daemonTolerations(pod.spec!.hostNetwork === true, m);
        const isDaemon = (t: V1Toleration) => daemon.some((d) => sameToleration(t, d));
        for (const d of daemon) {
          expect(after.spec!.tolerations!.filter((t) => sameToleration(t, d))).toEqual([d]);
        }
        expect(after.spec!.tolerations!.filter((t) => !isDaemon(t))).toEqual(
          (pod.spec!.tolerations ?? []).filter((t) => !isDaemon(t)),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('everything outside required node affinity and tolerations unchanged (spec.nodeName included)', () => {
    fc.assert(
      fc.property(ourPod, ([, pod, m]) => {
        const after = patched(pod, m);
        expect(rest(after)).toEqual(rest(pod));
        expect(after.spec!.nodeName).toBe(pod.spec!.nodeName);
      }),
      { numRuns: 500 },
    );
  });

  it('idempotent: the patched pod gets no operations', () => {
    fc.assert(
      fc.property(ourPod, ([node, pod, m]) => {
        const again = mutatePod(patched(pod, m), { networkUnavailable: m });
        expect(again).toEqual({ kind: 'patch', node, ops: [] });
      }),
      { numRuns: 500 },
    );
  });

  it('pods without a daemon controller, or on UPDATE, are skipped', () => {
    const otherOwner = fc.record({
      apiVersion: fc.constantFrom('apps/v1', 'batch/v1', 'v1', 'extensions/v1beta1'),
      kind: fc.constantFrom('DaemonSet', 'ReplicaSet', 'Job', 'StatefulSet'),
      controller: fc.boolean(),
    });
    fc.assert(
      fc.property(ourPod, fc.array(otherOwner, { maxLength: 3 }), ([, pod, m], owners) => {
        const refs = owners.map((o) => ({ ...o, name: 'x', uid: 'y' }));
        const controller = refs.find((r) => r.controller);
        fc.pre(!controller || !isDaemonOwner(controller));
        const other = { ...pod, metadata: { ...pod.metadata, ownerReferences: refs } };
        expect(mutatePod(other, { networkUnavailable: m }).kind).toBe('skip');
        const update = admitPod(
          { operation: 'UPDATE', kind: { group: '', version: 'v1', kind: 'Pod' }, object: pod },
          { networkUnavailable: m },
        );
        expect(update.kind).toBe('skip');
      }),
      { numRuns: 300 },
    );
  });
});
