// Updating a DaemonSet on the real control plane with everynode running, driven
// by kubectl as a user would: `kubectl set image` under RollingUpdate (with
// maxUnavailable, and with maxSurge) and OnDelete, `kubectl rollout status`,
// `kubectl rollout history` and `kubectl rollout undo`. During rolling updates
// a sampler lists the pods every 200 ms, and every sample must respect the
// strategy's bounds.
import type { V1DaemonSet, V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { e2eCluster } from '../harness/e2e.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import {
  describePods,
  describeSample,
  Everynode,
  podsOf,
  PodSampler,
  readDaemonSet,
  unavailableNodes,
  waitForDaemonPods,
  waitForStatus,
  type Sample,
} from './support/everynode.ts';

const cluster = e2eCluster();
let namespace: string;
let everynode: Everynode;
let workers: string[];
const daemonSets: string[] = [];

const OLD_IMAGE = 'nginx:1.27';
const NEW_IMAGE = 'nginx:1.28';

type UpdateStrategy = NonNullable<NonNullable<V1DaemonSet['spec']>['updateStrategy']>;

/** The nginx tutorial DaemonSet under another name and update strategy, in this file's namespace. */
function nginx(name: string, updateStrategy: UpdateStrategy) {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      selector: { matchLabels: { app: name } },
      updateStrategy,
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: 'nginx', image: OLD_IMAGE, ports: [{ name: 'http', containerPort: 80 }] }],
        },
      },
    },
  };
}

/** Applies the DaemonSet and waits until every worker runs one Ready pod of it and the status says so. */
async function converged(name: string, updateStrategy: UpdateStrategy): Promise<V1Pod[]> {
  daemonSets.push(name);
  await cluster.applyManifest(nginx(name, updateStrategy));
  const pods = await waitForDaemonPods(cluster, namespace, name, workers, { abortIf: everynode.failure });
  await waitForStatus(
    cluster,
    namespace,
    name,
    'every pod updated and available',
    (s) =>
      s.desiredNumberScheduled === workers.length &&
      s.updatedNumberScheduled === workers.length &&
      s.numberAvailable === workers.length,
  );
  return pods;
}

const kubectl = (...args: string[]) => cluster.kubectl([...args, '-n', namespace]);

const rolloutStatus = (name: string) => kubectl('rollout', 'status', `ds/${name}`, '--timeout=120s');

/** REVISION numbers `kubectl rollout history` lists. */
async function historyRevisions(name: string): Promise<number[]> {
  const { stdout } = await kubectl('rollout', 'history', `ds/${name}`);
  return stdout
    .split('\n')
    .map((line) => /^(\d+)\s/.exec(line)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number);
}

/** `kubectl get ds` columns DESIRED CURRENT READY UP-TO-DATE AVAILABLE. */
async function getDsColumns(name: string): Promise<Record<string, string>> {
  const { stdout } = await kubectl('get', 'ds', name);
  const [header, row] = stdout.trim().split('\n');
  const keys = header!.trim().split(/\s{2,}/);
  const values = row!.trim().split(/\s{2,}/);
  return Object.fromEntries(keys.map((k, i) => [k, values[i]!]));
}

const podNames = (pods: readonly V1Pod[]) => pods.map((p) => p.metadata!.name!).sort();

const mixedImages = (s: Sample) =>
  s.pods.some((p) => p.image === OLD_IMAGE) && s.pods.some((p) => p.image === NEW_IMAGE);

beforeAll(async () => {
  namespace = await cluster.createNamespace('ds-rollout-');
  everynode = await Everynode.start(cluster, { namespaces: [namespace] });
  workers = await cluster.workerNames();
});

afterEach(async () => {
  for (const name of daemonSets.splice(0)) {
    await kubectl('delete', 'ds', name, '--ignore-not-found');
  }
});

afterAll(async () => {
  await everynode?.stop();
  if (namespace) await cluster.deleteNamespace(namespace);
});

describe('DaemonSet updates', () => {
  it('kubectl set image under RollingUpdate replaces every pod, never more than maxUnavailable nodes at once', async () => {
    const maxUnavailable = 1;
    const before = await converged('rolling', { type: 'RollingUpdate', rollingUpdate: { maxUnavailable } });

    const sampler = new PodSampler(cluster, namespace, 'rolling');
    await kubectl('set', 'image', 'ds/rolling', `nginx=${NEW_IMAGE}`);
    const { stdout } = await rolloutStatus('rolling');
    const samples = await sampler.stop();
    expect(stdout).toContain('successfully rolled out');

    const after = await waitForDaemonPods(cluster, namespace, 'rolling', workers, {
      accept: (p) => p.spec?.containers[0]?.image === NEW_IMAGE,
    });
    // Every pod is a new one.
    expect(podNames(after).filter((n) => podNames(before).includes(n))).toEqual([]);
    // The sampler saw the rollout under way, and no sample had more nodes without an available pod than allowed.
    expect(samples.some(mixedImages)).toBe(true);
    for (const sample of samples) {
      const down = unavailableNodes(sample, workers);
      expect(down.length, `unavailable ${down.join(', ')} in ${describeSample(sample)}`).toBeLessThanOrEqual(
        maxUnavailable,
      );
      // Without surge a node never holds two live pods.
      for (const node of workers) {
        const live = sample.pods.filter((p) => p.node === node && !p.terminating);
        expect(live.length, `${node} in ${describeSample(sample)}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('with maxSurge, every node keeps an available pod throughout and at most maxSurge nodes wait for a surge pod', async () => {
    const maxSurge = 1;
    const before = await converged('surging', {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge, maxUnavailable: 0 },
    });

    const sampler = new PodSampler(cluster, namespace, 'surging');
    await kubectl('set', 'image', 'ds/surging', `nginx=${NEW_IMAGE}`);
    await rolloutStatus('surging');
    const samples = await sampler.stop();

    const after = await waitForDaemonPods(cluster, namespace, 'surging', workers, {
      accept: (p) => p.spec?.containers[0]?.image === NEW_IMAGE,
    });
    expect(podNames(after).filter((n) => podNames(before).includes(n))).toEqual([]);
    expect(samples.some(mixedImages)).toBe(true);
    for (const sample of samples) {
      // maxUnavailable 0: an old pod goes only once its node's new pod is available.
      expect(unavailableNodes(sample, workers), describeSample(sample)).toEqual([]);
      // Surge nodes: an old pod still serving while the new one is not available yet.
      const surging = workers.filter((node) => {
        const live = sample.pods.filter((p) => p.node === node && !p.terminating);
        return (
          live.some((p) => p.image === OLD_IMAGE) && live.some((p) => p.image === NEW_IMAGE && !p.available)
        );
      });
      expect(
        surging.length,
        `surging on ${surging.join(', ')}: ${describeSample(sample)}`,
      ).toBeLessThanOrEqual(maxSurge);
      for (const node of workers) {
        const live = sample.pods.filter((p) => p.node === node && !p.terminating);
        expect(live.length, `${node} in ${describeSample(sample)}`).toBeLessThanOrEqual(2);
      }
    }
  });

  it('OnDelete replaces only deleted pods; kubectl get ds and rollout undo keep the untouched pods as they are', async () => {
    const before = await converged('ondelete', { type: 'OnDelete' });
    const generation = (await readDaemonSet(cluster, namespace, 'ondelete')).metadata!.generation!;

    await kubectl('set', 'image', 'ds/ondelete', `nginx=${NEW_IMAGE}`);
    // The controller has seen the new template (and made its revision) without touching a pod.
    await waitForStatus(
      cluster,
      namespace,
      'ondelete',
      'new generation seen, no pod updated',
      (s) =>
        // Zero counts are omitted from the wire (omitempty), as upstream's.
        s.observedGeneration! > generation &&
        (s.updatedNumberScheduled ?? 0) === 0 &&
        s.numberAvailable === workers.length,
    );
    expect(podNames(await podsOf(cluster, namespace, 'ondelete'))).toEqual(podNames(before));

    const [victim, ...untouched] = before;
    await kubectl('delete', 'pod', victim!.metadata!.name!, '--wait=false');
    const afterDelete = await waitForDaemonPods(cluster, namespace, 'ondelete', workers, {
      description: `a new-image pod replacing ${victim!.metadata!.name!}, the others unchanged`,
      accept: (p) =>
        p.spec?.nodeName === victim!.spec?.nodeName
          ? p.spec?.containers[0]?.image === NEW_IMAGE
          : p.spec?.containers[0]?.image === OLD_IMAGE,
      abortIf: everynode.failure,
    });
    const replacement = afterDelete.find((p) => p.spec?.nodeName === victim!.spec?.nodeName)!;
    expect(podNames(afterDelete.filter((p) => p !== replacement))).toEqual(podNames(untouched));
    await waitForStatus(
      cluster,
      namespace,
      'ondelete',
      'one pod updated',
      (s) => s.updatedNumberScheduled === 1,
    );
    expect(await getDsColumns('ondelete')).toMatchObject({
      NAME: 'ondelete',
      DESIRED: '4',
      CURRENT: '4',
      READY: '4',
      'UP-TO-DATE': '1',
      AVAILABLE: '4',
    });

    // Undo restores the old template: the pods never replaced are current again, under their names.
    await kubectl('rollout', 'undo', 'ds/ondelete');
    const undone = await readDaemonSet(cluster, namespace, 'ondelete');
    expect(undone.spec!.template.spec!.containers[0]!.image).toBe(OLD_IMAGE);
    await waitForStatus(
      cluster,
      namespace,
      'ondelete',
      'the untouched pods count as updated again',
      (s) => s.updatedNumberScheduled === untouched.length,
    );
    const final = await podsOf(cluster, namespace, 'ondelete');
    expect(podNames(final)).toEqual(podNames([...untouched, replacement]));
    expect(await getDsColumns('ondelete')).toMatchObject({ 'UP-TO-DATE': String(untouched.length) });
  });

  it('kubectl rollout status, history and undo on a RollingUpdate DaemonSet', async () => {
    const initial = await converged('history', {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 2 },
    });
    expect(await historyRevisions('history')).toEqual([1]);

    await kubectl('set', 'image', 'ds/history', `nginx=${NEW_IMAGE}`);
    await rolloutStatus('history');
    const updated = await waitForDaemonPods(cluster, namespace, 'history', workers, {
      accept: (p) => p.spec?.containers[0]?.image === NEW_IMAGE,
    });
    expect(await historyRevisions('history')).toEqual([1, 2]);
    // Each revision's stored template is readable by kubectl (the data is encoded as upstream does).
    expect((await kubectl('rollout', 'history', 'ds/history', '--revision=1')).stdout).toContain(OLD_IMAGE);
    expect((await kubectl('rollout', 'history', 'ds/history', '--revision=2')).stdout).toContain(NEW_IMAGE);

    const { stdout: undoOut } = await kubectl('rollout', 'undo', 'ds/history');
    expect(undoOut).toContain('rolled back');
    await rolloutStatus('history');
    const restored = await waitForDaemonPods(cluster, namespace, 'history', workers, {
      accept: (p) => p.spec?.containers[0]?.image === OLD_IMAGE,
    });
    const ds = await readDaemonSet(cluster, namespace, 'history');
    expect(ds.spec!.template.spec!.containers[0]!.image).toBe(OLD_IMAGE);
    // Revision 1 was reused as the newest (3); revision 2 stays for the next undo.
    expect(await historyRevisions('history')).toEqual([2, 3]);
    // The restored pods carry the revision hash of the original template.
    const originalHash = initial[0]!.metadata!.labels!['controller-revision-hash'];
    expect(restored.map((p) => p.metadata!.labels!['controller-revision-hash'])).toEqual(
      restored.map(() => originalHash),
    );
    expect(podNames(restored).filter((n) => podNames(updated).includes(n))).toEqual([]);

    await waitFor('the DaemonSet status to be complete after the undo', async () => {
      const s = (await readDaemonSet(cluster, namespace, 'history')).status;
      return s?.updatedNumberScheduled === workers.length && s.numberAvailable === workers.length
        ? done(s)
        : notYet(describePods(await podsOf(cluster, namespace, 'history')));
    });
  });
});
