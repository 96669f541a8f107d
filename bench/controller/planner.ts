// The planner's own cost: milliseconds of CPU per planDaemonSet call for one DaemonSet on N nodes,
// in the middle of an in-place rolling update (maxUnavailable 10%, the slots full, as most syncs
// of that phase see it), with no API server. The snapshot is built with the unit tests' simulated
// cluster (test/unit/controller/fixtures.ts) and planned again and again with the same pod and
// node objects, as the informer caches hand them to consecutive syncs. Nodes and pods are dressed
// as the harness's kwok stages and kube-scheduler leave them (every node condition, wire-format
// timestamps, the pod conditions in their order), so predicates pay what they pay on a cluster.
//
//   node bench/controller/planner.ts [--nodes 1000] [--syncs 200]     (make bench-planner)
import { parseArgs } from 'node:util';
import { UPDATE_MODE_ANNOTATION } from '../../src/contract/rollout.ts';
import { planDaemonSet } from '../../src/controller/plan.ts';
import type { Snapshot } from '../../src/controller/types.ts';
import {
  Cluster,
  daemonSet,
  markRestarted,
  nodes,
  rollingUpdate,
  setImage,
} from '../../test/unit/controller/fixtures.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    syncs: { type: 'string', default: '200' },
  },
});
const nodeCount = Number(values.nodes);
const syncs = Number(values.syncs);
if (!Number.isInteger(nodeCount) || nodeCount < 1 || !Number.isInteger(syncs) || syncs < 1) {
  console.error('--nodes and --syncs take positive integers');
  process.exit(2);
}

/** A rollout a few rounds in: some pods updated, maxUnavailable pods patched and restarting. */
function midRollout(): Snapshot {
  const ds = daemonSet('bench', rollingUpdate('10%'));
  ds.metadata!.annotations![UPDATE_MODE_ANNOTATION] = 'InPlaceIfPossible';
  const cluster = new Cluster(ds, nodes(nodeCount), { burst: nodeCount });
  cluster.sync();
  cluster.markPodsReady();
  cluster.sync();
  setImage(cluster.ds, 'bench/app:2');
  for (let round = 0; round < 3; round++) {
    cluster.sync();
    for (const pod of cluster.pods) {
      const image = pod.spec?.containers[0]?.image;
      if (image === 'bench/app:2' && pod.status?.containerStatuses?.[0]?.image !== image)
        markRestarted(pod, cluster.now);
    }
    cluster.now += 1000;
  }
  cluster.sync(); // the slots fill again
  return cluster.snapshot();
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** What kwok's node stages and kube-scheduler add to the fixtures' bare nodes and pods. */
function dressed(snapshot: Snapshot): Snapshot {
  const since = iso(snapshot.now - 3_600_000);
  for (const node of snapshot.nodes) {
    const name = node.metadata!.name!;
    node.metadata!.labels = {
      ...node.metadata!.labels,
      'beta.kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': name,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/role': 'agent',
      'node-role.kubernetes.io/agent': '',
      type: 'kwok',
    };
    node.metadata!.creationTimestamp = since as never;
    const condition = (type: string, status: string, reason: string) => ({
      type,
      status,
      reason,
      message: reason,
      lastHeartbeatTime: since,
      lastTransitionTime: since,
    });
    node.status!.conditions = [
      condition('Ready', 'True', 'KubeletReady'),
      condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
      condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
      condition('PIDPressure', 'False', 'KubeletHasSufficientPID'),
      condition('NetworkUnavailable', 'False', 'RouteCreated'),
    ] as never;
  }
  for (const pod of snapshot.pods) {
    const wire = (t: unknown) => (t instanceof Date ? iso(t.getTime()) : typeof t === 'number' ? iso(t) : t);
    pod.metadata!.creationTimestamp = wire(pod.metadata!.creationTimestamp ?? since) as never;
    const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
    const at = wire(ready?.lastTransitionTime ?? since) as string;
    pod.status = {
      ...pod.status,
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: since },
        { type: 'Initialized', status: 'True', lastTransitionTime: since },
        { type: 'Ready', status: ready?.status ?? 'True', lastTransitionTime: at },
        { type: 'ContainersReady', status: ready?.status ?? 'True', lastTransitionTime: at },
      ] as never,
    };
  }
  return snapshot;
}

const snapshot = dressed(midRollout());
const warmup = Math.min(20, syncs);
for (let i = 0; i < warmup; i++) planDaemonSet({ ...snapshot });
const cpuBefore = process.cpuUsage();
const started = performance.now();
let patches = 0;
for (let i = 0; i < syncs; i++) patches += planDaemonSet({ ...snapshot }).inPlaceUpdates.length;
const wallMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
console.log(
  JSON.stringify({
    nodes: nodeCount,
    syncs,
    cpuMsPerSync: Number(((cpu.user + cpu.system) / 1000 / syncs).toFixed(2)),
    wallMsPerSync: Number((wallMs / syncs).toFixed(2)),
    inPlacePatchesPerSync: patches / syncs,
    node: process.version,
  }),
);
