// The chart in CRD mode on a cluster like a managed one (kube-controller-manager
// runs its own DaemonSet controller): a real `helm install --set mode=crd` in
// development mode installs the everynode.dev CRD and says CRD mode in its
// NOTES; the controller on the host (--mode=crd, as the chart's own
// ServiceAccount, so with the chart's RBAC only) runs the nginx tutorial with
// only its apiVersion changed, while an apps/v1 DaemonSet beside it is run by
// kube-controller-manager; `helm uninstall` removes the release and leaves the CRD.
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
import { installEverynodeOnHost, type HostEverynode } from './chart-support.ts';

const RELEASE = 'dev';
const CRD = 'daemonsets.everynode.dev';
const API_VERSION = `${EVERYNODE_DAEMONSET.group}/${EVERYNODE_DAEMONSET.version}`;

let dir: string | undefined;
let cluster: ClusterClient;
let everynode: HostEverynode | undefined;
let namespace: string;
let workers: string[];
let crdBeforeInstall: number;

const crdEstablished = async () =>
  (
    await cluster.kubectl([
      'get',
      'crd',
      CRD,
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Established")].status}',
    ])
  ).stdout.trim();

/** Waits for exactly one Running pod of the DaemonSet on each worker, and returns them. */
function waitForOnePodPerWorker(apiVersion: string, name: string): Promise<V1Pod[]> {
  return waitFor(
    `${apiVersion} DaemonSet ${name}: one Running pod on each of ${workers.join(', ')}`,
    async () => {
      const pods = (await cluster.core.listNamespacedPod({ namespace })).items.filter((p) => {
        const ref = controllerRefOf(p);
        return ref?.apiVersion === apiVersion && ref.name === name && !p.metadata?.deletionTimestamp;
      });
      const on = pods.map((p) => p.spec?.nodeName ?? '(unbound)').sort();
      return on.join() === workers.join() && pods.every((p) => p.status?.phase === 'Running')
        ? done(pods)
        : notYet(pods.map((p) => `${p.metadata?.name}@${p.spec?.nodeName}:${p.status?.phase}`));
    },
    { timeoutMs: 120_000, abortIf: () => everynode?.exited() },
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'everynode-chart-install-crd-'));
  const state = await startCluster({ dir, nodes: 2, controlPlane: true, builtInDaemonSetController: true });
  cluster = new ClusterClient(state.kubeconfig);
  workers = await cluster.workerNames();
  crdBeforeInstall = (await cluster.kubectl(['get', 'crd', CRD], { allowFailure: true })).code;
  namespace = await cluster.createNamespace('chart-install-crd-');
  everynode = await installEverynodeOnHost(cluster, { release: RELEASE, namespace, mode: 'crd' });
});

afterAll(async () => {
  await everynode?.stop();
  if (dir) await stopCluster(dir, { keepDir: process.env.EVERYNODE_E2E_KEEP_LOGS === '1' });
});

describe('helm install with mode=crd beside kube-controller-manager’s DaemonSet controller', () => {
  it('installs the CRD, Established, and its NOTES say CRD mode', async () => {
    expect(crdBeforeInstall).not.toBe(0);
    expect(await crdEstablished()).toBe('True');
    expect(everynode!.installOutput).toContain('Mode: crd.');
    expect(everynode!.installOutput).not.toContain('Mode: native.');
  });

  it('the nginx tutorial as everynode.dev/v1alpha1: one pinned pod per worker, none on the control plane', async () => {
    expect(workers).toHaveLength(2);
    const manifest = parse(await readFile(join(repoRoot, 'examples/nginx-ds.yaml'), 'utf8')) as {
      apiVersion: string;
      metadata: { name: string; namespace?: string };
    };
    manifest.apiVersion = API_VERSION;
    manifest.metadata.namespace = namespace;
    await cluster.applyManifest(manifest);
    const pods = await waitForOnePodPerWorker(API_VERSION, 'nginx');
    for (const p of pods) {
      expect(p.metadata?.labels?.[MANAGED_LABEL]).toBe('true');
      expect(pinnedNodeOf({ ...p, spec: { ...p.spec!, nodeName: undefined } })).toBe(p.spec?.nodeName);
    }
    expect(pods.some((p) => p.spec?.nodeName === CONTROL_PLANE_NODE)).toBe(false);
  });

  it('an apps/v1 DaemonSet beside it is run by kube-controller-manager', async () => {
    await cluster.applyManifest({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'beside', namespace },
      spec: {
        selector: { matchLabels: { app: 'beside' } },
        template: {
          metadata: { labels: { app: 'beside' } },
          spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] },
        },
      },
    });
    const pods = await waitForOnePodPerWorker('apps/v1', 'beside');
    for (const p of pods) expect(p.metadata?.labels?.[MANAGED_LABEL]).toBeUndefined();
  });

  it('helm uninstall removes the release; the CRD stays, as Helm leaves crds/', async () => {
    const released = async () =>
      (
        await cluster.kubectl([
          'get',
          'sa,role,rolebinding,clusterrole,clusterrolebinding,mutatingwebhookconfiguration',
          '-A',
          '-l',
          `app.kubernetes.io/instance=${RELEASE}`,
          '-o',
          'name',
        ])
      ).stdout.trim();
    expect(await released()).toContain(`serviceaccount/${RELEASE}-everynode-controller`);
    await everynode!.stop();
    await cluster.helm(['uninstall', RELEASE, '--namespace', namespace, '--wait']);
    expect((await cluster.helm(['list', '--namespace', namespace, '-q'])).stdout.trim()).toBe('');
    expect(await released()).toBe('');
    expect(await crdEstablished()).toBe('True');
  });
});
