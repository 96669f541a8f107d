// The controller's Events on the real API server, as client-go's recorder
// writes them: a DaemonSet on 40 kwok nodes gets 40 SuccessfulCreate events,
// and what the API server keeps is the correlator's outcome (see
// src/machinery/event-correlator.ts), derived here from its defaults:
// - the spam filter lets 25 events about the DaemonSet through (then one per
//   5 minutes), so at least 15 of the 40 are held back and counted in
//   everynode_events_spam_filtered_total;
// - of the 25 written, the first 9 (each its own message "Created pod: <name>")
//   are Events of their own with count 1; the 10th distinct message within 10
//   minutes is replaced by one "(combined from similar events): Created pod: …"
//   Event, and every later one is a count+1 on it: 10 Event objects on the
//   DaemonSet, the combined one with count 16 (more only if a refilled token let
//   a later event through, carrying the held-back ones in its count).
import type { CoreV1Event } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eCluster } from '../harness/e2e.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import { Everynode, eventsFor, waitForDaemonPods } from './support/everynode.ts';

const cluster = e2eCluster();
const NODE_COUNT = 40;
const POOL_LABEL = 'e2e.everynode.dev/pool';
const POOL = 'events';
const nodes = Array.from({ length: NODE_COUNT }, (_, i) => `kwok-events-${i + 1}`);
const COMBINED = '(combined from similar events): ';
let namespace: string;
let everynode: Everynode;

beforeAll(async () => {
  namespace = await cluster.createNamespace('ds-events-');
  await Promise.all(nodes.map((n) => cluster.addNode(n, { [POOL_LABEL]: POOL }, [], { wait: false })));
  await cluster.waitForNodesSchedulable(nodes, { timeoutMs: 120_000 });
  // The Event flags parse and wire up (a budget of their own, apart from --kube-api-qps).
  everynode = await Everynode.start(cluster, {
    namespaces: [namespace],
    controller: { extraArgs: ['--event-qps=20', '--event-burst=40'] },
  });
});

afterAll(async () => {
  await everynode?.stop();
  if (namespace) await cluster.deleteNamespace(namespace);
  await Promise.all(nodes.map((n) => cluster.deleteNode(n)));
});

describe('Events on a DaemonSet, correlated as client-go does', () => {
  it('folds 40 SuccessfulCreate events into 10 Event objects, one combined, and counts what the spam filter held back', async () => {
    const name = 'many';
    await cluster.applyManifest({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, namespace },
      spec: {
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            nodeSelector: { [POOL_LABEL]: POOL },
            containers: [{ name: 'agent', image: 'pause:3.10' }],
          },
        },
      },
    });
    await waitForDaemonPods(cluster, namespace, name, nodes, {
      timeoutMs: 180_000,
      abortIf: everynode.failure,
    });
    const ds = await cluster.apps.readNamespacedDaemonSet({ name, namespace });
    const [controller] = everynode.controllers;
    const reason = { reason: 'SuccessfulCreate' };

    // Every one of the 40 events was either written or held back, and no write is left to do.
    const { written, heldBack } = await waitFor(
      'the controller to have recorded all 40 SuccessfulCreate events',
      async () => {
        const m = {
          written: await controller!.metric('everynode_events_written_total', reason),
          heldBack: await controller!.metric('everynode_events_spam_filtered_total', reason),
          pending: await controller!.metric('everynode_events_pending'),
        };
        return m.written + m.heldBack === NODE_COUNT && m.pending === 0 ? done(m) : notYet(m);
      },
      { abortIf: everynode.failure },
    );
    expect(await controller!.metric('everynode_events_dropped_total')).toBe(0);
    expect(await controller!.metric('everynode_events_write_failures_total')).toBe(0);
    expect(written).toBeGreaterThanOrEqual(25);
    expect(heldBack).toBeGreaterThan(0);

    const events = (await eventsFor(cluster, namespace, name)).filter(
      (e) => e.involvedObject.uid === ds.metadata?.uid,
    );
    const show = (list: CoreV1Event[]) => list.map((e) => `${e.count ?? 1}× ${e.reason}: ${e.message}`);
    expect(
      events.every((e) => e.reason === 'SuccessfulCreate'),
      show(events).join('\n'),
    ).toBe(true);
    expect(events.every((e) => e.source?.component === 'everynode-controller')).toBe(true);
    // One create per Event object, each taking a token: never more objects than the burst.
    expect(events.length, show(events).join('\n')).toBe(10);

    const combined = events.filter((e) => e.message?.startsWith(COMBINED));
    const single = events.filter((e) => !e.message?.startsWith(COMBINED));
    expect(combined, show(events).join('\n')).toHaveLength(1);
    expect(combined[0]!.message).toMatch(
      new RegExp(`^\\(combined from similar events\\): Created pod: ${name}-`),
    );
    expect(combined[0]!.count).toBeGreaterThanOrEqual(16);
    expect(combined[0]!.firstTimestamp).not.toBe(undefined);
    expect(single).toHaveLength(9);
    expect(single.every((e) => e.count === 1 && e.message?.startsWith(`Created pod: ${name}-`))).toBe(true);
    expect(
      await controller!.metric('everynode_events_written_total', { ...reason, operation: 'create' }),
    ).toBe(10);
  });

  it('keeps another DaemonSet apart (a spam filter bucket per object): its few events each on their own, count 1', async () => {
    const name = 'few';
    const few = nodes.slice(0, 3);
    await Promise.all(few.map((n) => cluster.labelNode(n, { 'e2e.everynode.dev/few': 'yes' })));
    await cluster.applyManifest({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, namespace },
      spec: {
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            nodeSelector: { 'e2e.everynode.dev/few': 'yes' },
            containers: [{ name: 'agent', image: 'pause:3.10' }],
          },
        },
      },
    });
    const pods = await waitForDaemonPods(cluster, namespace, name, few, { abortIf: everynode.failure });
    const events = await waitFor('three SuccessfulCreate events', async () => {
      const list = await eventsFor(cluster, namespace, name, 'SuccessfulCreate');
      return list.length === 3 ? done(list) : notYet(list.map((e) => e.message));
    });
    expect(events.map((e) => e.message).sort()).toEqual(
      pods.map((p) => `Created pod: ${p.metadata!.name!}`).sort(),
    );
    expect(events.map((e) => e.count)).toEqual([1, 1, 1]);
  });
});
