// The informer against the real API server: it delivers add/update/delete,
// and it recovers when its watch connection is reset, when it goes silent
// (half-open), and through its periodic re-list, which also catches deletions
// the watch never delivered.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { e2eCluster, e2eKubeconfig } from '../harness/e2e.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { Informer } from '../../src/machinery/informer.ts';
import { KubeClient, loadKubeConfig, resourcePath, resources } from '../../src/machinery/kube.ts';
import { apiServerAddress, TcpProxy } from './support/tcp-proxy.ts';

const cluster = e2eCluster();
let namespace: string;
let proxy: TcpProxy;
/** Writes go straight to the API server, never through the proxy under test. */
let direct: KubeClient;
const started: Array<{ informer: Informer<V1ConfigMap>; client: KubeClient }> = [];

beforeAll(async () => {
  namespace = await cluster.createNamespace('informer-');
  const { host, port } = apiServerAddress(e2eKubeconfig());
  proxy = await TcpProxy.start(host, port);
  direct = new KubeClient(loadKubeConfig(e2eKubeconfig()), { qps: 0, burst: 1 });
});

afterEach(async () => {
  for (const { informer, client } of started.splice(0)) {
    await informer.stop();
    await client.close();
  }
});

afterAll(async () => {
  await proxy.close();
  await direct.close();
  await cluster.deleteNamespace(namespace);
});

interface Recorded {
  adds: string[];
  updates: Array<{ old: string | undefined; cur: string | undefined }>;
  deletes: string[];
}

/** An informer on this test's labelled ConfigMaps, connected through the proxy. */
function startInformer(label: string, tuning: { silenceTimeoutMs?: number; relistIntervalMs?: number } = {}) {
  // A short request deadline: a list on a frozen pooled connection fails fast and is retried on a new one.
  const client = new KubeClient(proxy.kubeConfig(e2eKubeconfig()), {
    qps: 0,
    burst: 1,
    requestTimeoutMs: 3_000,
  });
  const informer = new Informer<V1ConfigMap>({
    client,
    resource: resources.configMaps,
    namespace,
    labelSelector: `test=${label}`,
    logger: silentLogger(),
    backoffInitialMs: 100,
    backoffMaxMs: 1000,
    ...tuning,
  });
  const seen: Recorded = { adds: [], updates: [], deletes: [] };
  informer.addHandlers({
    add: (cm) => seen.adds.push(cm.metadata?.name ?? ''),
    update: (old, cur) => seen.updates.push({ old: old.data?.value, cur: cur.data?.value }),
    delete: (cm) => seen.deletes.push(cm.metadata?.name ?? ''),
  });
  informer.start();
  started.push({ informer, client });
  return { informer, seen };
}

/** Proves the watch is connected and delivering: a sentinel object arrives through it. */
async function watchIsLive(seen: Recorded, label: string): Promise<void> {
  const name = `sentinel-${label}`;
  await createConfigMap(name, label);
  await waitFor('the sentinel through the watch', () =>
    seen.adds.includes(name) ? done(true) : notYet(seen),
  );
}

const cmPath = (name?: string) => resourcePath(resources.configMaps, { namespace, name });
const createConfigMap = (name: string, label: string, value = 'v1') =>
  direct.create(cmPath(), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, labels: { test: label } },
    data: { value },
  });

describe('Informer', () => {
  it('lists, then delivers add, update (with the old object) and delete', async () => {
    await createConfigMap('before', 'basic');
    const { informer, seen } = startInformer('basic');
    await informer.waitForSync();
    expect(informer.hasSynced()).toBe(true);
    expect(seen.adds).toEqual(['before']);

    await createConfigMap('after', 'basic');
    await direct.patch(cmPath('after'), 'merge', { data: { value: 'v2' } });
    await direct.delete(cmPath('before'));
    // Not selected: never delivered.
    await createConfigMap('other', 'unrelated');

    await waitFor('the watch events', () =>
      seen.deletes.includes('before') && seen.updates.length > 0 ? done(seen) : notYet(seen),
    );
    expect(seen.adds).toEqual(['before', 'after']);
    expect(seen.updates).toEqual([{ old: 'v1', cur: 'v2' }]);
    expect(seen.deletes).toEqual(['before']);
    expect(informer.get(`${namespace}/after`)?.data?.value).toBe('v2');
    expect(informer.get(`${namespace}/before`)).toBeUndefined();
    expect(informer.list().map((c) => c.metadata?.name)).toEqual(['after']);
  });

  it('re-watches after its connection is reset and misses nothing', async () => {
    const label = 'reset';
    const { informer, seen } = startInformer(label);
    await informer.waitForSync();
    await watchIsLive(seen, label);
    proxy.breakAll();
    await createConfigMap('while-broken', 'reset');
    await createConfigMap('later', 'reset');
    await waitFor('events after the reset', () =>
      seen.adds.includes('while-broken') && seen.adds.includes('later') ? done(true) : notYet(seen),
    );
    expect(seen.adds.filter((n) => n === 'while-broken')).toHaveLength(1);
  });

  it('restarts a watch that went silent (half-open connection)', async () => {
    const label = 'silent';
    const { informer, seen } = startInformer(label, { silenceTimeoutMs: 2_000 });
    await informer.waitForSync();
    await watchIsLive(seen, label);
    // The connection stays open but nothing flows: without the watchdog this informer would wait forever.
    proxy.freezeAll();
    await createConfigMap('during-silence', 'silent');
    await waitFor('the event after the watchdog restarted the watch', () =>
      seen.adds.includes('during-silence') ? done(true) : notYet(seen),
    );
  });

  it('the periodic re-list delivers a deletion the stalled watch never did', async () => {
    await createConfigMap('doomed', 'relist');
    const label = 'relist';
    const { informer, seen } = startInformer(label, { relistIntervalMs: 3_000, silenceTimeoutMs: 600_000 });
    await informer.waitForSync();
    await watchIsLive(seen, label);
    proxy.freezeAll();
    await direct.delete(cmPath('doomed'));
    await waitFor('the deletion found by re-listing', () =>
      seen.deletes.includes('doomed') ? done(true) : notYet(seen),
    );
    expect(informer.get(`${namespace}/doomed`)).toBeUndefined();
  });
});
