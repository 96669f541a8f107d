// everynode's rollout control (issue 10) on the real control plane: the
// rollout.everynode.dev/* annotations on a plain apps/v1 DaemonSet, driven as a
// user would (apply the annotations, change the template). Each rollout is
// sampled by a PodSampler while it runs and every sample must respect the
// setting's invariant, not only the end state. Failures come from the kwok
// stages of test/harness/kwok.yaml: a pod template annotated
// test.everynode.dev/simulate=crashloop|image-pull-error|not-ready makes the
// pods of that revision fail as a kubelet would report it, and a node annotated
// test.everynode.dev/simulate=not-ready reports NotReady.
import type { V1DaemonSet, V1DaemonSetCondition, V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTO_PAUSE_ANNOTATION,
  NODE_SELECTOR_ANNOTATION,
  PARTITION_ANNOTATION,
  PAUSED_ANNOTATION,
  PROGRESS_DEADLINE_ANNOTATION,
  WAVE_SOAK_ANNOTATION,
  WAVES_ANNOTATION,
} from '../../src/contract/rollout.ts';
import { e2eCluster } from '../harness/e2e.ts';
import { SIMULATE_ANNOTATION, type ManifestObject, type SimulatedPodFailure } from '../harness/kube.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import {
  describePods,
  describeSample,
  Everynode,
  eventsFor,
  isReady,
  isServing,
  isTerminating,
  podNode,
  podsOf,
  PodSampler,
  readDaemonSet,
  unavailableNodes,
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
const ZONE_LABEL = 'everynode.dev/e2e-zone';
const POOL_LABEL = 'everynode.dev/e2e-pool';
/** What a dead kubelet never does: confirm a pod's deletion. Held by a finalizer the test adds and removes. */
const DEAD_KUBELET_FINALIZER = 'test.everynode.dev/dead-kubelet';

interface DsSpec {
  image?: string;
  /** Rollout annotations on the DaemonSet. */
  annotations?: Record<string, string>;
  /** Makes the pods of this template fail (kwok.yaml's simulation stages). */
  simulate?: SimulatedPodFailure;
  rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string };
  hostPort?: number;
}

/** A small DaemonSet; applied whole each time (server-side apply), so what a spec omits is removed. */
function daemonSet(name: string, spec: DsSpec = {}): ManifestObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace, annotations: spec.annotations ?? {} },
    spec: {
      selector: { matchLabels: { app: name } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: spec.rollingUpdate ?? { maxUnavailable: 1 } },
      template: {
        metadata: {
          labels: { app: name },
          ...(spec.simulate ? { annotations: { [SIMULATE_ANNOTATION]: spec.simulate } } : {}),
        },
        spec: {
          containers: [
            {
              name: 'agent',
              image: spec.image ?? OLD_IMAGE,
              ports: [
                {
                  name: 'http',
                  containerPort: 80,
                  ...(spec.hostPort !== undefined ? { hostPort: spec.hostPort } : {}),
                },
              ],
            },
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

/** Applies the DaemonSet and waits until each of `nodes` runs one Ready pod of it and the status says so. */
async function converged(name: string, spec: DsSpec, nodes: readonly string[] = workers): Promise<V1Pod[]> {
  cleanups.push(() => deleteDaemonSet(name));
  await apply(name, spec);
  const pods = await waitForDaemonPods(cluster, namespace, name, nodes, { abortIf: everynode.failure });
  await waitForStatus(
    cluster,
    namespace,
    name,
    'every pod updated and available',
    (s) =>
      s.desiredNumberScheduled === nodes.length &&
      s.updatedNumberScheduled === nodes.length &&
      s.numberAvailable === nodes.length,
  );
  return pods;
}

const imageOf = (pod: V1Pod) => pod.spec?.containers[0]?.image;
const revisionOf = (pod: V1Pod) => pod.metadata?.labels?.['controller-revision-hash'];

/** Waits until every node of `want` runs exactly one serving pod with the image given for it, and no other pod exists. */
async function waitForImages(
  name: string,
  want: Record<string, string>,
  description: string,
): Promise<V1Pod[]> {
  return waitForDaemonPods(cluster, namespace, name, Object.keys(want), {
    description: `DaemonSet ${name}: ${description}`,
    accept: (p) =>
      imageOf(p) === want[p.spec?.nodeName ?? ''] &&
      p.metadata?.annotations?.[SIMULATE_ANNOTATION] === undefined,
    abortIf: everynode.failure,
    timeoutMs: 120_000,
  });
}

const imagesFor = (nodes: readonly string[], image: string) =>
  Object.fromEntries(nodes.map((n) => [n, image]));

const conditionOf = (ds: V1DaemonSet, type: string): V1DaemonSetCondition | undefined =>
  ds.status?.conditions?.find((c) => c.type === type);

/** Waits until the status is of the current generation and its condition `type` passes `check`. */
async function waitForCondition(
  name: string,
  type: string,
  description: string,
  check: (c: V1DaemonSetCondition) => boolean,
  timeoutMs = 90_000,
): Promise<V1DaemonSetCondition> {
  return waitFor(
    `DaemonSet ${name} condition ${type}: ${description}`,
    async () => {
      const ds = await readDaemonSet(cluster, namespace, name);
      const c = conditionOf(ds, type);
      const current = ds.status?.observedGeneration === ds.metadata?.generation;
      return current && c && check(c) ? done(c) : notYet(ds.status?.conditions ?? 'no conditions');
    },
    { timeoutMs, abortIf: everynode.failure },
  );
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** How long a test watches a held rollout for a change that must not come. */
const HOLD_WATCH_MS = 3000;

const live = (sample: Sample, node: string): PodSample[] =>
  sample.pods.filter((p) => p.node === node && !p.terminating);
/** Nodes among `nodes` with a live pod that `isNew` accepts (created for the new revision, available or not). */
const updatedNodes = (sample: Sample, nodes: readonly string[], isNew: (p: PodSample) => boolean): string[] =>
  nodes.filter((n) => live(sample, n).some(isNew));
const hasNewImage = (p: PodSample) => p.image === NEW_IMAGE;
/** When each node first showed a new pod, in the order it happened. */
function firstUpdates(samples: readonly Sample[], nodes: readonly string[], isNew = hasNewImage): string[] {
  const first = new Map<string, number>();
  for (const s of samples)
    for (const n of updatedNodes(s, nodes, isNew)) if (!first.has(n)) first.set(n, s.at);
  return [...first.entries()].sort((a, b) => a[1] - b[1]).map(([n]) => n);
}

function expectAtMostUnavailable(samples: readonly Sample[], nodes: readonly string[], max: number): void {
  for (const sample of samples) {
    const down = unavailableNodes(sample, nodes);
    expect(down.length, `unavailable ${down.join(', ')} in ${describeSample(sample)}`).toBeLessThanOrEqual(
      max,
    );
  }
}

beforeAll(async () => {
  namespace = await cluster.createNamespace('rollout-control-');
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

describe('rollout control annotations', () => {
  it('partition "2": two of four nodes update, in name order, the others keep the old pod; lowering it to "0" completes', async () => {
    const name = 'partition';
    await converged(name, { annotations: { [PARTITION_ANNOTATION]: '2' } });
    const sampler = new PodSampler(cluster, namespace, name);
    await apply(name, { image: NEW_IMAGE, annotations: { [PARTITION_ANNOTATION]: '2' } });
    const [first, second, third, fourth] = workers as [string, string, string, string];
    await waitForImages(
      name,
      { [first]: NEW_IMAGE, [second]: NEW_IMAGE, [third]: OLD_IMAGE, [fourth]: OLD_IMAGE },
      'the first two nodes by name updated, the other two not',
    );
    const held = await waitForCondition(
      name,
      'Progressing',
      'NewRevisionAvailable while held',
      (c) => c.reason === 'NewRevisionAvailable',
    );
    expect(held.status).toBe('True');
    expect(held.message).toContain('2 nodes keep the old revision');
    await sleep(HOLD_WATCH_MS);
    const lowered = Date.now();
    await apply(name, { image: NEW_IMAGE, annotations: { [PARTITION_ANNOTATION]: '0' } });
    await waitForImages(name, imagesFor(workers, NEW_IMAGE), 'every node updated');
    await waitForCondition(
      name,
      'Progressing',
      'NewRevisionAvailable, nothing held',
      (c) => c.reason === 'NewRevisionAvailable' && !c.message?.includes('keep'),
    );
    const samples = await sampler.stop();

    for (const sample of samples.filter((s) => s.at < lowered)) {
      const updated = updatedNodes(sample, workers, hasNewImage);
      expect(updated.length, describeSample(sample)).toBeLessThanOrEqual(2);
      expect([first, second], describeSample(sample)).toEqual(expect.arrayContaining(updated));
    }
    expect(firstUpdates(samples, workers)).toEqual(workers);
    expectAtMostUnavailable(samples, workers, 1);
  });

  it('node-selector: only the nodes of the canary pool update; removing the annotation updates the rest', async () => {
    const name = 'canary';
    const canary = [workers[1]!, workers[3]!];
    const others = workers.filter((n) => !canary.includes(n));
    cleanups.push(() => Promise.all(canary.map((n) => cluster.labelNode(n, { [POOL_LABEL]: null }))));
    await Promise.all(canary.map((n) => cluster.labelNode(n, { [POOL_LABEL]: 'canary' })));
    const annotations = { [NODE_SELECTOR_ANNOTATION]: `${POOL_LABEL}=canary` };
    await converged(name, { annotations });
    const sampler = new PodSampler(cluster, namespace, name);
    await apply(name, { image: NEW_IMAGE, annotations });
    await waitForImages(
      name,
      { ...imagesFor(others, OLD_IMAGE), ...imagesFor(canary, NEW_IMAGE) },
      'the canary nodes updated, the others not',
    );
    await waitForCondition(
      name,
      'Progressing',
      'NewRevisionAvailable for the pool',
      (c) => c.reason === 'NewRevisionAvailable',
    );
    await sleep(HOLD_WATCH_MS);
    const released = Date.now();
    await apply(name, { image: NEW_IMAGE });
    await waitForImages(name, imagesFor(workers, NEW_IMAGE), 'every node updated');
    const samples = await sampler.stop();

    const before = samples.filter((s) => s.at < released);
    expect(before.some((s) => updatedNodes(s, canary, hasNewImage).length > 0)).toBe(true);
    for (const sample of before)
      expect(updatedNodes(sample, others, hasNewImage), describeSample(sample)).toEqual([]);
    expectAtMostUnavailable(samples, workers, 1);
  });

  it('paused: no pod is replaced while paused, a joining node still gets a pod; resuming completes', async () => {
    const name = 'paused';
    const joiner = 'rollout-control-joiner';
    cleanups.push(() => cluster.deleteNode(joiner));
    await converged(name, {});
    const before = await podsOf(cluster, namespace, name);
    const sampler = new PodSampler(cluster, namespace, name);
    await apply(name, { image: NEW_IMAGE, annotations: { [PAUSED_ANNOTATION]: 'true' } });
    const paused = await waitForCondition(
      name,
      'Progressing',
      'RolloutPaused',
      (c) => c.reason === 'RolloutPaused',
    );
    expect(paused.message).toContain(PAUSED_ANNOTATION);
    await cluster.addNode(joiner);
    const joined = await waitForImages(
      name,
      { ...imagesFor(workers, OLD_IMAGE), [joiner]: NEW_IMAGE },
      'the old pods kept, a new pod on the joining node',
    );
    await sleep(HOLD_WATCH_MS);
    const resumed = Date.now();
    await apply(name, { image: NEW_IMAGE });
    const all = [...workers, joiner];
    await waitForImages(name, imagesFor(all, NEW_IMAGE), 'every node updated');
    const samples = await sampler.stop();

    // While paused, the workers' pods are the ones from before, untouched.
    const uids = new Set(before.map((p) => p.metadata!.uid!));
    for (const sample of samples.filter((s) => s.at < resumed)) {
      const workerPods = sample.pods.filter((p) => workers.includes(p.node ?? ''));
      expect(workerPods.map((p) => p.uid).sort(), describeSample(sample)).toEqual([...uids].sort());
      expect(
        workerPods.every((p) => !p.terminating),
        describeSample(sample),
      ).toBe(true);
    }
    // The joiner's pod, created while paused, is of the new revision and stays.
    const joinerPod = joined.find((p) => p.spec?.nodeName === joiner)!;
    expect((await podsOf(cluster, namespace, name)).map((p) => p.metadata!.uid)).toContain(
      joinerPod.metadata!.uid,
    );
    expectAtMostUnavailable(
      samples.filter((s) => s.at >= resumed),
      workers,
      1,
    );
    // The DaemonSet goes before the node (cleanups run in reverse), so no pod is left on a deleted node.
  });

  it('waves by a node label with soak: a wave starts only once the previous one is updated, available and soaked', async () => {
    const name = 'waves';
    const soakSeconds = 5;
    // Groups of 1, 1 and 2 nodes, named so that wave order differs from node name order.
    const [w1, w2, w3, w4] = workers as [string, string, string, string];
    const zones: Record<string, string> = { [w3]: 'a', [w1]: 'b', [w2]: 'c', [w4]: 'c' };
    const waves = [[w3], [w1], [w2, w4]];
    cleanups.push(() => Promise.all(workers.map((n) => cluster.labelNode(n, { [ZONE_LABEL]: null }))));
    await Promise.all(Object.entries(zones).map(([n, z]) => cluster.labelNode(n, { [ZONE_LABEL]: z })));
    const annotations = { [WAVES_ANNOTATION]: ZONE_LABEL, [WAVE_SOAK_ANNOTATION]: String(soakSeconds) };
    await converged(name, { annotations });
    const sampler = new PodSampler(cluster, namespace, name);
    await apply(name, { image: NEW_IMAGE, annotations });
    const final = await waitForImages(name, imagesFor(workers, NEW_IMAGE), 'every node updated');
    const wave = await waitForCondition(
      name,
      'RolloutWave',
      'WavesComplete',
      (c) => c.reason === 'WavesComplete',
    );
    expect(wave.message).toContain('wave 3/3');
    const samples = await sampler.stop();

    // When each wave became available: its pods' Ready transition, as the controller reads it.
    const readyAt = (node: string) => {
      const pod = final.find((p) => p.spec?.nodeName === node)!;
      const t = pod.status!.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime!;
      return new Date(t).getTime();
    };
    const availableAt = waves.map((nodes) => Math.max(...nodes.map(readyAt)));
    for (let k = 1; k < waves.length; k++) {
      const previous = waves[k - 1]!;
      const started = samples.filter((s) => updatedNodes(s, waves[k]!, hasNewImage).length > 0);
      expect(started.length, `wave ${k + 1} was never seen updating`).toBeGreaterThan(0);
      for (const sample of started) {
        for (const n of previous) {
          expect(
            live(sample, n).map((p) => `${p.image ?? '?'}${p.available ? ':available' : ''}`),
            `wave ${k} node ${n} while wave ${k + 1} updates: ${describeSample(sample)}`,
          ).toEqual([`${NEW_IMAGE}:available`]);
        }
        expect(
          sample.at,
          `wave ${k + 1} updating ${sample.at - availableAt[k - 1]!} ms after wave ${k} became available: ${describeSample(sample)}`,
        ).toBeGreaterThanOrEqual(availableAt[k - 1]! + soakSeconds * 1000);
      }
    }
    const started = await eventsFor(cluster, namespace, name, 'WaveStarted');
    const completed = await eventsFor(cluster, namespace, name, 'WaveCompleted');
    expect(started.map((e) => e.message).join('\n')).toContain(`${ZONE_LABEL}=a`);
    expect(started.map((e) => e.message).join('\n')).toContain(`${ZONE_LABEL}=c`);
    expect(completed.map((e) => e.message).join('\n')).toContain(`${ZONE_LABEL}=a`);
    expectAtMostUnavailable(samples, workers, 1);
  });

  it('progress deadline: a revision whose pods never become Ready sets Progressing=False ProgressDeadlineExceeded and warns', async () => {
    const name = 'deadline';
    const annotations = { [PROGRESS_DEADLINE_ANNOTATION]: '10' };
    await converged(name, { annotations });
    const sampler = new PodSampler(cluster, namespace, name);
    await apply(name, { image: NEW_IMAGE, simulate: 'not-ready', annotations });
    const stalled = await waitForCondition(
      name,
      'Progressing',
      'ProgressDeadlineExceeded',
      (c) => c.reason === 'ProgressDeadlineExceeded',
    );
    expect(stalled.status).toBe('False');
    const event = await waitForEvent(cluster, namespace, name, 'ProgressDeadlineExceeded');
    expect(event.type).toBe('Warning');
    const samples = await sampler.stop();

    // maxUnavailable 1: the one never-Ready pod holds the rollout.
    for (const sample of samples)
      expect(updatedNodes(sample, workers, hasNewImage).length, describeSample(sample)).toBeLessThanOrEqual(
        1,
      );
    expectAtMostUnavailable(samples, workers, 1);
    const stuck = (await podsOf(cluster, namespace, name)).filter((p) => imageOf(p) === NEW_IMAGE);
    expect(stuck.map((p) => [p.status?.phase, isReady(p)])).toEqual([['Running', false]]);
  });

  it.each(['crashloop', 'image-pull-error'] as const)(
    'auto-pause on %s: one batch runs the bad revision, the rollout stops naming pod and node; a template fix resumes it',
    async (failure) => {
      const name = `auto-pause-${failure}`;
      const annotations = { [AUTO_PAUSE_ANNOTATION]: 'true' };
      await converged(name, { annotations });
      const sampler = new PodSampler(cluster, namespace, name);
      await apply(name, { image: NEW_IMAGE, simulate: failure, annotations });
      const paused = await waitForCondition(name, 'RolloutAutoPaused', 'True', (c) => c.status === 'True');
      const bad = (await podsOf(cluster, namespace, name)).filter(
        (p) => p.metadata?.annotations?.[SIMULATE_ANNOTATION] === failure && !isTerminating(p),
      );
      expect(describePods(bad)).toHaveLength(1);
      const [badPod] = bad as [V1Pod];
      const badRevision = revisionOf(badPod)!;
      expect(paused.reason).toBe('RolloutAutoPaused');
      expect(paused.message).toContain(`pod ${badPod.metadata!.name!} on node ${podNode(badPod)!}`);
      expect(paused.message).toContain(failure === 'crashloop' ? 'CrashLoopBackOff' : 'ImagePullBackOff');
      const progressing = await waitForCondition(
        name,
        'Progressing',
        'RolloutAutoPaused',
        (c) => c.reason === 'RolloutAutoPaused',
      );
      expect(progressing.status).toBe('False');
      const event = await waitForEvent(cluster, namespace, name, 'RolloutAutoPaused');
      expect(event.type).toBe('Warning');
      expect(event.message).toContain(badPod.metadata!.name!);
      expect(event.message).toContain(podNode(badPod)!);
      await sleep(HOLD_WATCH_MS);
      // Still one bad pod: the pause holds.
      expect(
        (await podsOf(cluster, namespace, name)).filter(
          (p) => revisionOf(p) === badRevision && !isTerminating(p),
        ),
      ).toHaveLength(1);

      await apply(name, { image: NEW_IMAGE, annotations });
      await waitForImages(name, imagesFor(workers, NEW_IMAGE), 'every node on the fixed revision');
      await waitForCondition(
        name,
        'Progressing',
        'NewRevisionAvailable',
        (c) => c.reason === 'NewRevisionAvailable',
      );
      const samples = await sampler.stop();

      const badNodes = new Set(
        samples.flatMap((s) => s.pods.filter((p) => p.revision === badRevision).map((p) => p.node)),
      );
      expect([...badNodes]).toEqual([podNode(badPod)]);
      expectAtMostUnavailable(samples, workers, 1);
      expect((await podsOf(cluster, namespace, name)).some((p) => revisionOf(p) === badRevision)).toBe(false);
    },
  );

  it('a node NotReady since before the update, whose pod never finishes terminating, does not stall the rollout of the others', async () => {
    const name = 'dead-node';
    const dead = workers[1]!;
    const alive = workers.filter((n) => n !== dead);
    await converged(name, {});
    cleanups.push(() => cluster.makeNodeReady(dead));
    cleanups.push(async () => {
      for (const pod of await podsOf(cluster, namespace, name)) {
        if (pod.metadata?.finalizers?.includes(DEAD_KUBELET_FINALIZER))
          await cluster.kubectl([
            'patch',
            'pod',
            pod.metadata.name!,
            '-n',
            namespace,
            '--type=merge',
            '-p',
            '{"metadata":{"finalizers":null}}',
          ]);
      }
    });
    const deadNode = await cluster.makeNodeNotReady(dead);
    // A dead kubelet never confirms a deletion: the pod on it stays Terminating once deleted.
    const onDead = (await podsOf(cluster, namespace, name)).find((p) => p.spec?.nodeName === dead)!;
    await cluster.kubectl([
      'patch',
      'pod',
      onDead.metadata!.name!,
      '-n',
      namespace,
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'add', path: '/metadata/finalizers', value: [DEAD_KUBELET_FINALIZER] }]),
    ]);
    // The update begins after the node turned NotReady (timestamps have whole seconds).
    const notReadySince = new Date(
      deadNode.status!.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime as unknown as string,
    ).getTime();
    await waitFor('a second past the NotReady transition', () =>
      Date.now() > notReadySince + 1000 ? done(undefined) : notYet(Date.now()),
    );

    const sampler = new PodSampler(cluster, namespace, name);
    await apply(name, { image: NEW_IMAGE });
    await waitFor(
      `every live worker (${alive.join(', ')}) serving the new image`,
      async () => {
        const pods = await podsOf(cluster, namespace, name);
        const ok = alive.every((n) =>
          pods.some((p) => p.spec?.nodeName === n && isServing(p) && imageOf(p) === NEW_IMAGE),
        );
        return ok ? done(pods) : notYet(describePods(pods));
      },
      { timeoutMs: 60_000, abortIf: everynode.failure },
    );
    const samples = await sampler.stop();

    expectAtMostUnavailable(samples, alive, 1);
    // Replaced last: the dead node's pod stays as it was while a live worker still waits for its new pod.
    for (const sample of samples.filter((s) => updatedNodes(s, alive, hasNewImage).length < alive.length)) {
      expect(
        sample.pods
          .filter((p) => p.node === dead)
          .map((p) => `${p.uid}${p.terminating ? ':terminating' : ''}`),
        describeSample(sample),
      ).toEqual([onDead.metadata!.uid!]);
    }
    for (const sample of samples)
      for (const n of alive)
        expect(live(sample, n).length, `${n} in ${describeSample(sample)}`).toBeLessThanOrEqual(1);
  });

  it('a hostPort template with maxSurge 1 is replaced delete-first and completes, with a SurgeNotPossible warning', async () => {
    const name = 'host-port';
    const spec = { hostPort: 18080, rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
    await converged(name, spec);
    const sampler = new PodSampler(cluster, namespace, name);
    await apply(name, { ...spec, image: NEW_IMAGE });
    await waitForImages(name, imagesFor(workers, NEW_IMAGE), 'every node updated');
    const samples = await sampler.stop();
    const event = await waitForEvent(cluster, namespace, name, 'SurgeNotPossible');
    expect(event.type).toBe('Warning');

    // The sampler saw the rollout under way (old and new pods at once).
    expect(samples.some((s) => s.pods.some((p) => p.image === OLD_IMAGE) && s.pods.some(hasNewImage))).toBe(
      true,
    );
    for (const sample of samples)
      for (const n of workers)
        expect(live(sample, n).length, `${n} in ${describeSample(sample)}`).toBeLessThanOrEqual(1);
    expectAtMostUnavailable(samples, workers, 1);
  });

  it('an invalid partition "half" warns naming the annotation and the accepted forms, and holds the rollout', async () => {
    const name = 'invalid';
    await converged(name, { annotations: { [PARTITION_ANNOTATION]: 'half' } });
    const warning = await waitForEvent(cluster, namespace, name, 'InvalidRolloutSetting');
    expect(warning.type).toBe('Warning');
    expect(warning.message).toContain(PARTITION_ANNOTATION);
    expect(warning.message).toContain('"half"');
    expect(warning.message).toContain('"3"');
    expect(warning.message).toContain('"25%"');
    const before = await podsOf(cluster, namespace, name);
    const sampler = new PodSampler(cluster, namespace, name);
    await apply(name, { image: NEW_IMAGE, annotations: { [PARTITION_ANNOTATION]: 'half' } });
    const held = await waitForCondition(
      name,
      'Progressing',
      'held (RolloutPaused)',
      (c) => c.reason === 'RolloutPaused',
    );
    expect(held.message).toContain(PARTITION_ANNOTATION);
    await sleep(HOLD_WATCH_MS);
    const fixed = Date.now();
    await apply(name, { image: NEW_IMAGE, annotations: { [PARTITION_ANNOTATION]: '0' } });
    await waitForImages(name, imagesFor(workers, NEW_IMAGE), 'every node updated once fixed');
    const samples = await sampler.stop();

    const uids = before.map((p) => p.metadata!.uid!).sort();
    for (const sample of samples.filter((s) => s.at < fixed)) {
      expect(sample.pods.map((p) => p.uid).sort(), describeSample(sample)).toEqual(uids);
      expect(
        sample.pods.some((p) => p.terminating || p.image === NEW_IMAGE),
        describeSample(sample),
      ).toBe(false);
    }
    expectAtMostUnavailable(samples, workers, 1);
  });
});
