// In-place updates (issue 12) on the real control plane: a DaemonSet annotated
// rollout.everynode.dev/update-mode: InPlaceIfPossible whose template changes only in
// container images (or cpu/memory) keeps its pods — same UID, node and IP — and the kwok
// stages pod-restart-in-place / pod-ready-after-restart play the kubelet (new image running,
// restartCount + 1, briefly not Ready). Every rollout is sampled: no pod is created or deleted,
// and at no sample do more pods restart or stand unready than maxUnavailable allows. Anything
// else falls back to Recreate for that pod: another template change, a QoS class change, a
// patch the API server refuses (here a ValidatingAdmissionPolicy, as a policy engine would).
import type { V1ControllerRevision, V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IN_PLACE_UPDATE_ANNOTATION, UPDATE_MODE_ANNOTATION } from '../../src/contract/rollout.ts';
import { e2eCluster } from '../harness/e2e.ts';
import type { ManifestObject } from '../harness/kube.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import {
  describePods,
  describeSample,
  Everynode,
  eventsFor,
  podNode,
  podsOf,
  PodSampler,
  readDaemonSet,
  waitForDaemonPods,
  waitForEvent,
  waitForStatus,
  type PodSample,
  type Sample,
} from './support/everynode.ts';

const cluster = e2eCluster();
let namespace: string;
let everynode: Everynode;
let workers: string[];
const cleanups: Array<() => Promise<unknown>> = [];

const OLD_IMAGE = 'nginx:1.27';
const NEW_IMAGE = 'nginx:1.28';

interface DsSpec {
  image?: string;
  sidecarImage?: string;
  env?: string;
  updateMode?: string;
  maxUnavailable?: number;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

function daemonSet(name: string, spec: DsSpec = {}): ManifestObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {
      name,
      namespace,
      annotations: { [UPDATE_MODE_ANNOTATION]: spec.updateMode ?? 'InPlaceIfPossible' },
    },
    spec: {
      selector: { matchLabels: { app: name } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: spec.maxUnavailable ?? 1 } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'agent',
              image: spec.image ?? OLD_IMAGE,
              ...(spec.env ? { env: [{ name: 'MODE', value: spec.env }] } : {}),
              ...(spec.resources ? { resources: spec.resources } : {}),
            },
            { name: 'sidecar', image: spec.sidecarImage ?? 'busybox:1.36' },
          ],
        },
      },
    },
  };
}

const apply = (name: string, spec: DsSpec) => cluster.applyManifest(daemonSet(name, spec));

async function deleteDaemonSet(name: string): Promise<void> {
  await cluster.kubectl(['delete', 'ds', name, '-n', namespace, '--ignore-not-found', '--wait=true']);
  await waitFor(`the pods of DaemonSet ${name} to be gone`, async () => {
    const pods = await podsOf(cluster, namespace, name);
    return pods.length === 0 ? done(undefined) : notYet(describePods(pods));
  });
}

const allCurrent = (name: string, description: string) =>
  waitForStatus(
    cluster,
    namespace,
    name,
    description,
    (s) =>
      s.desiredNumberScheduled === workers.length &&
      s.updatedNumberScheduled === workers.length &&
      s.numberAvailable === workers.length,
  );

async function converged(name: string, spec: DsSpec): Promise<V1Pod[]> {
  cleanups.push(() => deleteDaemonSet(name));
  await apply(name, spec);
  await waitForDaemonPods(cluster, namespace, name, workers, { abortIf: everynode.failure });
  await allCurrent(name, 'every pod updated and available');
  return podsOf(cluster, namespace, name);
}

/** The hash label of the DaemonSet's newest revision. */
async function currentRevisionHash(name: string): Promise<string> {
  const revisions = await cluster.apps.listNamespacedControllerRevision({ namespace });
  const ours = revisions.items.filter((r: V1ControllerRevision) =>
    r.metadata?.ownerReferences?.some((o) => o.name === name),
  );
  const newest = ours.sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0];
  return newest?.metadata?.labels?.['controller-revision-hash'] ?? '';
}

const containerStatus = (pod: V1Pod, name: string) =>
  pod.status?.containerStatuses?.find((c) => c.name === name);

/** Waits until every node's one pod runs `image` in container agent (per its status) and is Ready. */
async function waitForRunningImage(name: string, image: string): Promise<V1Pod[]> {
  return waitForDaemonPods(cluster, namespace, name, workers, {
    description: `DaemonSet ${name}: every pod runs ${image}`,
    accept: (p) => containerStatus(p, 'agent')?.image === image && p.spec?.containers[0]?.image === image,
    abortIf: everynode.failure,
  });
}

/** A node is down in a sample while its pod is not Ready or runs another image than its spec names. */
const restartingOrDown = (sample: Sample): PodSample[] =>
  sample.pods.filter((p) => !p.available || p.image !== p.runningImage);

function expectAtMostRestarting(samples: readonly Sample[], max: number): void {
  for (const sample of samples) {
    expect(restartingOrDown(sample).length, describeSample(sample)).toBeLessThanOrEqual(max);
  }
}

const uidByNode = (pods: readonly V1Pod[]) =>
  Object.fromEntries(pods.map((p) => [podNode(p) ?? '', p.metadata?.uid ?? '']));

beforeAll(async () => {
  namespace = await cluster.createNamespace('in-place-');
  everynode = await Everynode.start(cluster, { namespaces: [namespace] });
  workers = await cluster.workerNames();
  expect(workers).toHaveLength(4);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await everynode?.stop();
  if (namespace) await cluster.deleteNamespace(namespace);
});

describe('update-mode InPlaceIfPossible', () => {
  it('an image change patches every pod in place: same UID, node and IP, new image running, restartCount + 1, within maxUnavailable; undo goes back in place', async () => {
    const name = 'images';
    const before = await converged(name, { maxUnavailable: 1 });
    const sampler = new PodSampler(cluster, namespace, name);
    await apply(name, { image: NEW_IMAGE, sidecarImage: 'busybox:1.37', maxUnavailable: 1 });
    const after = await waitForRunningImage(name, NEW_IMAGE);
    await allCurrent(name, 'every pod updated in place and available');
    const samples = await sampler.stop();

    expect(uidByNode(after)).toEqual(uidByNode(before));
    const ipBefore = Object.fromEntries(before.map((p) => [p.metadata?.uid, p.status?.podIP]));
    const hash = await currentRevisionHash(name);
    const ds = await readDaemonSet(cluster, namespace, name);
    for (const pod of after) {
      expect(pod.status?.podIP).toBe(ipBefore[pod.metadata?.uid ?? '']);
      expect(containerStatus(pod, 'agent')?.restartCount).toBe(1);
      expect(containerStatus(pod, 'sidecar')?.image).toBe('busybox:1.37');
      expect(pod.metadata?.labels?.['controller-revision-hash']).toBe(hash);
      expect(pod.metadata?.labels?.['pod-template-generation']).toBe(String(ds.metadata?.generation));
      const record = JSON.parse(pod.metadata?.annotations?.[IN_PLACE_UPDATE_ANNOTATION] ?? '{}') as {
        revision?: string;
      };
      expect(record.revision).toBe(hash);
    }
    // Never a pod created or deleted: every sampled pod is one of the four from before.
    const known = new Set(before.map((p) => p.metadata?.uid));
    for (const sample of samples) {
      for (const p of sample.pods) expect(known.has(p.uid), describeSample(sample)).toBe(true);
      expect(sample.pods.filter((p) => p.terminating)).toEqual([]);
    }
    expectAtMostRestarting(samples, 1);
    // Some sample caught a restart: the sampling saw the update happen, not only its end.
    expect(samples.some((s) => restartingOrDown(s).length === 1)).toBe(true);
    const updated = await eventsFor(cluster, namespace, name, 'SuccessfulUpdatePodInPlace');
    expect(updated.length).toBeGreaterThan(0);

    // kubectl's own rollout commands see an ordinary finished rollout, and undo goes back in place.
    const status = await cluster.kubectl([
      'rollout',
      'status',
      `ds/${name}`,
      '-n',
      namespace,
      '--timeout=60s',
    ]);
    expect(status.stdout).toContain('successfully rolled out');
    const history = await cluster.kubectl(['rollout', 'history', `ds/${name}`, '-n', namespace]);
    expect(
      history.stdout
        .trim()
        .split('\n')
        .slice(2)
        .map((l) => l.trim().split(/\s+/)[0]),
    ).toEqual(['1', '2']);
    await cluster.kubectl(['rollout', 'undo', `ds/${name}`, '-n', namespace]);
    const undone = await waitForRunningImage(name, OLD_IMAGE);
    await allCurrent(name, 'every pod back on the old image');
    expect(uidByNode(undone)).toEqual(uidByNode(before));
    for (const pod of undone) expect(containerStatus(pod, 'agent')?.restartCount).toBe(2);
  });

  it('maxUnavailable 2 restarts at most two pods at once', async () => {
    const name = 'two-at-once';
    const before = await converged(name, { maxUnavailable: 2 });
    const sampler = new PodSampler(cluster, namespace, name);
    await apply(name, { image: NEW_IMAGE, maxUnavailable: 2 });
    const after = await waitForRunningImage(name, NEW_IMAGE);
    await allCurrent(name, 'every pod updated in place');
    const samples = await sampler.stop();
    expect(uidByNode(after)).toEqual(uidByNode(before));
    expectAtMostRestarting(samples, 2);
  });

  it('a change beyond images (an env var) recreates the pods, saying why', async () => {
    const name = 'env-change';
    const before = await converged(name, {});
    await apply(name, { image: NEW_IMAGE, env: 'verbose' });
    const after = await waitForRunningImage(name, NEW_IMAGE);
    await allCurrent(name, 'every pod recreated');
    const old = new Set(before.map((p) => p.metadata?.uid));
    for (const pod of after) expect(old.has(pod.metadata?.uid)).toBe(false);
    const event = await waitForEvent(cluster, namespace, name, 'InPlaceUpdateNotPossible');
    expect(event.message).toMatch(/^Recreating pod .*: spec\.containers changes$/);
  });

  it('a QoS class change recreates; a cpu request change is resized in place through the resize subresource', async () => {
    const name = 'resize';
    const bestEffort = await converged(name, {});
    // Requests where there were none: BestEffort becomes Burstable, which no resize may do.
    await apply(name, { resources: { requests: { cpu: '10m', memory: '16Mi' } } });
    const burstable = await waitForDaemonPods(cluster, namespace, name, workers, {
      accept: (p) => p.spec?.containers[0]?.resources?.requests?.cpu === '10m',
      abortIf: everynode.failure,
    });
    await allCurrent(name, 'every pod recreated with requests');
    const old = new Set(bestEffort.map((p) => p.metadata?.uid));
    for (const pod of burstable) expect(old.has(pod.metadata?.uid)).toBe(false);
    const qos = await waitForEvent(cluster, namespace, name, 'InPlaceUpdateNotPossible');
    expect(qos.message).toContain('the QoS class changes (BestEffort → Burstable)');

    await apply(name, { resources: { requests: { cpu: '20m', memory: '16Mi' } } });
    // Resized in the spec, and the kubelet (kwok's pod-resize stage) reports it applied.
    const resized = await waitForDaemonPods(cluster, namespace, name, workers, {
      accept: (p) =>
        p.spec?.containers[0]?.resources?.requests?.cpu === '20m' &&
        containerStatus(p, 'agent')?.resources?.requests?.cpu === '20m',
      abortIf: everynode.failure,
    });
    await allCurrent(name, 'every pod resized');
    expect(uidByNode(resized)).toEqual(uidByNode(burstable));
    // A resize restarts nothing.
    for (const pod of resized) expect(containerStatus(pod, 'agent')?.restartCount).toBe(0);
    expect((await eventsFor(cluster, namespace, name, 'FailedUpdatePodInPlace')).length).toBe(0);
    const hash = await currentRevisionHash(name);
    for (const pod of resized) expect(pod.metadata?.labels?.['controller-revision-hash']).toBe(hash);
  });

  it('a patch the API server refuses (a ValidatingAdmissionPolicy forbidding image changes) falls back to Recreate', async () => {
    const name = 'refused';
    const policy = `everynode-e2e-no-image-change-${namespace}`;
    const manifests: ManifestObject[] = [
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: policy },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods'] },
            ],
          },
          validations: [
            {
              expression:
                'object.spec.containers.map(c, c.image) == oldObject.spec.containers.map(c, c.image)',
              message: 'container images are immutable in this namespace',
            },
          ],
        },
      },
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name: policy },
        spec: {
          policyName: policy,
          validationActions: ['Deny'],
          matchResources: {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
          },
        },
      },
    ];
    await cluster.applyManifest(manifests);
    cleanups.push(() => cluster.deleteManifest(manifests));
    // The policy is enforced once the API server has loaded it: a probe update must be refused.
    const before = await converged(name, {});
    const probe = before[0]!;
    await waitFor('the ValidatingAdmissionPolicy to refuse an image change', async () => {
      const r = await cluster.kubectl(
        [
          'set',
          'image',
          `pod/${probe.metadata?.name ?? ''}`,
          'agent=nginx:probe',
          '-n',
          namespace,
          '--dry-run=server',
        ],
        { allowFailure: true },
      );
      return r.code !== 0 && r.stderr.includes('immutable in this namespace') ? done(undefined) : notYet(r);
    });

    await apply(name, { image: NEW_IMAGE });
    const after = await waitForRunningImage(name, NEW_IMAGE);
    await allCurrent(name, 'every pod recreated after the refusal');
    const old = new Set(before.map((p) => p.metadata?.uid));
    for (const pod of after) expect(old.has(pod.metadata?.uid)).toBe(false);
    const refused = await waitForEvent(cluster, namespace, name, 'FailedUpdatePodInPlace');
    expect(refused.message).toContain('recreating it');
    expect(refused.message).toContain('immutable in this namespace');
  });

  it('an invalid update-mode warns naming the annotation and the accepted forms', async () => {
    const name = 'bad-mode';
    await converged(name, {});
    await apply(name, { updateMode: 'InPlace' });
    const warning = await waitForEvent(cluster, namespace, name, 'InvalidRolloutSetting');
    expect(warning.message).toContain(UPDATE_MODE_ANNOTATION);
    expect(warning.message).toContain('"Recreate" (the default) or "InPlaceIfPossible"');
  });
});
