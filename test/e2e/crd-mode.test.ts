// CRD mode on a cluster whose built-in DaemonSet controller cannot be turned
// off: a control plane of its own with kube-controller-manager's DaemonSet
// controller running (as on a managed cluster), the everynode.dev CRD from the
// chart, and everynode's controller with --mode=crd. The tutorial runs through
// the CRD, an apps/v1 DaemonSet beside it is left to kube-controller-manager
// (no node ever gets a second pod of either), a rolling update through the CRD
// keeps maxUnavailable, ControllerRevisions belong to the everynode.dev
// DaemonSet, and deleting it garbage-collects its pods.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EVERYNODE_DAEMONSET,
  MANAGED_LABEL,
  controllerRefOf,
  pinnedNodeOf,
} from '../../src/contract/daemon-pod.ts';
import { CONTROL_PLANE_NODE, startCluster, stopCluster } from '../harness/cluster.ts';
import { ClusterClient } from '../harness/kube.ts';
import { repoRoot } from '../harness/tools.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import {
  describePods,
  describeSample,
  Everynode,
  isServing,
  PodSampler,
  unavailableNodes,
} from './support/everynode.ts';

const CRD_FILE = join(repoRoot, 'charts/everynode/crds/daemonsets.everynode.dev.yaml');
const API_VERSION = `${EVERYNODE_DAEMONSET.group}/${EVERYNODE_DAEMONSET.version}`;
const OLD_IMAGE = 'nginx:1.27';
const NEW_IMAGE = 'nginx:1.28';

let dir: string;
let cluster: ClusterClient;
let everynode: Everynode | undefined;
let namespace: string;
let workers: string[];

const kubectl = (...args: string[]) => cluster.kubectl([...args, '-n', namespace]);

/** Every pod of the namespace whose controller is `name` of the given apiVersion. */
async function podsOwnedBy(apiVersion: string, name: string): Promise<V1Pod[]> {
  const list = await cluster.core.listNamespacedPod({ namespace });
  return list.items.filter((p) => {
    const ref = controllerRefOf(p);
    return ref?.apiVersion === apiVersion && ref.kind === 'DaemonSet' && ref.name === name;
  });
}

const nodeOf = (p: V1Pod) => p.spec?.nodeName ?? pinnedNodeOf(p);

/** Waits for exactly one serving pod of the DaemonSet on each node of `nodes` and no other. */
async function waitForOnePodPerNode(
  apiVersion: string,
  name: string,
  nodes: readonly string[],
  image?: string,
) {
  const wanted = [...nodes].sort().join();
  return waitFor(
    `${apiVersion} DaemonSet ${name}: one serving pod on each of ${wanted}`,
    async () => {
      const pods = await podsOwnedBy(apiVersion, name);
      const on = pods
        .map((p) => p.spec?.nodeName ?? '(unbound)')
        .sort()
        .join();
      const ok =
        on === wanted &&
        pods.every((p) => isServing(p) && (!image || p.spec?.containers[0]?.image === image));
      return ok ? done(pods) : notYet(describePods(pods));
    },
    { timeoutMs: 90_000, ...(everynode ? { abortIf: everynode.failure } : {}) },
  );
}

function daemonSet(apiVersion: string, name: string, image: string) {
  return {
    apiVersion,
    kind: 'DaemonSet',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { app: name } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'nginx', image }] },
      },
    },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'everynode-crd-mode-'));
  // As on a managed cluster: kube-controller-manager runs its own DaemonSet controller.
  const state = await startCluster({ dir, nodes: 3, controlPlane: true, builtInDaemonSetController: true });
  cluster = new ClusterClient(state.kubeconfig);
  await cluster.kubectl(['apply', '--server-side', '-f', CRD_FILE]);
  await cluster.waitForCrdEstablished('daemonsets.everynode.dev');
  namespace = await cluster.createNamespace('crd-mode-');
  workers = await cluster.workerNames();
  everynode = await Everynode.start(cluster, {
    namespaces: [namespace],
    controller: { extraArgs: ['--mode=crd'] },
  });
}, 300_000);

afterAll(async () => {
  await everynode?.stop();
  if (dir) await stopCluster(dir, { keepDir: process.env.EVERYNODE_E2E_KEEP_LOGS === '1' });
});

describe('CRD mode beside kube-controller-manager’s own DaemonSet controller', () => {
  it('the nginx tutorial with only its apiVersion changed: one pinned pod per worker, none on the control plane', async () => {
    const manifest = parse(await readFile(join(repoRoot, 'examples/nginx-ds.yaml'), 'utf8')) as {
      apiVersion: string;
      metadata: { name: string; namespace?: string };
    };
    manifest.apiVersion = API_VERSION;
    manifest.metadata.namespace = namespace;
    await cluster.applyManifest(manifest);
    const pods = await waitForOnePodPerNode(API_VERSION, manifest.metadata.name, workers);
    for (const p of pods) {
      expect(p.metadata?.labels?.[MANAGED_LABEL]).toBe('true');
      expect(pinnedNodeOf({ ...p, spec: { ...p.spec!, nodeName: undefined } })).toBe(p.spec?.nodeName);
    }
    expect(pods.some((p) => p.spec?.nodeName === CONTROL_PLANE_NODE)).toBe(false);
    const ds = await cluster.kubectl(['get', 'evds', manifest.metadata.name, '-n', namespace, '-o', 'json']);
    const status = (JSON.parse(ds.stdout) as { status: Record<string, number> }).status;
    expect(status).toMatchObject({ desiredNumberScheduled: workers.length, numberReady: workers.length });
    await kubectl('delete', 'evds', manifest.metadata.name, '--wait=true');
  });

  it('an apps/v1 DaemonSet beside it is left to kube-controller-manager; no node ever gets a pod twice', async () => {
    await cluster.applyManifest(daemonSet('apps/v1', 'twin', OLD_IMAGE));
    await cluster.applyManifest(daemonSet(API_VERSION, 'twin', OLD_IMAGE));
    // Same name, same selector label, two kinds: each gets one pod per node from its own controller.
    const sampler = new PodSampler(cluster, namespace, 'twin');
    const kcm = await waitForOnePodPerNode('apps/v1', 'twin', workers);
    const ours = await waitForOnePodPerNode(API_VERSION, 'twin', workers);
    const samples = await sampler.stop();
    // kube-controller-manager's pods carry no managed label; everynode's do.
    for (const p of kcm) expect(p.metadata?.labels?.[MANAGED_LABEL]).toBeUndefined();
    for (const p of ours) expect(p.metadata?.labels?.[MANAGED_LABEL]).toBe('true');
    // Both kinds' pods are named twin-…; per node and per owner kind, never more than one live pod.
    for (const sample of samples) {
      for (const node of workers) {
        const live = sample.pods.filter((p) => p.node === node && !p.terminating);
        expect(live.length, describeSample(sample)).toBeLessThanOrEqual(2);
      }
    }
    const everyPod = [...(await podsOwnedBy('apps/v1', 'twin')), ...(await podsOwnedBy(API_VERSION, 'twin'))];
    expect(everyPod.length).toBe(2 * workers.length);
    await kubectl('delete', 'ds', 'twin', '--wait=true');
    await kubectl('delete', 'evds', 'twin', '--wait=true');
  });

  it('a rolling update through the CRD never has more than maxUnavailable nodes down; revisions belong to it', async () => {
    await cluster.applyManifest(daemonSet(API_VERSION, 'rolling', OLD_IMAGE));
    await waitForOnePodPerNode(API_VERSION, 'rolling', workers);
    const sampler = new PodSampler(cluster, namespace, 'rolling');
    await kubectl(
      'patch',
      'evds',
      'rolling',
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: NEW_IMAGE }]),
    );
    await waitForOnePodPerNode(API_VERSION, 'rolling', workers, NEW_IMAGE);
    const samples = await sampler.stop();
    expect(
      samples.some(
        (s) => s.pods.some((p) => p.image === OLD_IMAGE) && s.pods.some((p) => p.image === NEW_IMAGE),
      ),
    ).toBe(true);
    for (const sample of samples) {
      expect(unavailableNodes(sample, workers).length, describeSample(sample)).toBeLessThanOrEqual(1);
    }

    const revisions = await cluster.apps.listNamespacedControllerRevision({ namespace });
    const owned = revisions.items.filter(
      (r) => controllerRefOf(r)?.apiVersion === API_VERSION && controllerRefOf(r)?.name === 'rolling',
    );
    expect(owned.map((r) => r.revision).sort()).toEqual([1, 2]);
    const ds = JSON.parse((await kubectl('get', 'evds', 'rolling', '-o', 'json')).stdout) as {
      metadata: { generation: number };
      status: {
        observedGeneration: number;
        updatedNumberScheduled: number;
        conditions?: Array<{ type: string; reason: string }>;
      };
    };
    expect(ds.status.observedGeneration).toBe(ds.metadata.generation);
    expect(ds.status.updatedNumberScheduled).toBe(workers.length);
    // everynode's own kind always reports where its rollout stands.
    expect(ds.status.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('NewRevisionAvailable');
  });

  it('spec.rollout.partition holds nodes on the old revision', async () => {
    await cluster.applyManifest(daemonSet(API_VERSION, 'partitioned', OLD_IMAGE));
    await waitForOnePodPerNode(API_VERSION, 'partitioned', workers);
    await kubectl(
      'patch',
      'evds',
      'partitioned',
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: {
          rollout: { partition: 2 },
          template: { spec: { containers: [{ name: 'nginx', image: NEW_IMAGE }] } },
        },
      }),
    );
    const pods = await waitFor(
      'one node updated, two held by the partition',
      async () => {
        const list = await podsOwnedBy(API_VERSION, 'partitioned');
        const updated = list.filter((p) => p.spec?.containers[0]?.image === NEW_IMAGE && isServing(p));
        const held = list.filter((p) => p.spec?.containers[0]?.image === OLD_IMAGE && isServing(p));
        return updated.length === 1 && held.length === 2 ? done(list) : notYet(describePods(list));
      },
      { timeoutMs: 60_000, abortIf: everynode!.failure },
    );
    // In name order: the first worker updates.
    expect(nodeOf(pods.find((p) => p.spec?.containers[0]?.image === NEW_IMAGE)!)).toBe(
      [...workers].sort()[0],
    );
  });

  it('spec.rollout.updateMode InPlaceIfPossible updates the pods in place: same UIDs, the new image running', async () => {
    await cluster.applyManifest(daemonSet(API_VERSION, 'in-place', OLD_IMAGE));
    const before = await waitForOnePodPerNode(API_VERSION, 'in-place', workers);
    await kubectl(
      'patch',
      'evds',
      'in-place',
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: {
          rollout: { updateMode: 'InPlaceIfPossible' },
          template: { spec: { containers: [{ name: 'nginx', image: NEW_IMAGE }] } },
        },
      }),
    );
    const after = await waitFor(
      'every pod running the new image',
      async () => {
        const list = await podsOwnedBy(API_VERSION, 'in-place');
        const running = list.filter(
          (p) => isServing(p) && p.status?.containerStatuses?.[0]?.image === NEW_IMAGE,
        );
        return running.length === workers.length && list.length === workers.length
          ? done(list)
          : notYet(describePods(list));
      },
      { timeoutMs: 60_000, abortIf: everynode!.failure },
    );
    const uids = (pods: V1Pod[]) => pods.map((p) => p.metadata?.uid).sort();
    expect(uids(after)).toEqual(uids(before));
    await kubectl('delete', 'evds', 'in-place', '--wait=true');
  });

  it('deleting the everynode.dev DaemonSet garbage-collects its pods', async () => {
    await kubectl('delete', 'evds', 'rolling', '--wait=true');
    await waitFor(
      'the pods of evds/rolling to be gone',
      async () => {
        const left = await podsOwnedBy(API_VERSION, 'rolling');
        return left.length === 0 ? done(undefined) : notYet(describePods(left));
      },
      { timeoutMs: 90_000 },
    );
  });
});
