// In-place updates (update-mode InPlaceIfPossible): which template changes a running pod can
// take (inPlaceDiff, qosClass), when the kubelet has acted (inPlaceDone), and the planner's
// rolling update with them, sync by sync on the simulated cluster of fixtures.ts.
import type { V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  IN_PLACE_UPDATE_ANNOTATION,
  UPDATE_MODE_ANNOTATION,
  parseInPlaceRecord,
  type InPlaceRecord,
} from '../../../src/contract/rollout.ts';
import { ControllerExpectations } from '../../../src/controller/expectations.ts';
import { DetachedWrites } from '../../../src/controller/executor.ts';
import {
  inPlaceDiff,
  inPlaceDone,
  inPlacePending,
  inPlaceRefusalKey,
  projectInPlace,
  qosClass,
} from '../../../src/controller/in-place.ts';
import { planDaemonSet } from '../../../src/controller/plan.ts';
import { autoPauseTrigger } from '../../../src/controller/rollout-control.ts';
import { isPodAvailable } from '../../../src/controller/pods.ts';
import type { PodInPlaceUpdate } from '../../../src/controller/types.ts';
import {
  Cluster,
  NOW,
  changeTemplate,
  counts,
  daemonSet,
  markRestarted,
  nodes,
  rollingUpdate,
  setImage,
  surge,
  type Strategy,
} from './fixtures.ts';

const template = (
  containers: V1PodTemplateSpec['spec'] extends infer S
    ? S extends { containers: infer C }
      ? C
      : never
    : never,
  extra: Partial<NonNullable<V1PodTemplateSpec['spec']>> = {},
): V1PodTemplateSpec => ({
  metadata: { labels: { app: 'a' } },
  spec: { containers, ...extra },
});

describe('inPlaceDiff', () => {
  const base = template([
    { name: 'app', image: 'app:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } },
    { name: 'side', image: 'side:1' },
  ]);
  const rows: Array<[string, (t: V1PodTemplateSpec) => void, string | Partial<Record<string, unknown>>]> = [
    [
      'one image',
      (t) => (t.spec!.containers[0]!.image = 'app:2'),
      { images: [{ name: 'app', image: 'app:2' }] },
    ],
    [
      'two images',
      (t) => {
        t.spec!.containers[0]!.image = 'app:2';
        t.spec!.containers[1]!.image = 'side:2';
      },
      {
        images: [
          { name: 'app', image: 'app:2' },
          { name: 'side', image: 'side:2' },
        ],
      },
    ],
    [
      'an init container image',
      (t) => (t.spec!.initContainers = [{ name: 'init', image: 'init:2' }]),
      'spec.initContainers: containers added or removed',
    ],
    [
      'a cpu request (Burstable stays Burstable)',
      (t) => (t.spec!.containers[0]!.resources = { requests: { cpu: '20m', memory: '16Mi' } }),
      { resources: [{ name: 'app', resources: { requests: { cpu: '20m', memory: '16Mi' } } }] },
    ],
    [
      'an ephemeral-storage request',
      (t) =>
        (t.spec!.containers[0]!.resources = {
          requests: { cpu: '10m', memory: '16Mi', 'ephemeral-storage': '1Gi' },
        }),
      'spec.containers[app].resources: only cpu and memory can be resized',
    ],
    [
      'requests removed (Burstable → BestEffort)',
      (t) => delete t.spec!.containers[0]!.resources,
      'the QoS class changes (Burstable → BestEffort)',
    ],
    [
      'an env var',
      (t) => (t.spec!.containers[0]!.env = [{ name: 'A', value: '1' }]),
      'spec.containers changes',
    ],
    [
      'a container added',
      (t) => t.spec!.containers.push({ name: 'x', image: 'x' }),
      'spec.containers: containers added or removed',
    ],
    [
      'containers reordered',
      (t) => t.spec!.containers.reverse(),
      'spec.containers: containers renamed or reordered',
    ],
    ['a template label', (t) => (t.metadata!.labels!.tier = 'x'), 'metadata.labels.tier changes'],
    ['a volume', (t) => (t.spec!.volumes = [{ name: 'v', emptyDir: {} }]), 'spec.volumes changes'],
    ['nothing', () => undefined, 'no container changes'],
  ];
  it.each(rows)('%s', (_, change, want) => {
    const to = structuredClone(base);
    change(to);
    const diff = inPlaceDiff(base, to);
    if (typeof want === 'string') {
      expect(diff).toEqual({ possible: false, why: want });
    } else {
      expect(diff.possible).toBe(true);
      if (diff.possible)
        expect(diff.change).toMatchObject({ images: [], initImages: [], resources: [], ...want });
    }
  });

  it('an init container image alone is in place', () => {
    const from = template([{ name: 'app', image: 'app:1' }], {
      initContainers: [{ name: 'init', image: 'init:1' }],
    });
    const to = structuredClone(from);
    to.spec!.initContainers![0]!.image = 'init:2';
    expect(inPlaceDiff(from, to)).toEqual({
      possible: true,
      change: { images: [], initImages: [{ name: 'init', image: 'init:2' }], resources: [] },
    });
  });
});

describe('qosClass (upstream GetPodQOS)', () => {
  it.each([
    ['no resources', template([{ name: 'a' }]), 'BestEffort'],
    ['requests only', template([{ name: 'a', resources: { requests: { cpu: '1' } } }]), 'Burstable'],
    [
      'limits = requests for cpu and memory',
      template([
        {
          name: 'a',
          resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } },
        },
      ]),
      'Guaranteed',
    ],
    [
      'limits only (requests default to them)',
      template([{ name: 'a', resources: { limits: { cpu: '1', memory: '1Gi' } } }]),
      'Guaranteed',
    ],
    [
      'one container without limits',
      template([{ name: 'a', resources: { limits: { cpu: '1', memory: '1Gi' } } }, { name: 'b' }]),
      'Burstable',
    ],
  ] as const)('%s → %s', (_, t, want) => expect(qosClass(t)).toBe(want));
});

describe('inPlaceDone', () => {
  const record: InPlaceRecord = {
    revision: 'h2',
    startedAt: '2026-01-01T00:00:00Z',
    containers: { app: { imageID: 'sha256:old', restartCount: 3 } },
  };
  const podWith = (
    status: Partial<V1Pod['status']>,
    conditions: Array<{ type: string; status: string }> = [],
  ) =>
    ({
      metadata: { labels: { 'controller-revision-hash': 'h2' } },
      spec: { containers: [{ name: 'app', image: 'app:2', resources: { requests: { cpu: '20m' } } }] },
      status: { ...status, conditions },
    }) as unknown as V1Pod;
  it.each([
    ['not restarted yet', { imageID: 'sha256:old', restartCount: 3, state: { running: {} } }, false],
    ['new image ID, running', { imageID: 'sha256:new', restartCount: 3, state: { running: {} } }, true],
    [
      'restarted (same digest), running',
      { imageID: 'sha256:old', restartCount: 4, state: { running: {} } },
      true,
    ],
    [
      'new image ID but waiting (pulling)',
      { imageID: 'sha256:new', restartCount: 4, state: { waiting: {} } },
      false,
    ],
  ] as const)('%s → %s', (_, status, want) => {
    const pod = podWith({
      containerStatuses: [{ name: 'app', image: 'app:2', ready: false, ...status }],
    });
    expect(inPlaceDone(pod, record)).toBe(want);
  });
  it('a resize is done when no resize condition is True and the reported resources match the spec', () => {
    const resized: InPlaceRecord = { ...record, containers: {}, resized: ['app'] };
    const running = { name: 'app', image: 'app:2', ready: true, restartCount: 0, state: { running: {} } };
    const old = { ...running, resources: { requests: { cpu: '10m' } } };
    const now = { ...running, resources: { requests: { cpu: '20m' } } };
    expect(inPlaceDone(podWith({ containerStatuses: [old as never] }), resized)).toBe(false);
    expect(
      inPlaceDone(
        podWith({ containerStatuses: [now as never] }, [{ type: 'PodResizeInProgress', status: 'True' }]),
        resized,
      ),
    ).toBe(false);
    expect(inPlaceDone(podWith({ containerStatuses: [now as never] }), resized)).toBe(true);
  });
  it('a record for another revision than the pod is labelled with is not pending', () => {
    const pod = podWith({ containerStatuses: [] });
    pod.metadata!.annotations = {
      [IN_PLACE_UPDATE_ANNOTATION]: JSON.stringify({ ...record, revision: 'h1' }),
    };
    expect(inPlacePending(pod)).toBe(false);
    pod.metadata!.annotations = { [IN_PLACE_UPDATE_ANNOTATION]: JSON.stringify(record) };
    expect(inPlacePending(pod)).toBe(true);
    expect(isPodAvailable(pod, 0, NOW)).toBe(false);
  });
  it('answers are derived again when a part of the same pod object is replaced (they are cached per object)', () => {
    const waiting = { name: 'app', image: 'app:2', ready: false, imageID: 'sha256:old', restartCount: 3 };
    const pod = podWith({ containerStatuses: [{ ...waiting, state: { running: {} } }] }, [
      { type: 'Ready', status: 'True' },
    ]);
    pod.metadata!.annotations = { [IN_PLACE_UPDATE_ANNOTATION]: JSON.stringify(record) };
    expect(inPlacePending(pod)).toBe(true);
    expect(isPodAvailable(pod, 0, NOW)).toBe(false);
    // The kubelet restarts the container with the new image: a new containerStatuses list.
    pod.status!.containerStatuses = [{ ...waiting, imageID: 'sha256:new', state: { running: {} } }];
    expect(inPlacePending(pod)).toBe(false);
    expect(isPodAvailable(pod, 0, NOW)).toBe(true);
    // Then it turns not Ready: new conditions.
    pod.status!.conditions = [{ type: 'Ready', status: 'False' }];
    expect(isPodAvailable(pod, 0, NOW)).toBe(false);
    // Moved back to the old revision's labels: the record no longer speaks for it.
    pod.status!.containerStatuses = [{ ...waiting, state: { running: {} } }];
    expect(inPlacePending(pod)).toBe(true);
    pod.metadata!.labels = { 'controller-revision-hash': 'h1' };
    expect(inPlacePending(pod)).toBe(false);
  });
  it('a malformed record is ignored', () => {
    expect(parseInPlaceRecord('{"revision":1}')).toBeUndefined();
    expect(parseInPlaceRecord('not json')).toBeUndefined();
  });
});

// ---- the planner ---------------------------------------------------------------------------

/** `n` nodes whose pods all run and are Ready, then a new image with `strategy` and `mode`. */
function updated(n: number, strategy: Strategy, mode = 'InPlaceIfPossible', change = setImage): Cluster {
  const ds = daemonSet('foo', strategy);
  ds.metadata!.annotations![UPDATE_MODE_ANNOTATION] = mode;
  const cluster = new Cluster(ds, nodes(n));
  expect(counts(cluster.sync())).toEqual({ creates: n, deletes: 0 });
  cluster.markPodsReady();
  cluster.sync();
  change(cluster.ds, 'foo2/bar2');
  return cluster;
}

const pending = (cluster: Cluster) => cluster.pods.filter(inPlacePending);

describe('planDaemonSet with update-mode InPlaceIfPossible', () => {
  it('patches old pods in place, never more restarting than maxUnavailable, until every pod runs the new revision', () => {
    const cluster = updated(5, rollingUpdate(2));
    const uids = cluster.pods.map((p) => p.metadata?.uid).sort();
    let patched = 0;
    for (let i = 0; i < 10 && patched < 5; i++) {
      const plan = cluster.sync();
      expect(plan.deletes).toEqual([]);
      expect(plan.creates).toEqual([]);
      patched += plan.inPlaceUpdates.length;
      expect(pending(cluster).length).toBeLessThanOrEqual(2);
      // The status counts a patched pod neither updated nor available until it restarted.
      expect(plan.status?.updatedNumberScheduled ?? cluster.ds.status?.updatedNumberScheduled).toBe(
        patched - pending(cluster).length,
      );
      // A second sync before the kubelet acts changes nothing: the pending pods use the budget.
      expect(cluster.sync().inPlaceUpdates).toEqual([]);
      for (const p of pending(cluster)) markRestarted(p, cluster.now);
    }
    expect(patched).toBe(5);
    const final = cluster.sync();
    expect(final.status?.updatedNumberScheduled).toBe(5);
    expect(final.status?.numberAvailable).toBe(5);
    expect(cluster.pods.map((p) => p.metadata?.uid).sort()).toEqual(uids);
    const hash = cluster.currentHash();
    for (const p of cluster.pods) {
      expect(p.metadata?.labels?.['controller-revision-hash']).toBe(hash);
      expect(p.metadata?.labels?.['pod-template-generation']).toBe('2');
      expect(p.spec?.containers[0]?.image).toBe('foo2/bar2');
      expect(parseInPlaceRecord(p.metadata?.annotations?.[IN_PLACE_UPDATE_ANNOTATION])?.revision).toBe(hash);
    }
  });

  it('the patch carries the uid guard, the new labels, the record and only the changed images', () => {
    const cluster = updated(1, rollingUpdate(1));
    const [u] = cluster.sync().inPlaceUpdates;
    const pod = cluster.pods[0]!;
    expect(u).toMatchObject({
      name: pod.metadata?.name,
      uid: pod.metadata?.uid,
      patch: {
        metadata: { uid: pod.metadata?.uid, labels: { 'pod-template-generation': '2' } },
        spec: { containers: [{ name: 'foo', image: 'foo2/bar2' }] },
      },
    });
    expect(u!.resize).toBeUndefined();
  });

  it('Recreate (the default) deletes', () => {
    const cluster = updated(3, rollingUpdate(1), 'Recreate');
    const plan = cluster.sync();
    expect(plan.inPlaceUpdates).toEqual([]);
    expect(plan.deletes).toHaveLength(1);
  });

  it('a change beyond images recreates, with an event saying why', () => {
    const cluster = updated(2, rollingUpdate(2), 'InPlaceIfPossible', (ds) =>
      changeTemplate(ds, (spec) => (spec.template.spec!.containers[0]!.env = [{ name: 'A', value: '1' }])),
    );
    const plan = cluster.sync();
    expect(plan.inPlaceUpdates).toEqual([]);
    expect(plan.deletes).toHaveLength(2);
    expect(plan.events).toContainEqual({
      type: 'Normal',
      reason: 'InPlaceUpdateNotPossible',
      message: expect.stringMatching(
        /^Recreating pod foo-node-\d-\d, foo-node-\d-\d: spec\.containers changes$/,
      ),
    });
  });

  it('a pod whose in-place update the API server refused is recreated', () => {
    const cluster = updated(2, rollingUpdate(2));
    const hash = planDaemonSet(cluster.snapshot()).history.current.hash;
    const refusedUid = cluster.pods[0]!.metadata!.uid!;
    const plan = planDaemonSet({
      ...cluster.snapshot(),
      inPlaceRefused: new Set([inPlaceRefusalKey(refusedUid, hash)]),
    });
    expect(plan.deletes.map((d) => d.uid)).toEqual([refusedUid]);
    expect(plan.inPlaceUpdates.map((u) => u.uid)).toEqual([cluster.pods[1]!.metadata!.uid]);
    expect(plan.events.map((e) => e.message)).toContainEqual(
      expect.stringContaining('the API server refused the in-place update'),
    );
  });

  it('with maxSurge the rollout surges (a new pod beside the old one) and says in place does not apply', () => {
    const cluster = updated(2, surge(1));
    const plan = cluster.sync();
    expect(plan.inPlaceUpdates).toEqual([]);
    expect(plan.creates).toHaveLength(1);
    expect(plan.events.map((e) => e.reason)).toContain('InPlaceUpdateNotPossible');
  });

  it('a pod whose revision left the history is recreated', () => {
    const cluster = updated(1, rollingUpdate(1));
    cluster.sync(); // creates the new revision
    // Forget the pods' revision (as if revisionHistoryLimit had dropped it) and move to a third template.
    const current = cluster.currentHash();
    cluster.revisions = cluster.revisions.filter(
      (r) => r.metadata?.labels?.['controller-revision-hash'] === current,
    );
    cluster.pods = [];
    cluster.sync();
    cluster.markPodsReady();
    cluster.pods[0]!.metadata!.labels!['controller-revision-hash'] = 'gone';
    setImage(cluster.ds, 'foo3/bar3');
    const plan = cluster.sync();
    expect(plan.deletes).toHaveLength(1);
    expect(plan.events.map((e) => e.message)).toContainEqual(
      expect.stringContaining('no longer in the history'),
    );
  });
});

describe('ControllerExpectations for in-place updates', () => {
  const patchTo = (uid: string, hash: string): PodInPlaceUpdate => ({
    name: `pod-${uid}`,
    uid,
    nodeName: `node-${uid}`,
    hash,
    patch: { metadata: { uid, labels: { 'controller-revision-hash': hash }, annotations: {} } },
  });

  it('keeps each patched pod in flight until it is seen with its new hash (or gone), without blocking creates and deletes', () => {
    const e = new ControllerExpectations({ now: () => NOW });
    e.expectInPlace('ns/ds', [patchTo('u1', 'h2'), patchTo('u2', 'h2')]);
    expect(e.satisfied('ns/ds')).toBe(true);
    expect([...e.inPlaceInFlight('ns/ds').keys()]).toEqual(['u1', 'u2']);
    e.updateObserved('ns/ds', 'u1', 'h1'); // an older event, still the old hash
    expect([...e.inPlaceInFlight('ns/ds').keys()]).toEqual(['u1', 'u2']);
    e.updateObserved('ns/ds', 'u1', 'h2');
    expect([...e.inPlaceInFlight('ns/ds').keys()]).toEqual(['u2']);
    e.updateObserved('ns/ds', 'u2', undefined); // deleted
    expect(e.inPlaceInFlight('ns/ds').size).toBe(0);
  });

  it("a later sync's setExpectations (creates, deletes) leaves the patches in flight", () => {
    const e = new ControllerExpectations({ now: () => NOW });
    e.expectInPlace('ns/ds', [patchTo('u1', 'h2')]);
    e.setExpectations('ns/ds', 1, ['u9']);
    expect(e.satisfied('ns/ds')).toBe(false);
    expect([...e.inPlaceInFlight('ns/ds').keys()]).toEqual(['u1']);
  });

  it('a failed patch is forgotten, but not a newer patch of the same pod that replaced it', () => {
    const e = new ControllerExpectations({ now: () => NOW });
    const first = patchTo('u1', 'h2');
    e.expectInPlace('ns/ds', [first]);
    e.inPlaceFailed('ns/ds', first);
    expect(e.inPlaceInFlight('ns/ds').size).toBe(0);
    const second = patchTo('u1', 'h3');
    e.expectInPlace('ns/ds', [first]);
    e.expectInPlace('ns/ds', [second]);
    e.inPlaceFailed('ns/ds', first);
    expect(e.inPlaceInFlight('ns/ds').get('u1')).toBe(second);
  });

  it('after five minutes the cache is trusted again; deleteExpectations forgets them', () => {
    let now = NOW;
    const e = new ControllerExpectations({ now: () => now });
    e.expectInPlace('ns/ds', [patchTo('u1', 'h2')]);
    now += 5 * 60_000 + 1;
    expect(e.inPlaceInFlight('ns/ds').size).toBe(0);
    e.expectInPlace('ns/ds', [patchTo('u2', 'h2')]);
    e.deleteExpectations('ns/ds');
    expect(e.inPlaceInFlight('ns/ds').size).toBe(0);
    expect(e.size()).toBe(0);
  });
});

describe('projectInPlace', () => {
  it("gives the pod the patch's labels, record, images and resized resources, leaving the original alone", () => {
    const pod: V1Pod = {
      metadata: {
        uid: 'u1',
        labels: { app: 'a', 'controller-revision-hash': 'h1' },
        annotations: { keep: 'me' },
      },
      spec: {
        containers: [
          { name: 'app', image: 'app:1', resources: { requests: { cpu: '100m' } } },
          { name: 'side', image: 'side:1' },
        ],
        initContainers: [{ name: 'init', image: 'init:1' }],
      },
      status: { phase: 'Running' },
    };
    const before = structuredClone(pod);
    const u: PodInPlaceUpdate = {
      name: 'p',
      uid: 'u1',
      nodeName: 'n',
      hash: 'h2',
      patch: {
        metadata: {
          uid: 'u1',
          labels: { 'controller-revision-hash': 'h2', 'pod-template-generation': '2' },
          annotations: { [IN_PLACE_UPDATE_ANNOTATION]: '{}' },
        },
        spec: {
          containers: [{ name: 'app', image: 'app:2' }],
          initContainers: [{ name: 'init', image: 'init:2' }],
        },
      },
      resize: { spec: { containers: [{ name: 'app', resources: { requests: { cpu: '200m' } } }] } },
    };
    const projected = projectInPlace(pod, u);
    expect(pod).toEqual(before);
    expect(projected.metadata?.labels).toEqual({
      app: 'a',
      'controller-revision-hash': 'h2',
      'pod-template-generation': '2',
    });
    expect(projected.metadata?.annotations).toEqual({ keep: 'me', [IN_PLACE_UPDATE_ANNOTATION]: '{}' });
    expect(projected.spec?.containers.map((c) => [c.image, c.resources])).toEqual([
      ['app:2', { requests: { cpu: '200m' } }],
      ['side:1', undefined],
    ]);
    expect(projected.spec?.initContainers?.[0]?.image).toBe('init:2');
    expect(projected.status).toBe(pod.status);
  });
});

describe('planDaemonSet with in-place patches in flight (sent, not yet in the cache)', () => {
  const held = (n: number, maxUnavailable: number) => {
    const cluster = updated(n, rollingUpdate(maxUnavailable));
    cluster.holdInPlace = true;
    return cluster;
  };
  /** Pods restarting or about to: patches in flight plus patched pods the kubelet has not finished. */
  const restarting = (cluster: Cluster) =>
    new Set([...cluster.inFlight.keys(), ...pending(cluster).map((p) => p.metadata?.uid ?? '')]);

  it('a pod whose patch is in flight uses the budget and is not patched again; its status is not available', () => {
    const cluster = held(5, 2);
    const first = cluster.sync();
    expect(first.inPlaceUpdates).toHaveLength(2);
    const again = cluster.sync();
    expect(again.inPlaceUpdates).toEqual([]);
    expect(again.deletes).toEqual([]);
    expect(again.creates).toEqual([]);
    expect(cluster.ds.status?.numberAvailable).toBe(3);
    expect(cluster.ds.status?.updatedNumberScheduled).toBe(0);
  });

  it('a slot freed while another patch is still in flight is used at once, by another pod', () => {
    const cluster = held(5, 2);
    const [a, b] = cluster.sync().inPlaceUpdates;
    cluster.landInPlace(a!.uid);
    markRestarted(
      cluster.pods.find((p) => p.metadata?.uid === a!.uid)!,
      cluster.now,
    );
    const next = cluster.sync();
    expect(next.inPlaceUpdates).toHaveLength(1);
    expect([a!.uid, b!.uid]).not.toContain(next.inPlaceUpdates[0]!.uid);
    expect(restarting(cluster).size).toBe(2);
  });

  it('creates and deletes not yet observed still hold the sync to its status (upstream expectations)', () => {
    const cluster = held(5, 2);
    const [a] = cluster.sync().inPlaceUpdates;
    cluster.landInPlace(a!.uid);
    markRestarted(
      cluster.pods.find((p) => p.metadata?.uid === a!.uid)!,
      cluster.now,
    );
    cluster.expectationsSatisfied = false;
    expect(cluster.sync().inPlaceUpdates).toEqual([]);
    cluster.expectationsSatisfied = true;
    expect(cluster.sync().inPlaceUpdates).toHaveLength(1);
  });

  it('whatever order patches land and pods restart in, never more than maxUnavailable restart, no pod is patched twice, and every pod ends updated', () => {
    // A small deterministic generator: the same sequence every run.
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const [n, maxUnavailable] of [
      [12, 3],
      [7, 1],
      [9, 9],
    ] as const) {
      const cluster = held(n, maxUnavailable);
      const patchedUids: string[] = [];
      for (let step = 0; step < 400 && !allUpdated(cluster); step++) {
        const plan = cluster.sync();
        expect(plan.deletes).toEqual([]);
        expect(plan.creates).toEqual([]);
        for (const u of plan.inPlaceUpdates) {
          expect(patchedUids).not.toContain(u.uid);
          patchedUids.push(u.uid);
        }
        expect(restarting(cluster).size).toBeLessThanOrEqual(maxUnavailable);
        for (const uid of [...cluster.inFlight.keys()]) if (random() < 0.4) cluster.landInPlace(uid);
        for (const p of pending(cluster)) if (random() < 0.4) markRestarted(p, cluster.now);
        cluster.now += 100;
      }
      expect(allUpdated(cluster)).toBe(true);
      expect(patchedUids.sort()).toEqual(cluster.pods.map((p) => p.metadata?.uid).sort());
      const final = cluster.sync();
      expect(final.status?.updatedNumberScheduled ?? cluster.ds.status?.updatedNumberScheduled).toBe(n);
      expect(final.status?.numberAvailable ?? cluster.ds.status?.numberAvailable).toBe(n);
    }
  });
});

const allUpdated = (cluster: Cluster) =>
  cluster.inFlight.size === 0 &&
  pending(cluster).length === 0 &&
  cluster.pods.every((p) => p.spec?.containers[0]?.image === 'foo2/bar2');

describe('auto-pause and in-place updates', () => {
  const patchedPod = (startedAtMs: number, createdMs: number): V1Pod =>
    ({
      metadata: {
        creationTimestamp: new Date(createdMs).toISOString(),
        labels: { 'controller-revision-hash': 'h2' },
        annotations: {
          [IN_PLACE_UPDATE_ANNOTATION]: JSON.stringify({
            revision: 'h2',
            startedAt: new Date(startedAtMs).toISOString(),
            containers: { app: { imageID: '', restartCount: 0 } },
          }),
        },
      },
      spec: { containers: [{ name: 'app', image: 'app:2' }] },
      status: { conditions: [{ type: 'Ready', status: 'False' }] },
    }) as unknown as V1Pod;
  const hour = 3_600_000;
  it('a pod created an hour ago but patched a second ago is not "not Ready within 5 min"', () => {
    expect(autoPauseTrigger(patchedPod(NOW - 1000, NOW - hour), undefined, 0, NOW)).toBeUndefined();
  });
  it('six minutes after the patch it is', () => {
    expect(autoPauseTrigger(patchedPod(NOW - 6 * 60_000, NOW - hour), undefined, 0, NOW)).toMatch(
      /not Ready within/,
    );
  });
  it('a patched pod whose new image cannot be pulled triggers at once', () => {
    const pod = patchedPod(NOW - 1000, NOW - hour);
    pod.status!.containerStatuses = [
      {
        name: 'app',
        image: 'app:2',
        imageID: '',
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: 'ErrImagePull' } },
      },
    ];
    expect(autoPauseTrigger(pod, undefined, 0, NOW)).toBe('ErrImagePull (container app)');
  });
});

describe('DetachedWrites (in-place patches that outlive their sync)', () => {
  it('a failure wakes the DaemonSet and is handed to its next sync once', () => {
    const woken: string[] = [];
    const d = new DetachedWrites((key) => woken.push(key));
    d.failed('ns/ds', []);
    expect(woken).toEqual([]);
    const boom = new Error('boom');
    d.failed('ns/ds', [boom]);
    d.failed('ns/ds', ['second']);
    expect(woken).toEqual(['ns/ds', 'ns/ds']);
    expect(d.take('ns/other')).toEqual([]);
    expect(d.take('ns/ds')).toEqual([boom, 'second']);
    expect(d.take('ns/ds')).toEqual([]);
    d.failed('ns/ds', [boom]);
    d.forget('ns/ds');
    expect(d.take('ns/ds')).toEqual([]);
  });
});
