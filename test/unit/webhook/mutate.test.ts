// POST /mutate end to end through the express app: each case sends a pod,
// applies the returned JSON Patch and asserts the resulting pod.
import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { createWebhookListener } from '../../../src/webhook/app.ts';
import { TARGET_NODE_ANNOTATION } from '../../../src/contract/daemon-pod.ts';
import {
  DAEMON_TOLERATIONS,
  NETWORK_UNAVAILABLE,
  NODE,
  admit,
  daemonSetOwner,
  fluentdPod,
  networkAgentPod,
  nginxPod,
  pinnedRequired,
} from './fixtures.ts';

const app = createWebhookListener({ networkUnavailable: 'hostNetwork' });

/** The pod without the two fields the webhook may change. */
function outsidePinning(pod: V1Pod): unknown {
  const copy = structuredClone(pod);
  if (copy.spec) {
    delete copy.spec.tolerations;
    const affinity = copy.spec.affinity;
    if (affinity?.nodeAffinity) {
      delete affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
      if (Object.keys(affinity.nodeAffinity).length === 0) delete affinity.nodeAffinity;
    }
    if (affinity && Object.keys(affinity).length === 0) delete copy.spec.affinity;
  }
  return copy;
}

function withSpec(pod: V1Pod, spec: Partial<NonNullable<V1Pod['spec']>>): V1Pod {
  return { ...pod, spec: { ...pod.spec!, ...spec } };
}

describe('the tutorial pods', () => {
  it('pins the nginx pod to its node with the six daemon tolerations', async () => {
    const pod = nginxPod();
    const { response, pod: patched } = await admit(app, pod);
    expect(response.allowed).toBe(true);
    expect(patched.spec!.affinity).toEqual({
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: pinnedRequired(NODE) },
    });
    expect(patched.spec!.tolerations).toEqual(DAEMON_TOLERATIONS);
    expect(patched.spec!.nodeName).toBeUndefined();
    expect(outsidePinning(patched)).toEqual(outsidePinning(pod));
  });

  it('keeps fluentd-elasticsearch tolerations in place and drops tolerationSeconds from the daemon ones', async () => {
    const pod = fluentdPod();
    const { pod: patched } = await admit(app, pod);
    expect(patched.spec!.tolerations).toEqual([
      { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
      ...DAEMON_TOLERATIONS,
    ]);
    expect(patched.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual(
      pinnedRequired(NODE),
    );
    // resources, volumes, env: untouched
    expect(outsidePinning(patched)).toEqual(outsidePinning(pod));
  });

  it('gives the hostNetwork agent network-unavailable exactly once, keeping its own copy', async () => {
    const pod = networkAgentPod();
    const { pod: patched } = await admit(app, pod);
    expect(patched.spec!.tolerations).toEqual([
      NETWORK_UNAVAILABLE,
      { operator: 'Exists', effect: 'NoExecute' },
      ...DAEMON_TOLERATIONS,
    ]);
    expect(outsidePinning(patched)).toEqual(outsidePinning(pod));
  });

  it.each([
    ['nginx', nginxPod],
    ['fluentd-elasticsearch', fluentdPod],
    ['network agent', networkAgentPod],
  ])('is idempotent for the %s pod: the patched pod sent again gets no patch', async (_name, make) => {
    const first = await admit(app, make());
    expect(first.ops.length).toBeGreaterThan(0);
    const second = await admit(app, first.pod);
    expect(second.response).toEqual({ uid: second.uid, allowed: true });
    expect(second.pod).toEqual(first.pod);
  });
});

describe('--network-unavailable', () => {
  it.each([
    ['hostNetwork', false, false],
    ['hostNetwork', true, true],
    ['always', false, true],
    ['always', true, true],
    ['never', false, false],
    ['never', true, false],
  ] as const)('%s with hostNetwork=%s adds network-unavailable: %s', async (mode, hostNetwork, expected) => {
    const modeApp = createWebhookListener({ networkUnavailable: mode });
    const { pod } = await admit(modeApp, withSpec(nginxPod(), { hostNetwork }));
    expect(pod.spec!.tolerations).toEqual(
      expected ? [...DAEMON_TOLERATIONS, NETWORK_UNAVAILABLE] : DAEMON_TOLERATIONS,
    );
  });
});

describe('existing affinity', () => {
  const userRequired = {
    nodeSelectorTerms: [
      { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }] },
      { matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['worker-9'] }] },
    ],
  };
  const preferred = [
    { weight: 10, preference: { matchExpressions: [{ key: 'disktype', operator: 'In', values: ['ssd'] }] } },
  ];
  const podAntiAffinity = {
    requiredDuringSchedulingIgnoredDuringExecution: [
      { labelSelector: { matchLabels: { name: 'nginx' } }, topologyKey: 'kubernetes.io/hostname' },
    ],
  };
  const podAffinity = {
    preferredDuringSchedulingIgnoredDuringExecution: [
      { weight: 1, podAffinityTerm: { labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'zone' } },
    ],
  };

  it('replaces required node affinity terms, keeping preferred terms and pod (anti-)affinity', async () => {
    const pod = withSpec(nginxPod(), {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: userRequired,
          preferredDuringSchedulingIgnoredDuringExecution: preferred,
        },
        podAntiAffinity,
        podAffinity,
      },
    });
    const { pod: patched } = await admit(app, pod);
    expect(patched.spec!.affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: pinnedRequired(NODE),
        preferredDuringSchedulingIgnoredDuringExecution: preferred,
      },
      podAntiAffinity,
      podAffinity,
    });
  });

  it('adds node affinity next to pod anti-affinity', async () => {
    const { pod } = await admit(app, withSpec(nginxPod(), { affinity: { podAntiAffinity } }));
    expect(pod.spec!.affinity).toEqual({
      podAntiAffinity,
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: pinnedRequired(NODE) },
    });
  });

  it('adds the required term next to preferred-only node affinity', async () => {
    const { pod } = await admit(
      app,
      withSpec(nginxPod(), {
        affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: preferred } },
      }),
    );
    expect(pod.spec!.affinity!.nodeAffinity).toEqual({
      preferredDuringSchedulingIgnoredDuringExecution: preferred,
      requiredDuringSchedulingIgnoredDuringExecution: pinnedRequired(NODE),
    });
  });

  it('re-pins a pod already pinned to another node', async () => {
    const pod = withSpec(nginxPod(), {
      affinity: {
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: pinnedRequired('worker-2') },
      },
    });
    const { pod: patched } = await admit(app, pod);
    expect(patched.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual(
      pinnedRequired(NODE),
    );
  });

  it('never sets spec.nodeName, and leaves one the user set', async () => {
    const { pod, ops } = await admit(app, withSpec(nginxPod(), { nodeName: 'worker-7' }));
    expect(pod.spec!.nodeName).toBe('worker-7');
    expect(ops.some((op) => op.path.includes('nodeName'))).toBe(false);
  });
});

describe('existing tolerations', () => {
  it('keeps daemon-key tolerations with other effects, operators or values, and adds the daemon ones', async () => {
    const user = [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unschedulable', operator: 'Equal', value: 'true', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists' },
      { key: 'dedicated', operator: 'Equal', value: 'logging', effect: 'NoExecute', tolerationSeconds: 600 },
    ];
    const { pod } = await admit(app, withSpec(nginxPod(), { tolerations: user }));
    expect(pod.spec!.tolerations).toEqual([...user, ...DAEMON_TOLERATIONS]);
  });

  it('updates matching daemon tolerations in place (tolerationSeconds dropped, as upstream)', async () => {
    const user = [
      { key: 'a', operator: 'Exists' },
      {
        key: 'node.kubernetes.io/disk-pressure',
        operator: 'Exists',
        effect: 'NoSchedule',
        tolerationSeconds: 60,
      },
      {
        key: 'node.kubernetes.io/unreachable',
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: 5,
      },
      { key: 'b', operator: 'Exists' },
    ];
    const { pod } = await admit(app, withSpec(nginxPod(), { tolerations: user }));
    expect(pod.spec!.tolerations).toEqual([
      { key: 'a', operator: 'Exists' },
      { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
      { key: 'b', operator: 'Exists' },
      DAEMON_TOLERATIONS[0],
      DAEMON_TOLERATIONS[3],
      DAEMON_TOLERATIONS[4],
      DAEMON_TOLERATIONS[5],
    ]);
  });

  it('leaves a single copy of a daemon toleration the user listed twice', async () => {
    const dup = {
      key: 'node.kubernetes.io/not-ready',
      operator: 'Exists',
      effect: 'NoExecute',
      tolerationSeconds: 300,
    };
    const { pod } = await admit(
      app,
      withSpec(nginxPod(), { tolerations: [dup, { key: 'x', operator: 'Exists' }, dup] }),
    );
    expect(pod.spec!.tolerations).toEqual([
      DAEMON_TOLERATIONS[0],
      { key: 'x', operator: 'Exists' },
      ...DAEMON_TOLERATIONS.slice(1),
    ]);
    const again = await admit(app, pod);
    expect(again.ops).toEqual([]);
  });

  it('appends to an empty toleration list', async () => {
    const { pod } = await admit(app, withSpec(nginxPod(), { tolerations: [] }));
    expect(pod.spec!.tolerations).toEqual(DAEMON_TOLERATIONS);
  });
});

describe('pods that are not ours are allowed unchanged', () => {
  const unowned = (): V1Pod => {
    const pod = nginxPod();
    delete pod.metadata!.ownerReferences;
    return pod;
  };
  const cases: [string, () => V1Pod, Record<string, unknown>?][] = [
    ['no owner', unowned],
    [
      'a ReplicaSet controller',
      () => ({
        ...nginxPod(),
        metadata: {
          ...nginxPod().metadata,
          ownerReferences: [{ ...daemonSetOwner('web'), apiVersion: 'apps/v1', kind: 'ReplicaSet' }],
        },
      }),
    ],
    [
      'a DaemonSet owner that is not the controller',
      () => ({
        ...nginxPod(),
        metadata: {
          ...nginxPod().metadata,
          ownerReferences: [{ ...daemonSetOwner('nginx'), controller: false }],
        },
      }),
    ],
    [
      'a DaemonSet of another API group',
      () => ({
        ...nginxPod(),
        metadata: {
          ...nginxPod().metadata,
          ownerReferences: [{ ...daemonSetOwner('nginx'), apiVersion: 'extensions/v1beta1' }],
        },
      }),
    ],
    [
      'a DaemonSet pod without the target-node annotation',
      () => ({
        ...nginxPod(),
        metadata: { ...nginxPod().metadata, annotations: { 'kubectl.kubernetes.io/restartedAt': 'now' } },
      }),
    ],
    [
      'no annotations at all',
      () => ({ ...nginxPod(), metadata: { ...nginxPod().metadata, annotations: undefined } }),
    ],
    ['an UPDATE', nginxPod, { operation: 'UPDATE', oldObject: nginxPod() }],
    ['a DELETE', nginxPod, { operation: 'DELETE', object: null, oldObject: nginxPod() }],
    ['a CONNECT', nginxPod, { operation: 'CONNECT' }],
    [
      'a pods/ephemeralcontainers subresource',
      nginxPod,
      { subResource: 'ephemeralcontainers', operation: 'UPDATE' },
    ],
    [
      'a Binding CREATE',
      nginxPod,
      { kind: { group: '', version: 'v1', kind: 'Binding' }, subResource: 'binding' },
    ],
    ['a CREATE of another kind', nginxPod, { kind: { group: 'apps', version: 'v1', kind: 'DaemonSet' } }],
    ['a Pod CREATE without an object', nginxPod, { object: null }],
  ];
  it.each(cases)('%s', async (_name, make, overrides) => {
    const pod = make();
    const { response, pod: after } = await admit(app, pod, overrides);
    expect(response).toEqual({ uid: response.uid, allowed: true });
    expect(after).toEqual(pod);
  });
});

describe('an annotation that cannot name a node', () => {
  it.each([
    ['upper case', 'Worker-1'],
    ['underscore', 'worker_1'],
    ['empty', ''],
    ['leading dash', '-worker'],
    ['trailing dot', 'worker.'],
    ['254 characters', 'a'.repeat(254)],
    ['spaces', 'worker 1'],
  ])('is denied (%s)', async (_name, value) => {
    const pod = nginxPod(value);
    const { response, ops } = await admit(app, pod);
    expect(response.allowed).toBe(false);
    expect(response.status!.code).toBe(403);
    expect(response.status!.message).toContain(TARGET_NODE_ANNOTATION);
    expect(response.status!.message).toContain(JSON.stringify(value));
    expect(response.status!.message).toContain('not a valid node name');
    expect(ops).toEqual([]);
  });

  it('accepts a 253-character dotted name', async () => {
    const name = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.');
    expect(name).toHaveLength(253);
    const { response, pod } = await admit(app, nginxPod(name));
    expect(response.allowed).toBe(true);
    expect(pod.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual(
      pinnedRequired(name),
    );
  });
});

describe('a pod that makes the decision throw', () => {
  it('is answered HTTP 200 with allowed:false and code 500 (controller-runtime Errored)', async () => {
    const { response } = await admit(app, withSpec(nginxPod(), { tolerations: [null as never] }));
    expect(response.allowed).toBe(false);
    expect(response.status!.code).toBe(500);
    expect(response.status!.message).toMatch(/^internal error: /);
  });
});
