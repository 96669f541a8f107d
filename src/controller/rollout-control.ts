// everynode's rollout control (no upstream counterpart; the partition order
// follows OpenKruise's "in-progress first" idea, the conditions follow
// Deployments' Progressing): which nodes' old pods the rolling update may
// replace now (partition, node selector, pause, waves with soak, auto-pause),
// which nodes are dead and so neither stall the budget nor get replaced before
// the others, and the Progressing / RolloutAutoPaused / RolloutWave conditions
// with their events. Pure: everything is derived from the snapshot, the stored
// status conditions (controller-owned state) and the clock.
import { podStartedAtMs } from './in-place.ts';
import type { V1DaemonSet, V1DaemonSetCondition, V1Node, V1Pod } from '@kubernetes/client-node';
import {
  AUTO_PAUSED,
  PAUSED_ANNOTATION,
  PROGRESSING,
  REASON_AUTO_PAUSED,
  REASON_AVAILABLE,
  REASON_DEADLINE,
  REASON_PAUSED,
  REASON_PROGRESSING,
  ROLLOUT_PREFIX,
  WAVE,
  conditionRevision,
  partitionCount,
  type RolloutSettings,
} from '../contract/rollout.ts';
import { timeMillis } from '../contract/daemon-pod.ts';
import { wireTime } from '../machinery/time.ts';
import { labelSelectorMatches } from '../machinery/label-selector.ts';
import {
  availableAtMs,
  isPodAvailable,
  isPodReady,
  isPodUpdated,
  isTerminating,
  oldestPod,
  podName,
} from './pods.ts';
import { nodeNameOf, placementOf, type SyncContext } from './sync-context.ts';
import type { PlannedEvent } from './types.ts';

/** A pod of the new revision not Ready this long after minReadySeconds is an auto-pause trigger. */
export const NOT_READY_GRACE_MS = 5 * 60_000;
/** A new-revision pod crash-looping this many restarts is an auto-pause trigger. */
export const CRASHLOOP_RESTARTS = 3;

export interface RolloutGate {
  /** Nothing may be replaced (paused, held for an invalid setting, auto-paused). */
  paused: boolean;
  /** The nodes in the documented update order: in progress first, then wave, then node name. */
  order: readonly string[];
  /** May the rolling update replace this node's old pod now? */
  mayReplace(nodeName: string): boolean;
  /** Nodes NotReady since before the update began: never counted against the budget. */
  dead: ReadonlySet<string>;
}

export interface RolloutControl {
  gate: RolloutGate;
  /** The conditions to store, when everynode reports them (a rollout annotation is set). */
  conditions: V1DaemonSetCondition[] | undefined;
  events: PlannedEvent[];
  requeueAfterMs: number | undefined;
}

export interface RolloutInput {
  ctx: SyncContext;
  settings: RolloutSettings;
  /** Why the rollout is held although `settings.paused` is false (an invalid setting with no last valid one). */
  heldBecause: string | undefined;
  /** Report the conditions even without rollout annotations (everynode's own kind always does). */
  reportConditions?: boolean;
  /** The revision pods are updated to, and when it was created (the update began). */
  revision: { name: string; createdAtMs: number };
}

/** Does the DaemonSet use everynode's rollout API (so it gets the conditions)? */
export const usesRolloutControl = (ds: V1DaemonSet): boolean =>
  Object.keys(ds.metadata?.annotations ?? {}).some((k) => k.startsWith(ROLLOUT_PREFIX));

const readyCondition = (node: V1Node) => node.status?.conditions?.find((c) => c.type === 'Ready');
const nodeReady = (node: V1Node): boolean => readyCondition(node)?.status === 'True';

/** A NotReady node's Ready transition time, per node object and the conditions it read (see inPlacePending's cache). */
const notReadySinceByNode = new WeakMap<V1Node, { conditions: unknown; since: number | undefined }>();

/** Is the node NotReady since before `beganAtMs` (or since an unknown time)? Every sync asks it of every node. */
function deadSince(node: V1Node, beganAtMs: number): boolean {
  if (nodeReady(node)) return false;
  const conditions = node.status?.conditions;
  let hit = notReadySinceByNode.get(node);
  if (hit === undefined || hit.conditions !== conditions) {
    hit = { conditions, since: ms(readyCondition(node)?.lastTransitionTime) };
    notReadySinceByNode.set(node, hit);
  }
  return hit.since === undefined || hit.since < beganAtMs;
}
/** Wire timestamps are strings; the client-node types say Date. */
const ms = (t: Date | string | undefined): number | undefined => timeMillis(t);

interface NodeState {
  name: string;
  node: V1Node;
  oldPod: V1Pod | undefined;
  newPod: V1Pod | undefined;
  /** Has both an old and a new pod: a replacement in progress. */
  inProgress: boolean;
  dead: boolean;
  wave: string | undefined;
  /** Position of its wave in the update order (0 without waves). */
  waveIndex: number;
}

/** Why a pod of the new revision should stop the rollout, or undefined. */
export function autoPauseTrigger(
  pod: V1Pod,
  node: V1Node | undefined,
  minReadySeconds: number,
  now: number,
): string | undefined {
  for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const reason = s.state?.waiting?.reason;
    if (reason === 'CrashLoopBackOff' && (s.restartCount ?? 0) >= CRASHLOOP_RESTARTS) {
      return `CrashLoopBackOff (container ${s.name}, ${s.restartCount ?? 0} restarts)`;
    }
    if (reason === 'ErrImagePull' || reason === 'ImagePullBackOff') return `${reason} (container ${s.name})`;
  }
  // A pod updated in place starts a new life with the update (it is briefly not Ready then).
  const created = podStartedAtMs(pod);
  if (node && created !== undefined && !nodeReady(node)) {
    const since = ms(readyCondition(node)?.lastTransitionTime);
    if (since !== undefined && since > created)
      return `node ${nodeNameOf(node)} turned NotReady after receiving the pod`;
  }
  if (
    !isPodReady(pod) &&
    created !== undefined &&
    now > created + minReadySeconds * 1000 + NOT_READY_GRACE_MS
  ) {
    return `not Ready within ${minReadySeconds ? `minReadySeconds + ` : ''}5 min`;
  }
  return undefined;
}

const OWNED_CONDITIONS: ReadonlySet<string> = new Set([PROGRESSING, AUTO_PAUSED, WAVE]);
const WAVE_PREFIX = /^wave (\d+)\/(\d+)/;

function condition(type: string, status: string, reason: string, message: string): V1DaemonSetCondition {
  return { type, status, reason, message };
}

export function planRolloutControl(input: RolloutInput): RolloutControl {
  const { ctx, settings, revision } = input;
  const { ds, now } = ctx;
  const events: PlannedEvent[] = [];
  const requeues: number[] = [];
  const stored = ds.status?.conditions ?? [];
  const storedOf = (type: string) => stored.find((c) => c.type === type);
  const available = (pod: V1Pod) => isPodAvailable(pod, ctx.minReadySeconds, now);
  const availableAt = (pod: V1Pod) => availableAtMs(pod, ctx.minReadySeconds);

  // ---- per-node state of the eligible nodes -------------------------------------------------
  // Nodes that should run a pod, and nodes whose pods may stay (a NotReady node is tainted
  // not-ready:NoSchedule, so it should not get a new pod, but its pod continues to run): those
  // are the nodes a dead one is among.
  const states: NodeState[] = [];
  // Every dead node (NotReady since before the update began), also one left out of `states` (its
  // pods all terminating): those never use the budget.
  const dead = new Set<string>();
  let desired = 0;
  const updated = (p: V1Pod) => !isTerminating(p) && isPodUpdated(p, ctx.hash, ctx.generation);
  const old = (p: V1Pod) => !isTerminating(p) && !isPodUpdated(p, ctx.hash, ctx.generation);
  for (const node of ctx.nodes) {
    const name = nodeNameOf(node);
    const isDead = deadSince(node, revision.createdAtMs);
    if (isDead) dead.add(name);
    const placement = placementOf(ctx, name);
    const pods = ctx.pods.byNode.get(name) ?? [];
    // The oldest live pod of each kind (pods sorted oldest first, then the first that matches).
    const newPod = oldestPod(pods, updated);
    const oldPod = oldestPod(pods, old);
    if (placement.shouldRun) desired++;
    else if (!placement.shouldContinueRunning || (!newPod && !oldPod)) continue;
    const wave = settings.waves ? node.metadata?.labels?.[settings.waves.key] : undefined;
    states.push({
      name,
      node,
      oldPod,
      newPod,
      inProgress: !!oldPod && !!newPod,
      dead: isDead,
      wave,
      waveIndex: 0,
    });
  }
  const stateOf = new Map(states.map((st) => [st.name, st]));

  // ---- order: in progress first, then wave order, then node name --------------------------------
  const waveOrder = waveGroups(states, settings.waves !== undefined);
  waveOrder.forEach((g, i) => g.nodes.forEach((n) => (n.waveIndex = i)));
  const ordered = [...states].sort(
    (a, b) =>
      Number(b.inProgress) - Number(a.inProgress) ||
      a.waveIndex - b.waveIndex ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );

  // ---- partition and node selector: which old pods the rollout replaces at all ------------------
  const targets = ordered.filter(
    (s) => !settings.nodeSelector || labelSelectorMatches(settings.nodeSelector, s.node.metadata?.labels),
  );
  const oldCount = states.filter((s) => s.oldPod).length;
  const keep = partitionCount(settings.partition, desired);
  const budget = Math.max(0, oldCount - keep);
  const budgeted = new Set(
    targets
      .filter((s) => s.oldPod)
      .slice(0, budget)
      .map((s) => s.name),
  );
  const held = oldCount - budgeted.size;
  const complete =
    budgeted.size === 0 && states.every((s) => s.dead || s.oldPod || (s.newPod && available(s.newPod)));
  // The stored condition speaks for this revision only (a new template starts afresh).
  const storedFor = storedOf(PROGRESSING);
  const storedProgress = conditionRevision(storedFor) === revision.name ? storedFor : undefined;
  /** The rollout of this revision finished once: later failures are not the rollout's. */
  const finished = complete || storedProgress?.reason === REASON_AVAILABLE;

  // ---- auto-pause --------------------------------------------------------------------------------
  const storedAuto = storedOf(AUTO_PAUSED);
  const storedAutoRevision = conditionRevision(storedAuto);
  let autoCondition: V1DaemonSetCondition | undefined;
  let autoPaused = false;
  if (storedAuto && storedAutoRevision === revision.name) {
    autoCondition = storedAuto;
    autoPaused = storedAuto.status === 'True';
  } else if (settings.autoPause && !finished) {
    const triggers: string[] = [];
    for (const s of states) {
      if (!s.newPod || s.dead) continue;
      const why = autoPauseTrigger(s.newPod, s.node, ctx.minReadySeconds, now);
      if (why) triggers.push(`pod ${podName(s.newPod)} on node ${s.name}: ${why}`);
      else if (!isPodReady(s.newPod)) {
        const created = podStartedAtMs(s.newPod);
        if (created !== undefined)
          requeues.push(created + ctx.minReadySeconds * 1000 + NOT_READY_GRACE_MS + 1 - now);
      }
    }
    if (triggers.length > 0) {
      autoPaused = true;
      const message = `revision ${revision.name}: ${triggers.join('; ')}`;
      autoCondition = condition(AUTO_PAUSED, 'True', REASON_AUTO_PAUSED, message);
      events.push({ type: 'Warning', reason: 'RolloutAutoPaused', message: `Rollout paused: ${message}` });
    }
  }
  const paused = settings.paused || input.heldBecause !== undefined || autoPaused;

  // ---- waves -------------------------------------------------------------------------------------
  let allowedWave: number | undefined; // undefined = every wave (no waves)
  let waveStartedAt = Number.NEGATIVE_INFINITY; // when the wave under way could start (after the soak)
  let soaking = false;
  let waveCondition: V1DaemonSetCondition | undefined;
  if (settings.waves) {
    const soakMs = settings.waves.soakSeconds * 1000;
    const n = waveOrder.length;
    const label = (i: number) => {
      const g = waveOrder[i];
      return g?.value === undefined ? `${settings.waves?.key} unset` : `${settings.waves?.key}=${g.value}`;
    };
    // A wave is done when each of its nodes the rollout updates has an available new pod and no old one.
    const doneAt = (i: number): number | undefined => {
      let at = Number.NEGATIVE_INFINITY;
      for (const s of waveOrder[i]?.nodes ?? []) {
        if (s.dead) continue; // replaced last, outside the waves
        if (s.oldPod && !budgeted.has(s.name)) continue; // kept by the partition or the selector
        if (s.oldPod || !s.newPod || !available(s.newPod)) return undefined;
        at = Math.max(at, availableAt(s.newPod) ?? Number.NEGATIVE_INFINITY);
      }
      return at;
    };
    let current = 0;
    let soakingUntil: number | undefined;
    // Nothing left to replace: the waves are done, whatever a joining node or an unready pod does.
    if (budgeted.size === 0 && !states.some((s) => s.inProgress)) current = n;
    while (current < n) {
      const at = doneAt(current);
      if (at === undefined) break;
      current++;
      if (current < n && at + soakMs > now) {
        soakingUntil = at + soakMs;
        break;
      }
    }
    if (current > 0 && current < n && soakingUntil === undefined) {
      const prev = doneAt(current - 1);
      if (prev !== undefined) waveStartedAt = prev + soakMs;
    }
    soaking = soakingUntil !== undefined;
    const storedWave = storedOf(WAVE);
    const storedIndex = Number(WAVE_PREFIX.exec(storedWave?.message ?? '')?.[1] ?? '0');
    const storedRunning = storedWave?.reason === 'WaveInProgress';
    if (current >= n) {
      waveCondition = condition(WAVE, 'True', 'WavesComplete', `wave ${n}/${n}: all ${n} waves updated`);
    } else if (soakingUntil !== undefined) {
      allowedWave = -1;
      requeues.push(soakingUntil - now + 1);
      waveCondition = condition(
        WAVE,
        'True',
        'WaveSoaking',
        `wave ${current}/${n}: ${label(current - 1)} updated; wave ${current + 1} (${label(current)}) starts at ${new Date(soakingUntil).toISOString()}`,
      );
    } else {
      allowedWave = current;
      waveCondition = condition(
        WAVE,
        'True',
        'WaveInProgress',
        `wave ${current + 1}/${n}: ${label(current)}`,
      );
    }
    // Events on transitions from what status says.
    const completedUpTo = soakingUntil !== undefined ? current : Math.min(current, n);
    if (storedRunning && storedIndex >= 1 && storedIndex <= completedUpTo) {
      events.push({
        type: 'Normal',
        reason: 'WaveCompleted',
        message: `Wave ${storedIndex}/${n} (${label(storedIndex - 1)}) is updated and available`,
      });
    }
    if (waveCondition.reason === 'WaveInProgress' && !paused) {
      const index = current + 1;
      if (!(storedRunning && storedIndex === index)) {
        const nodes = (waveOrder[current]?.nodes ?? []).map((s) => s.name);
        events.push({
          type: 'Normal',
          reason: 'WaveStarted',
          message: `Wave ${index}/${n} (${label(current)}) started: nodes ${nodes.join(', ')}`,
        });
      }
    }
  }

  // Dead nodes are replaced last, whatever their wave: once every live node the rollout updates
  // has an available new pod.
  const liveDone = states.every(
    (o) => o.dead || (o.oldPod && !budgeted.has(o.name)) || (!o.oldPod && o.newPod && available(o.newPod)),
  );
  const mayReplace = (nodeName: string): boolean => {
    if (paused) return false;
    const s = stateOf.get(nodeName);
    if (!s) return true; // not a node the rollout looks at: its pods are manage's business
    if (s.inProgress) return true;
    if (!budgeted.has(nodeName)) return false;
    if (s.dead) return liveDone;
    if (allowedWave !== undefined && s.waveIndex !== allowedWave) return false;
    return true;
  };

  // ---- Progressing -------------------------------------------------------------------------------
  let conditions: V1DaemonSetCondition[] | undefined;
  if (input.reportConditions || usesRolloutControl(ds)) {
    const updated = states.filter((s) => s.newPod && !s.oldPod).length;
    const availableUpdated = states.filter((s) => s.newPod && !s.oldPod && available(s.newPod)).length;
    const heldNote = held > 0 ? `; ${held} node${held === 1 ? ' keeps' : 's keep'} the old revision` : '';
    const counts = `${updated} of ${desired} nodes updated, ${availableUpdated} available${heldNote}`;
    let progressing: V1DaemonSetCondition;
    if (autoPaused && autoCondition) {
      progressing = condition(PROGRESSING, 'False', REASON_AUTO_PAUSED, autoCondition.message ?? '');
    } else if (complete) {
      progressing = condition(PROGRESSING, 'True', REASON_AVAILABLE, `revision ${revision.name}: ${counts}`);
    } else if (paused) {
      const why = input.heldBecause ?? `paused by annotation ${PAUSED_ANNOTATION}`;
      progressing = condition(
        PROGRESSING,
        'Unknown',
        REASON_PAUSED,
        `revision ${revision.name}: ${why}; ${counts}`,
      );
    } else {
      progressing = condition(
        PROGRESSING,
        'True',
        REASON_PROGRESSING,
        `revision ${revision.name}: ${counts}`,
      );
      const deadline = settings.progressDeadlineSeconds;
      // The clock restarts when this revision's rollout (re)starts: the first sync that sees it
      // (a new template, a rollback to an old revision), a resume, the end of a wave's soak.
      const restart =
        storedProgress === undefined ||
        storedProgress.reason === REASON_PAUSED ||
        storedProgress.reason === REASON_AUTO_PAUSED;
      if (deadline !== undefined && soaking) {
        // A deliberate soak is not a stall.
      } else if (deadline !== undefined && restart) {
        requeues.push(deadline * 1000 + 1);
      } else if (deadline !== undefined) {
        let last = Math.max(revision.createdAtMs, waveStartedAt);
        for (const s of states) {
          if (s.newPod && available(s.newPod)) last = Math.max(last, availableAt(s.newPod) ?? last);
        }
        if (storedProgress?.reason === REASON_PROGRESSING) {
          last = Math.max(last, ms(storedProgress.lastTransitionTime) ?? last);
        }
        if (storedProgress?.reason === REASON_DEADLINE || now > last + deadline * 1000) {
          const message = `revision ${revision.name}: no updated pod became available for ${deadline}s; ${counts}`;
          progressing = condition(PROGRESSING, 'False', REASON_DEADLINE, message);
          if (storedProgress?.reason !== REASON_DEADLINE) {
            events.push({
              type: 'Warning',
              reason: 'ProgressDeadlineExceeded',
              message: `Rollout stalled: ${message}`,
            });
          }
        } else {
          requeues.push(last + deadline * 1000 + 1 - now);
        }
      }
    }
    // A stalled rollout that moves again (a pod became available since) is progressing again.
    if (progressing.reason === REASON_DEADLINE && storedProgress?.reason === REASON_DEADLINE) {
      const lastAvailable = Math.max(
        Number.NEGATIVE_INFINITY,
        ...states
          .filter((s) => s.newPod && available(s.newPod))
          .map((s) => availableAt(s.newPod as V1Pod) ?? 0),
      );
      const stalledAt = ms(storedProgress.lastTransitionTime) ?? Number.POSITIVE_INFINITY;
      if (lastAvailable > stalledAt) {
        progressing = condition(
          PROGRESSING,
          'True',
          REASON_PROGRESSING,
          `revision ${revision.name}: ${counts}`,
        );
      }
    }
    conditions = [progressing];
    if (autoCondition) conditions.push(autoCondition);
    if (waveCondition) conditions.push(waveCondition);
  } else if (stored.some((c) => OWNED_CONDITIONS.has(c.type))) {
    conditions = []; // the annotations are gone: so are everynode's conditions
  }

  const pending = requeues.filter((r) => Number.isFinite(r)).map((r) => Math.max(1, r));
  return {
    gate: { paused, mayReplace, dead, order: ordered.map((st) => st.name) },
    conditions,
    events,
    requeueAfterMs: pending.length > 0 ? Math.min(...pending) : undefined,
  };
}

interface WaveGroup {
  value: string | undefined;
  nodes: NodeState[];
}

/** Groups by the wave label: smallest group first, ties by value; nodes without the label last. */
function waveGroups(states: readonly NodeState[], enabled: boolean): WaveGroup[] {
  if (!enabled) return [{ value: undefined, nodes: [...states] }];
  const byValue = new Map<string, NodeState[]>();
  const unlabelled: NodeState[] = [];
  for (const s of states) {
    if (s.wave === undefined) unlabelled.push(s);
    else byValue.set(s.wave, [...(byValue.get(s.wave) ?? []), s]);
  }
  const groups: WaveGroup[] = [...byValue.entries()]
    .map(([value, nodes]) => ({ value, nodes }))
    .sort((a, b) => a.nodes.length - b.nodes.length || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  if (unlabelled.length > 0) groups.push({ value: undefined, nodes: unlabelled });
  for (const g of groups) g.nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return groups;
}

/**
 * The stored conditions with everynode's own replaced by `ours` (types it manages: Progressing,
 * RolloutAutoPaused, RolloutWave); lastTransitionTime moves only when status or reason changes.
 */
export function mergeConditions(
  stored: readonly V1DaemonSetCondition[] | undefined,
  ours: readonly V1DaemonSetCondition[],
  now: number,
): V1DaemonSetCondition[] {
  const out = (stored ?? []).filter((c) => !OWNED_CONDITIONS.has(c.type));
  const at = wireTime(now);
  for (const c of ours) {
    const prev = (stored ?? []).find((s) => s.type === c.type);
    const same = prev && prev.status === c.status && prev.reason === c.reason;
    out.push({
      ...c,
      lastTransitionTime: (same ? prev.lastTransitionTime : at) as unknown as Date,
    });
  }
  return out;
}
