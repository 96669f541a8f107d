// `kubectl everynode rollout status`, the decision: from a DaemonSet (and its
// current revision's name) → the line to print and whether the wait is over
// (done, or an error). kubectl's DaemonSetStatusViewer lines and order, plus
// everynode's rollout API: a partition or node selector finishes once the
// nodes the rollout may update are updated and available; a paused rollout is
// reported and ends the wait; a missed progress deadline or an auto-pause is an
// error carrying the condition's message. Also the `-o wide` per-node table.
// Pure: plain objects in, strings out.
import type {
  V1ControllerRevision,
  V1DaemonSet,
  V1DaemonSetCondition,
  V1Node,
  V1Pod,
} from '@kubernetes/client-node';
import {
  CONTROLLER_REVISION_HASH_LABEL,
  TARGET_NODE_ANNOTATION,
  controllerRefOf,
  pinnedNodeOf,
} from '../contract/daemon-pod.ts';
import {
  AUTO_PAUSED,
  PROGRESSING,
  REASON_AUTO_PAUSED,
  REASON_AVAILABLE,
  REASON_DEADLINE,
  REASON_PAUSED,
  CONDITION_REVISION_PREFIX,
  WAVE,
  conditionRevision,
  partitionCount,
} from '../contract/rollout.ts';
import { getPatch, matchesRevision, revisionHash } from '../controller/history.ts';
import { nodeShouldRunDaemonPod } from '../controller/placement.ts';
import { inPlacePending } from '../controller/in-place.ts';
import { isPodUpdated, templateGeneration } from '../controller/pods.ts';
import { isEverynodeDaemonSet, rolloutOf, shortNameOf, type AnyDaemonSet } from './rollout-settings.ts';

export type StatusResult =
  { state: 'waiting'; line: string } | { state: 'done'; line: string } | { state: 'error'; message: string };

export interface CurrentRevision {
  name: string;
  hash: string;
}

/**
 * The DaemonSet's current ControllerRevision: the one it controls whose data
 * matches its template (what the controller creates pods from); else the
 * highest-numbered one it controls (the controller has not written the new one
 * yet). Undefined when it controls none.
 */
export function currentRevision(
  ds: V1DaemonSet,
  revisions: readonly V1ControllerRevision[],
): CurrentRevision | undefined {
  const owned = revisions.filter((r) => controllerRefOf(r)?.uid === ds.metadata?.uid);
  const patch = getPatch(ds);
  const rev =
    owned.find((r) => matchesRevision(patch, r)) ??
    [...owned].sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0];
  return rev ? { name: rev.metadata?.name ?? '', hash: revisionHash(rev) } : undefined;
}

export { conditionRevision };

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * One evaluation of `rollout status`. `revision` is the current revision's name
 * when known: a condition naming another revision is stale and ignored.
 */
export function rolloutStatus(ds: AnyDaemonSet, revision?: string): StatusResult {
  const name = ds.metadata?.name ?? '';
  const q = JSON.stringify(name);
  const short = shortNameOf(ds);
  const strategy = ds.spec?.updateStrategy?.type ?? 'RollingUpdate';
  if (strategy !== 'RollingUpdate') {
    return { state: 'error', message: 'rollout status is only available for RollingUpdate strategy type' };
  }
  const status = ds.status;
  if ((ds.metadata?.generation ?? 0) > (status?.observedGeneration ?? 0)) {
    return { state: 'waiting', line: 'Waiting for daemon set spec update to be observed...' };
  }
  const desired = status?.desiredNumberScheduled ?? 0;
  const updated = status?.updatedNumberScheduled ?? 0;
  const available = status?.numberAvailable ?? 0;
  const { settings, partitionText, nodeSelectorText } = rolloutOf(ds);

  const forThisRevision = (type: string): V1DaemonSetCondition | undefined => {
    const c = status?.conditions?.find((x) => x.type === type);
    if (!c) return undefined;
    const named = conditionRevision(c);
    return revision === undefined || named === undefined || named === revision ? c : undefined;
  };
  const progressing = forThisRevision(PROGRESSING);
  const autoPaused = forThisRevision(AUTO_PAUSED);
  const wave = status?.conditions?.find((x) => x.type === WAVE);

  if (progressing?.reason === REASON_DEADLINE) {
    return {
      state: 'error',
      message: `daemon set ${q} exceeded its progress deadline: ${progressing.message ?? ''}`,
    };
  }
  // Progressing=RolloutAutoPaused next to a RolloutAutoPaused condition already False (resumed) is the
  // controller not having synced since the resume: not an error.
  if (
    autoPaused?.status === 'True' ||
    (progressing?.reason === REASON_AUTO_PAUSED && autoPaused?.status !== 'False')
  ) {
    const why = (autoPaused?.status === 'True' ? autoPaused.message : progressing?.message) ?? '';
    return {
      state: 'error',
      message:
        `daemon set ${q} rollout was paused automatically: ${why}\n` +
        `fix the template (or ${isEverynodeDaemonSet(ds) ? 'kubectl everynode' : 'kubectl'} rollout undo ${short}), or resume with: kubectl everynode rollout resume ${short}`,
    };
  }
  if (updated >= desired && available >= desired) {
    return { state: 'done', line: `daemon set ${q} successfully rolled out` };
  }

  // What the partition / node selector keep on the old revision.
  const limits: string[] = [];
  if (settings.partition) limits.push(`partition ${partitionText ?? ''}`);
  if (settings.nodeSelector) limits.push(`node selector "${nodeSelectorText ?? ''}"`);
  const limited = limits.length > 0;
  // Without a node selector the target is known from the counters alone; with one, only the controller
  // (which sees the nodes' labels) knows, through its Progressing condition.
  const target =
    settings.nodeSelector === undefined ? desired - partitionCount(settings.partition, desired) : undefined;
  const heldBy = limits.join(' and ');

  if (limited) {
    const conditionDone = progressing?.reason === REASON_AVAILABLE;
    const countersDone = target !== undefined && updated >= target && available >= desired;
    // The condition says done, and (when the counters can tell) the counters agree: a partition lowered by
    // `promote` changes no generation, so the condition may still be the previous target's for a moment.
    const done = conditionDone ? target === undefined || updated >= target : !progressing && countersDone;
    if (done) {
      const held = desired - updated;
      return {
        state: 'done',
        line:
          `daemon set ${q} successfully rolled out to ${updated} of ${plural(desired, 'node', 'nodes')}` +
          (held > 0
            ? `; ${plural(held, 'node keeps', 'nodes keep')} the old revision (${heldBy}); continue with: kubectl everynode rollout promote ${short}`
            : ''),
      };
    }
  }

  if (settings.paused) {
    return {
      state: 'done',
      line:
        `daemon set ${q} rollout is paused: ${updated} of ${plural(desired, 'node', 'nodes')} updated; ` +
        `resume with: kubectl everynode rollout resume ${short}`,
    };
  }
  if (progressing?.reason === REASON_PAUSED && (progressing.message ?? '').includes('held:')) {
    return {
      state: 'error',
      message: `daemon set ${q} rollout is held: ${progressing.message ?? ''}`,
    };
  }

  const notes: string[] = [];
  if (wave && wave.reason !== 'WavesComplete' && wave.message) notes.push(wave.message);
  if (limited && target !== undefined && target < desired) {
    notes.push(`${plural(desired - target, 'node keeps', 'nodes keep')} the old revision: ${heldBy}`);
  } else if (limited) {
    notes.push(`only nodes the ${heldBy} allows update`);
  }
  const note = notes.length > 0 ? ` (${notes.join('; ')})` : '';
  const want = target ?? desired;
  if (updated < want) {
    return {
      state: 'waiting',
      line: `Waiting for daemon set ${q} rollout to finish: ${updated} out of ${want} new pods have been updated${note}...`,
    };
  }
  if (available < desired) {
    return {
      state: 'waiting',
      line: `Waiting for daemon set ${q} rollout to finish: ${available} of ${desired} updated pods are available${note}...`,
    };
  }
  // The counters reached the target but the controller's condition has not caught up yet.
  const said = (progressing?.message ?? '').replace(CONDITION_REVISION_PREFIX, '');
  return {
    state: 'waiting',
    line: `Waiting for daemon set ${q} rollout to finish${said ? `: ${said}` : ''}${note}...`,
  };
}

// ---- -o wide ---------------------------------------------------------------------------------

export interface WideInput {
  ds: AnyDaemonSet;
  /** The DaemonSet's pods (any others are ignored). */
  pods: readonly V1Pod[];
  /** The cluster's nodes; empty when they could not be read (then only nodes with a pod are listed). */
  nodes: readonly V1Node[];
  revision: CurrentRevision | undefined;
}

/** The node a pod runs on, is pinned to, or was created for. */
const podNode = (pod: V1Pod): string =>
  pod.spec?.nodeName ?? pinnedNodeOf(pod) ?? pod.metadata?.annotations?.[TARGET_NODE_ANNOTATION] ?? '<none>';

/** kubectl get pods' STATUS, simplified: Terminating, a container's waiting reason, else the phase. */
function podStatus(pod: V1Pod): string {
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const reason = s.state?.waiting?.reason;
    if (reason && reason !== 'PodInitializing' && reason !== 'ContainerCreating') return reason;
  }
  return pod.status?.phase ?? 'Pending';
}

function podReady(pod: V1Pod): string {
  const total = pod.spec?.containers.length ?? 0;
  const ready = (pod.status?.containerStatuses ?? []).filter((s) => s.ready).length;
  return `${ready}/${total}`;
}

/** Rows padded like kubectl's tabwriter (3 spaces between columns). */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * One row per pod of the DaemonSet, plus one per node that should run a pod and
 * has none: NODE, POD, STATUS, REVISION (the pod's controller-revision-hash),
 * READY (containers), UPDATED (of the current revision; `in-place` while an in-place update waits
 * for the kubelet), and WAVE (the node's
 * value of the waves label) when waves are set. Sorted by node, then pod.
 */
export function wideTable(input: WideInput): string {
  const { ds, revision } = input;
  const uid = ds.metadata?.uid;
  const pods = input.pods.filter((p) => uid === undefined || controllerRefOf(p)?.uid === uid);
  const { settings } = rolloutOf(ds);
  const waveKey = settings.waves?.key;
  const nodeByName = new Map(input.nodes.map((n) => [n.metadata?.name ?? '', n]));
  const generation = templateGeneration(ds);
  const hash = revision?.hash ?? '';

  const rows: { node: string; pod: string; cells: string[] }[] = [];
  const wave = (node: string) => {
    const v = waveKey ? nodeByName.get(node)?.metadata?.labels?.[waveKey] : undefined;
    return v ?? '<none>';
  };
  for (const pod of pods) {
    const node = podNode(pod);
    const updated = isPodUpdated(pod, hash, generation);
    const cells = [
      node,
      pod.metadata?.name ?? '',
      podStatus(pod),
      pod.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL] ?? '<none>',
      podReady(pod),
      // Patched in place but not yet restarted by the kubelet: updated in the spec only.
      updated && inPlacePending(pod) ? 'in-place' : String(updated),
    ];
    if (waveKey) cells.push(wave(node));
    rows.push({ node, pod: cells[1]!, cells });
  }
  const withPod = new Set(rows.map((r) => r.node));
  for (const node of input.nodes) {
    const nodeName = node.metadata?.name ?? '';
    if (withPod.has(nodeName) || !nodeShouldRunDaemonPod(node, ds).shouldRun) continue;
    const cells = [nodeName, '<none>', '', '', '', 'false'];
    if (waveKey) cells.push(wave(nodeName));
    rows.push({ node: nodeName, pod: '', cells });
  }
  rows.sort((a, b) => cmp(a.node, b.node) || cmp(a.pod, b.pod));
  const header = ['NODE', 'POD', 'STATUS', 'REVISION', 'READY', 'UPDATED'];
  if (waveKey) header.push('WAVE');
  return formatTable([header, ...rows.map((r) => r.cells)]);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
