// Where a DaemonSet's pods go, on the real control plane with everynode's
// webhook and controller running: the tutorials (nginx on the workers only,
// fluentd-elasticsearch also on the tainted control-plane node), nodes joining
// and leaving, label changes under a nodeSelector or a required node affinity,
// and NoExecute versus NoSchedule taints. Every pod is bound by kube-scheduler
// after the webhook pinned it to the node the controller chose.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1DaemonSet, V1Node, V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { daemonTolerations, TARGET_NODE_ANNOTATION } from '../../src/contract/daemon-pod.ts';
import { e2eCluster } from '../harness/e2e.ts';
import { CONTROL_PLANE_ROLE, type ManifestObject } from '../harness/kube.ts';
import { repoRoot } from '../harness/tools.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import {
  describePods,
  Everynode,
  podsOf,
  readPodIfExists,
  waitForDaemonPods,
  waitForEvent,
  waitForStatus,
} from './support/everynode.ts';

const cluster = e2eCluster();
let namespace: string;
let everynode: Everynode;
/** Node changes to undo after each test, so the next one finds the cluster as it was. */
const cleanups: Array<() => Promise<unknown>> = [];

/** The example's DaemonSet, moved into this file's namespace. */
function example(file: string): ManifestObject {
  const text = readFileSync(join(repoRoot, 'examples', file), 'utf8');
  const ds = parseAllDocuments(text)
    .map((d) => d.toJS() as ManifestObject)
    .find((d) => d.kind === 'DaemonSet')!;
  ds.metadata = { ...ds.metadata, namespace };
  return ds;
}

/** A small DaemonSet in this file's namespace; `spec` is merged into the pod template's spec. */
function daemonSet(
  name: string,
  podSpec: Partial<NonNullable<V1DaemonSet['spec']>['template']['spec']> = {},
) {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'agent', image: 'registry.k8s.io/pause:3.10' }], ...podSpec },
      },
    },
  };
}

async function nodes(): Promise<V1Node[]> {
  return (await cluster.core.listNode()).items;
}

const names = (list: V1Node[]) => list.map((n) => n.metadata!.name!).sort();
const isControlPlane = (n: V1Node) => n.metadata?.labels?.[CONTROL_PLANE_ROLE] !== undefined;

/** The kwok workers the global setup started (kwok-worker-1..n). */
async function workers(): Promise<string[]> {
  return names((await nodes()).filter((n) => !isControlPlane(n)));
}

async function deleteDaemonSet(name: string): Promise<void> {
  await cluster.kubectl(['delete', 'ds', name, '-n', namespace, '--ignore-not-found', '--wait=true']);
  await waitFor(`the pods of DaemonSet ${name} to be gone`, async () => {
    const pods = await podsOf(cluster, namespace, name);
    return pods.length === 0 ? done(undefined) : notYet(describePods(pods));
  });
}

/** The pod pinned by the webhook to exactly its node, with the daemon tolerations, and bound there by kube-scheduler. */
async function expectPinnedAndScheduled(pod: V1Pod): Promise<void> {
  const node = pod.metadata!.annotations![TARGET_NODE_ANNOTATION];
  expect(pod.spec!.nodeName).toBe(node);
  expect(pod.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual({
    nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
  });
  for (const toleration of daemonTolerations(pod.spec!.hostNetwork === true))
    expect(pod.spec!.tolerations).toContainEqual(toleration);
  const scheduled = await waitForEvent(cluster, namespace, pod.metadata!.name!, 'Scheduled');
  expect(scheduled.reportingComponent ?? scheduled.source?.component).toBe('default-scheduler');
  expect(scheduled.message).toContain(`to ${node}`);
}

beforeAll(async () => {
  namespace = await cluster.createNamespace('ds-placement-');
  everynode = await Everynode.start(cluster, { namespaces: [namespace] });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await everynode?.stop();
  if (namespace) await cluster.deleteNamespace(namespace);
});

describe('DaemonSet placement', () => {
  it('the tutorials: nginx on each worker only, fluentd-elasticsearch also on the tainted control-plane node', async () => {
    const all = await nodes();
    const controlPlane = all.filter(isControlPlane);
    expect(controlPlane.map((n) => n.spec?.taints?.map((t) => `${t.key}:${t.effect}`))).toEqual([
      [`${CONTROL_PLANE_ROLE}:NoSchedule`],
    ]);
    const workerNames = await workers();
    expect(workerNames).toHaveLength(4);
    cleanups.push(
      () => deleteDaemonSet('nginx'),
      () => deleteDaemonSet('fluentd-elasticsearch'),
    );

    await cluster.applyManifest(example('nginx-ds.yaml'));
    const nginx = await waitForDaemonPods(cluster, namespace, 'nginx', workerNames, {
      abortIf: everynode.failure,
    });
    expect(nginx).toHaveLength(4);
    for (const pod of nginx) await expectPinnedAndScheduled(pod);
    await waitForStatus(
      cluster,
      namespace,
      'nginx',
      'desired 4, all available',
      (s) => s.desiredNumberScheduled === 4 && s.numberAvailable === 4 && s.numberMisscheduled === 0,
    );

    await cluster.applyManifest(example('fluentd-elasticsearch.yaml'));
    const fluentd = await waitForDaemonPods(cluster, namespace, 'fluentd-elasticsearch', names(all), {
      abortIf: everynode.failure,
    });
    expect(fluentd).toHaveLength(5);
    for (const pod of fluentd) await expectPinnedAndScheduled(pod);
    // The template's own toleration is kept next to the daemon ones.
    expect(fluentd[0]!.spec!.tolerations).toContainEqual({
      key: CONTROL_PLANE_ROLE,
      operator: 'Exists',
      effect: 'NoSchedule',
    });
  });

  it('a node joins: a pod follows; the node is deleted: its pod goes', async () => {
    const joiner = 'ds-placement-joiner';
    cleanups.push(
      () => deleteDaemonSet('nginx'),
      () => cluster.deleteNode(joiner),
    );
    await cluster.applyManifest(example('nginx-ds.yaml'));
    const before = await workers();
    await waitForDaemonPods(cluster, namespace, 'nginx', before, { abortIf: everynode.failure });

    await cluster.addNode(joiner);
    const after = await waitForDaemonPods(cluster, namespace, 'nginx', [...before, joiner], {
      abortIf: everynode.failure,
    });
    const joined = after.find((p) => p.spec?.nodeName === joiner)!;
    await expectPinnedAndScheduled(joined);

    await cluster.deleteNode(joiner);
    // kube-controller-manager's pod GC removes pods bound to a deleted node (after its 40 s quarantine);
    // the DaemonSet must neither keep nor recreate one for it.
    await waitForDaemonPods(cluster, namespace, 'nginx', before, {
      abortIf: everynode.failure,
      timeoutMs: 150_000,
    });
    expect(await readPodIfExists(cluster, namespace, joined.metadata!.name!)).toBeUndefined();
    await waitForStatus(
      cluster,
      namespace,
      'nginx',
      'desired back to the workers',
      (s) => s.desiredNumberScheduled === before.length && s.currentNumberScheduled === before.length,
    );
  });

  it('label changes under a nodeSelector move pods', async () => {
    const [w1, w2, w3] = await workers();
    const label = 'everynode.dev/e2e-selected';
    cleanups.push(
      () => deleteDaemonSet('selected'),
      () => Promise.all([w1!, w2!, w3!].map((n) => cluster.labelNode(n, { [label]: null }))),
    );
    await cluster.labelNode(w1!, { [label]: 'yes' });
    await cluster.labelNode(w2!, { [label]: 'yes' });
    await cluster.applyManifest(daemonSet('selected', { nodeSelector: { [label]: 'yes' } }));
    const first = await waitForDaemonPods(cluster, namespace, 'selected', [w1!, w2!], {
      abortIf: everynode.failure,
    });
    const onW2 = first.find((p) => p.spec?.nodeName === w2)!;

    await cluster.labelNode(w1!, { [label]: null });
    await cluster.labelNode(w3!, { [label]: 'yes' });
    const moved = await waitForDaemonPods(cluster, namespace, 'selected', [w2!, w3!], {
      abortIf: everynode.failure,
    });
    // The pod on the node that kept its label is the same pod.
    expect(moved.find((p) => p.spec?.nodeName === w2)?.metadata?.uid).toBe(onW2.metadata?.uid);
    await expectPinnedAndScheduled(moved.find((p) => p.spec?.nodeName === w3)!);
  });

  it('label changes under a required node affinity move pods', async () => {
    const [, w2, , w4] = await workers();
    const zone = 'everynode.dev/e2e-zone';
    cleanups.push(
      () => deleteDaemonSet('zonal'),
      () => Promise.all([w2!, w4!].map((n) => cluster.labelNode(n, { [zone]: null }))),
    );
    await cluster.labelNode(w2!, { [zone]: 'a' });
    await cluster.applyManifest(
      daemonSet('zonal', {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: zone, operator: 'In', values: ['a'] }] }],
            },
          },
        },
      }),
    );
    const [inA] = await waitForDaemonPods(cluster, namespace, 'zonal', [w2!], { abortIf: everynode.failure });
    // The webhook replaced the user's required terms by the pin; the controller keeps their meaning.
    await expectPinnedAndScheduled(inA!);

    await cluster.labelNode(w2!, { [zone]: 'b' });
    await cluster.labelNode(w4!, { [zone]: 'a' });
    await waitForDaemonPods(cluster, namespace, 'zonal', [w4!], { abortIf: everynode.failure });
    expect(await readPodIfExists(cluster, namespace, inA!.metadata!.name!)).toBeUndefined();
  });

  it('a NoExecute taint evicts the pod; a NoSchedule taint leaves it running', async () => {
    const all = await workers();
    const [, , w3, w4] = all;
    const key = 'everynode.dev/e2e-maintenance';
    cleanups.push(
      () => deleteDaemonSet('tainted'),
      () => cluster.untaintNode(w3!, key),
      () => cluster.untaintNode(w4!, key),
    );
    await cluster.applyManifest(daemonSet('tainted'));
    const pods = await waitForDaemonPods(cluster, namespace, 'tainted', all, { abortIf: everynode.failure });
    const onW3 = pods.find((p) => p.spec?.nodeName === w3)!;

    await cluster.taintNode(w3!, { key, value: 'true', effect: 'NoSchedule' });
    await cluster.taintNode(w4!, { key, value: 'true', effect: 'NoExecute' });
    await waitForDaemonPods(
      cluster,
      namespace,
      'tainted',
      all.filter((n) => n !== w4),
      { abortIf: everynode.failure },
    );
    // The controller has seen the NoSchedule taint: w3 no longer counts as desired and its pod is
    // misscheduled (upstream's accounting), yet the pod keeps running.
    await waitForStatus(
      cluster,
      namespace,
      'tainted',
      'w3 misscheduled, w4 not desired',
      (s) => s.desiredNumberScheduled === all.length - 2 && s.numberMisscheduled === 1,
    );
    const stillOnW3 = await readPodIfExists(cluster, namespace, onW3.metadata!.name!);
    expect(stillOnW3?.metadata?.uid).toBe(onW3.metadata?.uid);
    expect(stillOnW3?.metadata?.deletionTimestamp).toBeUndefined();

    // Lifting the NoExecute taint brings a pod back.
    await cluster.untaintNode(w4!, key);
    await waitForDaemonPods(cluster, namespace, 'tainted', all, { abortIf: everynode.failure });
  });
});
