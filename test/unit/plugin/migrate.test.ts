// Unit tests of `kubectl everynode migrate`'s decisions (src/plugin/migrate.ts): the preflight
// refusals (rollout in progress, kind not installed, target with another spec, an owner, rollout
// settings apps/v1 cannot hold), the object it creates for each direction, and the spec comparison.
// Plain objects, no cluster.
import type { V1ControllerRevision, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { getPatch } from '../../../src/controller/history.ts';
import {
  firstDifference,
  notAdopted,
  preflight,
  rolloutInProgress,
  rolloutSpecFromAnnotations,
  targetObject,
} from '../../../src/plugin/migrate.ts';
import type { AnyDaemonSet } from '../../../src/plugin/rollout-settings.ts';

const UID = 'uid-src';
const template = (image: string) => ({
  metadata: { labels: { app: 'a' } },
  spec: { containers: [{ name: 'c', image }] },
});

function source(
  overrides: Partial<AnyDaemonSet> = {},
  annotations: Record<string, string> = {},
): AnyDaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {
      name: 'a',
      namespace: 'ns',
      uid: UID,
      generation: 2,
      resourceVersion: '9',
      labels: { app: 'a' },
      annotations: {
        'deprecated.daemonset.template.generation': '2',
        'kubectl.kubernetes.io/last-applied-configuration': '{"kind":"DaemonSet"}',
        team: 'infra',
        ...annotations,
      },
    },
    spec: { selector: { matchLabels: { app: 'a' } }, template: template('v2'), revisionHistoryLimit: 10 },
    status: {
      observedGeneration: 2,
      desiredNumberScheduled: 2,
      currentNumberScheduled: 2,
      updatedNumberScheduled: 2,
      numberAvailable: 2,
      numberMisscheduled: 0,
      numberReady: 2,
    },
    ...overrides,
  };
}

const owner = (uid = UID) => [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'a', uid, controller: true }];
const revision = (ds: AnyDaemonSet, hash: string, n: number): V1ControllerRevision => ({
  metadata: { name: `a-${hash}`, labels: { 'controller-revision-hash': hash }, ownerReferences: owner() },
  revision: n,
  data: JSON.parse(getPatch(ds)) as object,
});
const pod = (name: string, hash: string, extra: Partial<V1Pod['metadata']> = {}): V1Pod => ({
  metadata: {
    name,
    uid: `uid-${name}`,
    labels: { app: 'a', 'controller-revision-hash': hash },
    ownerReferences: owner(),
    ...extra,
  },
  spec: { containers: [{ name: 'c', image: 'v2' }], nodeName: `node-${name}` },
});

const src = source();
const revisions = [
  revision(source({ spec: { ...src.spec!, template: template('v1') } }), 'old', 1),
  revision(src, 'cur', 2),
];
const pods = [pod('p1', 'cur'), pod('p2', 'cur')];

describe('rolloutInProgress', () => {
  it('is undefined when every pod runs the current revision, updated and available', () => {
    expect(rolloutInProgress(src, pods, revisions)).toBeUndefined();
  });

  it('names what is in progress', () => {
    expect(
      rolloutInProgress(source({ status: { ...src.status!, observedGeneration: 1 } }), pods, revisions),
    ).toBe('its controller has not observed generation 2 yet (observedGeneration 1)');
    expect(
      rolloutInProgress(source({ status: { ...src.status!, updatedNumberScheduled: 1 } }), pods, revisions),
    ).toBe('a rollout is in progress: 1 of 2 pods updated, 2 available');
    expect(rolloutInProgress(src, [pods[0]!, pod('p2', 'old')], revisions)).toBe(
      'a rollout is in progress: pod p2 runs revision old, not the current cur',
    );
    expect(
      rolloutInProgress(src, [pods[0]!, pod('p2', 'cur', { deletionTimestamp: new Date() })], revisions),
    ).toBe('a rollout is in progress: pod p2 is terminating');
    expect(rolloutInProgress(src, pods, [revisions[0]!])).toBe(
      'no ControllerRevision it controls matches its template yet',
    );
  });

  it("ignores other owners' pods", () => {
    expect(
      rolloutInProgress(src, [...pods, pod('x', 'zzz', { ownerReferences: owner('other') })], revisions),
    ).toBeUndefined();
  });
});

describe('targetObject', () => {
  it('to everynode.dev: same labels, annotations without last-applied and template generation, same spec', () => {
    expect(targetObject(src, false)).toEqual({
      object: {
        apiVersion: 'everynode.dev/v1alpha1',
        kind: 'DaemonSet',
        metadata: { name: 'a', namespace: 'ns', labels: { app: 'a' }, annotations: { team: 'infra' } },
        spec: src.spec,
      },
    });
  });

  it('to everynode.dev: the rollout annotations become spec.rollout', () => {
    const annotated = source(
      {},
      {
        'rollout.everynode.dev/partition': '25%',
        'rollout.everynode.dev/node-selector': 'pool=canary',
        'rollout.everynode.dev/paused': 'false',
        'rollout.everynode.dev/waves': 'zone',
        'rollout.everynode.dev/wave-soak-seconds': '60',
      },
    );
    const built = targetObject(annotated, false);
    expect(built).toMatchObject({
      object: {
        metadata: { annotations: { team: 'infra' } },
        spec: {
          rollout: {
            partition: '25%',
            nodeSelector: { matchLabels: { pool: 'canary' } },
            paused: false,
            waves: { nodeLabelKey: 'zone', soakSeconds: 60 },
          },
        },
      },
    });
    expect(rolloutSpecFromAnnotations({ 'rollout.everynode.dev/partition': '3' })).toEqual({
      rollout: { partition: 3 },
      problems: [],
    });
    expect(targetObject(source({}, { 'rollout.everynode.dev/partition': 'half' }), false)).toEqual({
      error: expect.stringContaining(
        'annotation rollout.everynode.dev/partition: "half" must be a number of nodes',
      ) as string,
    });
  });

  it('to apps/v1: spec.rollout needs --force, which drops it', () => {
    const evds: AnyDaemonSet = {
      ...src,
      apiVersion: 'everynode.dev/v1alpha1',
      spec: { ...src.spec!, rollout: { paused: true, partition: 1 } },
    };
    expect(targetObject(evds, false)).toEqual({
      error:
        'it sets spec.rollout.paused, spec.rollout.partition, which an apps/v1 DaemonSet cannot hold; --force drops them',
    });
    const forced = targetObject(evds, true);
    expect(forced).toMatchObject({ object: { apiVersion: 'apps/v1' } });
    expect('object' in forced && forced.object.spec).not.toHaveProperty('rollout');
  });
});

describe('firstDifference', () => {
  it('ignores what only the actual object has (defaults) and nulls in the desired one', () => {
    expect(
      firstDifference(
        { a: 1, b: { c: [1, { d: 2 }] }, n: null },
        { a: 1, x: 5, b: { c: [1, { d: 2, e: 3 }] } },
      ),
    ).toBeUndefined();
  });

  it('names the first path that differs', () => {
    expect(firstDifference({ a: { b: 1 } }, { a: { b: 2 } }, 'spec')).toBe('spec.a.b');
    expect(firstDifference({ l: [1, 2] }, { l: [1] }, 'spec')).toBe('spec.l');
    expect(firstDifference({ l: [{ i: 'x' }] }, { l: [{ i: 'y' }] }, 'spec')).toBe('spec.l[0].i');
  });
});

describe('preflight', () => {
  const input = { source: src, pods, revisions, target: undefined, targetInstalled: true, force: false };

  it('goes ahead with nothing to refuse', () => {
    expect(preflight(input)).toMatchObject({
      refusals: [],
      desired: { apiVersion: 'everynode.dev/v1alpha1' },
    });
  });

  it('refuses a missing CRD, a rollout in progress, an owner and a target with another spec, each with its reason', () => {
    const { refusals } = preflight({
      ...input,
      source: source({
        metadata: {
          ...src.metadata,
          ownerReferences: [{ apiVersion: 'x/v1', kind: 'Agent', name: 'o', uid: 'u', controller: true }],
        },
      }),
      pods: [pods[0]!, pod('p2', 'old')],
      targetInstalled: false,
      target: { spec: { ...src.spec!, template: template('other') } },
    });
    expect(refusals).toEqual([
      "daemonsets.everynode.dev is not served by this cluster: install everynode's CRD (charts/everynode/crds/) first",
      "daemonset.apps/a: it is controlled by Agent/o, which would recreate it: migrate that owner's manifests instead",
      'daemonset.apps/a: a rollout is in progress: pod p2 runs revision old, not the current cur; wait for it to finish (kubectl everynode rollout status)',
      'daemonset.everynode.dev/a already exists with a different spec (spec.template.spec.containers[0].image)',
    ]);
  });

  it('accepts a target that holds the same spec plus defaults', () => {
    const target = { spec: { ...src.spec!, minReadySeconds: 0 } };
    expect(preflight({ ...input, target }).refusals).toEqual([]);
  });
});

describe('notAdopted', () => {
  it('lists what the target does not control yet', () => {
    expect(
      notAdopted([pod('p1', 'h'), pod('p2', 'h', { ownerReferences: owner('target') })], 'target'),
    ).toEqual(['p1']);
  });
});
