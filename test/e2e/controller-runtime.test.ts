// The controller process (startController) on the real control plane: the
// pods it creates carry the whole daemon-pod contract and the default
// scheduler binds them where they are pinned; status, revisions, events and
// metrics are written; orphans matching the selector are adopted and owned
// pods that stop matching are released.
import type { V1ControllerRevision, V1DaemonSet, V1Node, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eCluster, e2eKubeconfig } from '../harness/e2e.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import {
  controllerRefOf,
  MANAGED_LABEL,
  MANAGED_LABEL_VALUE,
  pinnedNodeOf,
  pinToNode,
  TARGET_NODE_ANNOTATION,
} from '../../src/contract/daemon-pod.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { KubeClient, loadKubeConfig, resourcePath, resources } from '../../src/machinery/kube.ts';
import { startController, type ControllerHandle } from '../../src/controller/main.ts';

const cluster = e2eCluster();
const image = 'registry.k8s.io/pause:3.10';
let namespace: string;
let api: KubeClient;
let controller: ControllerHandle;
/** Nodes a DaemonSet without tolerations runs on: no NoSchedule/NoExecute taint beyond the node.kubernetes.io ones daemons tolerate. */
let eligible: string[];

beforeAll(async () => {
  namespace = await cluster.createNamespace('controller-');
  api = new KubeClient(loadKubeConfig(e2eKubeconfig()), { qps: 0, burst: 1 });
  const nodes = (await api.list<V1Node>(resourcePath(resources.nodes))).items;
  eligible = nodes
    .filter(
      (n) =>
        !(n.spec?.taints ?? []).some(
          (t) => t.effect !== 'PreferNoSchedule' && !t.key.startsWith('node.kubernetes.io/'),
        ),
    )
    .map((n) => n.metadata!.name!)
    .sort();
  controller = await startController({
    kubeconfig: e2eKubeconfig(),
    logger: silentLogger(),
    leaderElect: false,
    metricsPort: 0,
    metricsHost: '127.0.0.1',
  });
  await waitFor('the controller caches', () => (controller.isReady() ? done(true) : notYet(false)));
});

afterAll(async () => {
  await controller?.stop();
  await api?.close();
  await cluster.deleteNamespace(namespace);
});

function daemonSet(name: string, strategy: 'RollingUpdate' | 'OnDelete' = 'RollingUpdate'): V1DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { app: name } },
      updateStrategy: { type: strategy },
      template: {
        metadata: { labels: { app: name, tier: 'test' }, annotations: { note: 'from-template' } },
        spec: { containers: [{ name: 'main', image }] },
      },
    },
  };
}

const dsPath = (name?: string) => resourcePath(resources.daemonSets, { namespace, name });
const podPath = (name?: string) => resourcePath(resources.pods, { namespace, name });
const listPods = async (selector: string) =>
  (await api.list<V1Pod>(podPath(), { labelSelector: selector })).items;
const ownedBy = (pods: V1Pod[], ds: V1DaemonSet) =>
  pods.filter((p) => controllerRefOf(p)?.uid === ds.metadata?.uid);

/** Waits until the DaemonSet owns one bound pod on every eligible node. */
async function waitForDaemonPods(ds: V1DaemonSet): Promise<V1Pod[]> {
  return waitFor(`one bound pod of ${ds.metadata?.name} per eligible node`, async () => {
    const pods = ownedBy(await listPods(`app=${ds.metadata?.name}`), ds).filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
    const nodes = pods.map((p) => p.spec?.nodeName ?? '(unbound)').sort();
    return JSON.stringify(nodes) === JSON.stringify(eligible) ? done(pods) : notYet(nodes);
  });
}

describe('the controller process', () => {
  it('creates pinned, labelled, owned pods that kube-scheduler binds, and reports status, history, events and metrics', async () => {
    const ds = await api.create<V1DaemonSet>(dsPath(), daemonSet('nginx'));
    const pods = await waitForDaemonPods(ds);

    const revisions = (
      await api.list<V1ControllerRevision>(resourcePath(resources.controllerRevisions, { namespace }))
    ).items.filter((r) => controllerRefOf(r)?.uid === ds.metadata?.uid);
    expect(revisions).toHaveLength(1);
    const hash = revisions[0]!.metadata!.labels!['controller-revision-hash']!;
    expect(revisions[0]!.metadata!.name).toBe(`nginx-${hash}`);
    expect(revisions[0]!.revision).toBe(1);

    for (const pod of pods) {
      const node = pod.spec!.nodeName!;
      expect(pod.metadata!.generateName).toBe('nginx-');
      expect(pod.metadata!.labels).toEqual({
        app: 'nginx',
        tier: 'test',
        'controller-revision-hash': hash,
        'pod-template-generation': '1',
        [MANAGED_LABEL]: MANAGED_LABEL_VALUE,
      });
      expect(pod.metadata!.annotations).toMatchObject({
        note: 'from-template',
        [TARGET_NODE_ANNOTATION]: node,
      });
      expect(pod.metadata!.ownerReferences).toEqual([
        {
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          name: 'nginx',
          uid: ds.metadata!.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      // Bound by the scheduler to exactly the node the affinity pins it to.
      expect(pinnedNodeOf({ ...pod, spec: { ...pod.spec!, nodeName: undefined } })).toBe(node);
      expect(pod.spec!.schedulerName).toBe('default-scheduler');
      expect(pod.spec!.tolerations).toEqual(
        expect.arrayContaining([
          { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
          { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
        ]),
      );
    }

    const status = await waitFor('the DaemonSet status', async () => {
      const s = (await api.get<V1DaemonSet>(dsPath('nginx'))).status;
      return s?.numberReady === eligible.length && s.observedGeneration === 1 ? done(s) : notYet(s);
    });
    expect(status).toMatchObject({
      desiredNumberScheduled: eligible.length,
      currentNumberScheduled: eligible.length,
      updatedNumberScheduled: eligible.length,
      numberMisscheduled: 0,
    });

    const events = await waitFor('the SuccessfulCreate events', async () => {
      const list = (
        await api.list<{
          reason: string;
          message: string;
          source?: { component?: string };
          involvedObject: { uid?: string };
        }>(resourcePath(resources.events, { namespace }))
      ).items.filter((e) => e.involvedObject.uid === ds.metadata?.uid && e.reason === 'SuccessfulCreate');
      return list.length === eligible.length ? done(list) : notYet(list.length);
    });
    expect(new Set(events.map((e) => e.message))).toEqual(
      new Set(pods.map((p) => `Created pod: ${p.metadata!.name}`)),
    );
    expect(events.every((e) => e.source?.component === 'everynode-controller')).toBe(true);

    const base = `http://127.0.0.1:${controller.probePort}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(
      /controller_runtime_reconcile_total\{controller="daemonset",result="success"\} [1-9]/,
    );
    expect(metrics).toMatch(/workqueue_adds_total\{name="daemonset",controller="daemonset"\} [1-9]/);
    expect(metrics).toContain('controller_runtime_reconcile_time_seconds_bucket');
  });

  it('adopts a matching orphan instead of creating a second pod on its node', async () => {
    const node = eligible[0]!;
    const orphan = await api.create<V1Pod>(podPath(), {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'orphan', labels: { app: 'adopt', [MANAGED_LABEL]: MANAGED_LABEL_VALUE } },
      spec: { containers: [{ name: 'main', image }], affinity: pinToNode(undefined, node) },
    });
    // OnDelete, so the adopted pod (older template) is kept rather than rolled.
    const ds = await api.create<V1DaemonSet>(dsPath(), daemonSet('adopt', 'OnDelete'));
    const pods = await waitForDaemonPods(ds);
    const onNode = pods.filter((p) => p.spec?.nodeName === node);
    expect(onNode.map((p) => p.metadata?.uid)).toEqual([orphan.metadata?.uid]);
    expect(controllerRefOf(onNode[0]!)).toMatchObject({
      kind: 'DaemonSet',
      name: 'adopt',
      uid: ds.metadata?.uid,
      controller: true,
    });
  });

  it('releases an owned pod that stops matching the selector and replaces it', async () => {
    const ds = await api.get<V1DaemonSet>(dsPath('nginx'));
    const [victim] = await waitForDaemonPods(ds);
    await api.patch(podPath(victim!.metadata!.name), 'merge', { metadata: { labels: { app: 'elsewhere' } } });
    await waitFor('the pod to be released', async () => {
      const pod = await api.get<V1Pod>(podPath(victim!.metadata!.name));
      return controllerRefOf(pod) === undefined ? done(pod) : notYet(pod.metadata?.ownerReferences);
    });
    const pods = await waitForDaemonPods(ds);
    expect(pods.map((p) => p.metadata?.uid)).not.toContain(victim!.metadata?.uid);
  });
});
