// The daemon-pod contract on the real control plane: `--network-unavailable`
// given to both processes decides placement and tolerations alike, and a
// DaemonSet whose selector collides with everynode's reserved labels is refused
// with a Warning instead of feeding an endless stream of orphaned pods.
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MANAGED_LABEL, TAINT_NETWORK_UNAVAILABLE } from '../../src/contract/daemon-pod.ts';
import { e2eCluster } from '../harness/e2e.ts';
import { Everynode, waitForDaemonPods, waitForEvent } from './support/everynode.ts';

const cluster = e2eCluster();
let namespace: string;
let everynode: Everynode;
let workers: string[];
const cleanups: Array<() => Promise<unknown>> = [];

const kubectl = (...args: string[]) => cluster.kubectl([...args, '-n', namespace]);

function daemonSet(name: string, selector: Record<string, string>, labels: Record<string, string>) {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: selector },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'agent', image: 'registry.k8s.io/pause:3.10' }] },
      },
    },
  };
}

/** Every pod in the namespace with the app label, whoever owns it (orphans included). */
async function podsLabelled(app: string): Promise<V1Pod[]> {
  const list = await cluster.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
  return list.items;
}

beforeAll(async () => {
  namespace = await cluster.createNamespace('ds-contract-');
  // `always`: every daemon pod tolerates node.kubernetes.io/network-unavailable, hostNetwork or not.
  everynode = await Everynode.start(cluster, { namespaces: [namespace], networkUnavailable: 'always' });
  workers = await cluster.workerNames();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await everynode?.stop();
  if (namespace) await cluster.deleteNamespace(namespace);
});

describe('--network-unavailable given to both processes', () => {
  it('with `always`, a node tainted network-unavailable:NoSchedule gets its pod, pinned by both alike', async () => {
    const tainted = workers[0]!;
    await cluster.kubectl([
      'taint',
      'node',
      tainted,
      `${TAINT_NETWORK_UNAVAILABLE}=:NoSchedule`,
      '--overwrite',
    ]);
    cleanups.push(() =>
      cluster.kubectl(['taint', 'node', tainted, `${TAINT_NETWORK_UNAVAILABLE}:NoSchedule-`], {
        allowFailure: true,
      }),
    );
    cleanups.push(() => kubectl('delete', 'ds', 'net-agent', '--ignore-not-found'));
    await cluster.applyManifest(daemonSet('net-agent', { app: 'net-agent' }, { app: 'net-agent' }));

    // Not hostNetwork: with the upstream default (hostNetwork) the tainted node would get no pod.
    const pods = await waitForDaemonPods(cluster, namespace, 'net-agent', workers, {
      abortIf: everynode.failure,
    });
    const onTainted = pods.find((p) => p.spec?.nodeName === tainted)!;
    expect(onTainted.spec?.hostNetwork ?? false).toBe(false);
    const network = (onTainted.spec?.tolerations ?? []).filter((t) => t.key === TAINT_NETWORK_UNAVAILABLE);
    expect(network).toEqual([{ key: TAINT_NETWORK_UNAVAILABLE, operator: 'Exists', effect: 'NoSchedule' }]);
  });
});

describe('reserved labels', () => {
  it(`a selector on ${MANAGED_LABEL}: "false" is refused with a Warning and no pod is ever created`, async () => {
    cleanups.push(() => kubectl('delete', 'ds', 'looping', '--ignore-not-found'));
    const labels = { app: 'looping', [MANAGED_LABEL]: 'false' };
    // The API server accepts it: the selector matches the template's labels.
    await cluster.applyManifest(daemonSet('looping', labels, labels));

    const warning = await waitForEvent(cluster, namespace, 'looping', 'ReservedLabelConflict', {
      abortIf: everynode.failure,
    });
    expect(warning.type).toBe('Warning');
    expect(warning.message).toContain(`spec.selector`);
    expect(warning.message).toContain(MANAGED_LABEL);

    // Sampled after the refusal (and after more syncs, which a label change triggers): never a pod.
    await kubectl('annotate', 'ds', 'looping', 'e2e/poke=1', '--overwrite');
    for (let i = 0; i < 20; i++) {
      expect(await podsLabelled('looping')).toEqual([]);
      await new Promise((r) => setTimeout(r, 250));
    }
    const ds = await cluster.apps.readNamespacedDaemonSet({ namespace, name: 'looping' });
    expect(ds.status?.currentNumberScheduled ?? 0).toBe(0);
    // The controller never wrote to what the user owns.
    expect(ds.spec?.selector?.matchLabels).toEqual(labels);
  });

  it(`a template label ${MANAGED_LABEL}: "false" is overwritten on the pods, with a Warning`, async () => {
    cleanups.push(() => kubectl('delete', 'ds', 'relabelled', '--ignore-not-found'));
    await cluster.applyManifest(
      daemonSet('relabelled', { app: 'relabelled' }, { app: 'relabelled', [MANAGED_LABEL]: 'false' }),
    );
    const pods = await waitForDaemonPods(cluster, namespace, 'relabelled', workers, {
      abortIf: everynode.failure,
    });
    for (const p of pods) expect(p.metadata?.labels?.[MANAGED_LABEL]).toBe('true');
    const warning = await waitForEvent(cluster, namespace, 'relabelled', 'ReservedLabelOverwritten');
    expect(warning.type).toBe('Warning');
    expect(warning.message).toContain(`spec.template.metadata.labels[${MANAGED_LABEL}]="false"`);
    // No orphans beside them: exactly one pod per worker carries the app label.
    expect((await podsLabelled('relabelled')).length).toBe(workers.length);
  });
});
