// The controller process failing on the real control plane: SIGKILLed in the
// middle of a rolling update and restarted (a fresh process with empty caches
// and no expectations), and two replicas with leader election, where only the
// Lease holder writes and killing it hands over to the standby.
import type { V1Lease } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { e2eCluster } from '../harness/e2e.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import {
  describePods,
  describeSample,
  eventsFor,
  Everynode,
  type EverynodeProcess,
  podsOf,
  PodSampler,
  unavailableNodes,
  waitForDaemonPods,
  waitForEvent,
} from './support/everynode.ts';

const cluster = e2eCluster();
let namespace: string;
let everynode: Everynode;
let workers: string[];
const daemonSets: string[] = [];

const OLD_IMAGE = 'nginx:1.27';
const NEW_IMAGE = 'nginx:1.28';
const LEASE = 'everynode-e2e-leader';

function daemonSet(name: string, maxUnavailable = 1) {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { app: name } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'nginx', image: OLD_IMAGE }] },
      },
    },
  };
}

const kubectl = (...args: string[]) => cluster.kubectl([...args, '-n', namespace]);

async function create(name: string) {
  daemonSets.push(name);
  await cluster.applyManifest(daemonSet(name));
  return waitForDaemonPods(cluster, namespace, name, workers, { abortIf: everynode.failure });
}

async function readLease(): Promise<V1Lease> {
  return cluster.objects.read<V1Lease>({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: LEASE, namespace },
  });
}

const isLeading = async (controller: EverynodeProcess) =>
  (await controller.metric('leader_election_master_status', { name: LEASE })) === 1;

const reconciles = (controller: EverynodeProcess) => controller.metric('controller_runtime_reconcile_total');

/** The `reportingInstance` of every SuccessfulCreate event about the DaemonSet. */
async function creators(name: string): Promise<string[]> {
  // Events are written asynchronously: wait for the first one.
  await waitForEvent(cluster, namespace, name, 'SuccessfulCreate');
  const events = await eventsFor(cluster, namespace, name, 'SuccessfulCreate');
  return [...new Set(events.map((e) => e.reportingInstance ?? e.source?.host ?? '(none)'))];
}

beforeAll(async () => {
  namespace = await cluster.createNamespace('ds-resilience-');
  everynode = await Everynode.start(cluster, { namespaces: [namespace], controller: false });
  workers = await cluster.workerNames();
});

afterEach(async () => {
  for (const name of daemonSets.splice(0)) await kubectl('delete', 'ds', name, '--ignore-not-found');
  await Promise.all(everynode.controllers.map((c) => c.kill('SIGTERM')));
});

afterAll(async () => {
  await everynode?.stop();
  if (namespace) await cluster.deleteNamespace(namespace);
});

describe('controller failures', () => {
  it('SIGKILLed in the middle of a rolling update and restarted: no duplicate pods, the rollout completes', async () => {
    const maxUnavailable = 1;
    const first = await everynode.startController({ label: 'controller-before-kill' });
    const before = await create('restarted');

    const sampler = new PodSampler(cluster, namespace, 'restarted');
    await kubectl('set', 'image', 'ds/restarted', `nginx=${NEW_IMAGE}`);
    await waitFor(
      'the rollout to be under way (a new pod, at least two old ones left)',
      async () => {
        const live = (await podsOf(cluster, namespace, 'restarted')).filter(
          (p) => !p.metadata?.deletionTimestamp,
        );
        const images = live.map((p) => p.spec?.containers[0]?.image);
        const underWay = images.includes(NEW_IMAGE) && images.filter((i) => i === OLD_IMAGE).length >= 2;
        return underWay ? done(undefined) : notYet(describePods(live));
      },
      { intervalMs: 50, abortIf: everynode.failure },
    );
    await first.kill('SIGKILL');
    // Nothing moves on without a controller: old pods are still there, so the kill really was mid-rollout.
    const frozen = (await podsOf(cluster, namespace, 'restarted')).filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
    expect(frozen.some((p) => p.spec?.containers[0]?.image === OLD_IMAGE)).toBe(true);

    await everynode.startController({ label: 'controller-after-kill' });
    const { stdout } = await kubectl('rollout', 'status', 'ds/restarted', '--timeout=120s');
    const samples = await sampler.stop();
    expect(stdout).toContain('successfully rolled out');

    const after = await waitForDaemonPods(cluster, namespace, 'restarted', workers, {
      accept: (p) => p.spec?.containers[0]?.image === NEW_IMAGE,
      abortIf: everynode.failure,
    });
    const oldNames = before.map((p) => p.metadata!.name!);
    expect(after.filter((p) => oldNames.includes(p.metadata!.name!))).toEqual([]);
    for (const sample of samples) {
      for (const node of workers) {
        const live = sample.pods.filter((p) => p.node === node && !p.terminating);
        expect(live.length, `${node}: ${describeSample(sample)}`).toBeLessThanOrEqual(1);
      }
      expect(unavailableNodes(sample, workers).length, describeSample(sample)).toBeLessThanOrEqual(
        maxUnavailable,
      );
    }
  });

  it('two controllers with leader election: only the Lease holder writes; killing it hands over', async () => {
    const [a, b] = [
      await everynode.startController({ label: 'replica-a', leaderElect: true, leaseName: LEASE }),
      await everynode.startController({ label: 'replica-b', leaderElect: true, leaseName: LEASE }),
    ];
    const { leader, standby } = await waitFor(
      'one replica to lead',
      async () => {
        const [aLeads, bLeads] = [await isLeading(a), await isLeading(b)];
        if (aLeads !== bLeads) return done(aLeads ? { leader: a, standby: b } : { leader: b, standby: a });
        return notYet({ aLeads, bLeads });
      },
      { abortIf: everynode.failure },
    );
    const holder = (await readLease()).spec?.holderIdentity;
    expect(holder).toBeTruthy();

    await create('led');
    expect(await creators('led')).toEqual([holder]);
    expect(await reconciles(leader)).toBeGreaterThan(0);
    // The standby keeps warm caches but never syncs.
    expect(await reconciles(standby)).toBe(0);
    expect(await isLeading(standby)).toBe(false);

    await leader.kill('SIGKILL');
    // The standby takes over once the dead leader's Lease expires (15 s).
    const newHolder = await waitFor(
      'the standby to acquire the Lease',
      async () => {
        const lease = await readLease();
        const current = lease.spec?.holderIdentity;
        return current && current !== holder && (await isLeading(standby))
          ? done(current)
          : notYet(lease.spec);
      },
      { timeoutMs: 60_000, abortIf: everynode.failure },
    );

    await create('after-handover');
    expect(await creators('after-handover')).toEqual([newHolder]);
    expect(await reconciles(standby)).toBeGreaterThan(0);
    // The first DaemonSet is still whole under the new leader.
    await waitForDaemonPods(cluster, namespace, 'led', workers, { abortIf: everynode.failure });
  });
});
