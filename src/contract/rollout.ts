// everynode's rollout-control API on a plain apps/v1 DaemonSet: the
// annotations users set, how each is parsed (with the accepted forms named in
// every error), and the status conditions the controller reports. Shared by the
// controller's planner and the `kubectl everynode` plugin; pure.
import type { V1LabelSelector, V1LabelSelectorRequirement } from '@kubernetes/client-node';

export const ROLLOUT_PREFIX = 'rollout.everynode.dev/';
export const PARTITION_ANNOTATION = `${ROLLOUT_PREFIX}partition`;
export const NODE_SELECTOR_ANNOTATION = `${ROLLOUT_PREFIX}node-selector`;
export const PAUSED_ANNOTATION = `${ROLLOUT_PREFIX}paused`;
export const WAVES_ANNOTATION = `${ROLLOUT_PREFIX}waves`;
export const WAVE_SOAK_ANNOTATION = `${ROLLOUT_PREFIX}wave-soak-seconds`;
export const PROGRESS_DEADLINE_ANNOTATION = `${ROLLOUT_PREFIX}progress-deadline-seconds`;
export const AUTO_PAUSE_ANNOTATION = `${ROLLOUT_PREFIX}auto-pause`;
export const UPDATE_MODE_ANNOTATION = `${ROLLOUT_PREFIX}update-mode`;

/**
 * How the rollout replaces a pod. Recreate (the default, upstream's only way): delete it and
 * create a new one. InPlaceIfPossible: when the pod's revision and the update revision differ
 * only in fields a running pod may change (container images; cpu/memory resources through the
 * resize subresource), patch the pod instead; otherwise, or when the API server refuses the
 * patch, Recreate that pod.
 */
export type UpdateMode = 'Recreate' | 'InPlaceIfPossible';
export const UPDATE_MODES: readonly UpdateMode[] = ['Recreate', 'InPlaceIfPossible'];

/**
 * Written by the controller on a pod it updates in place (never on a user's object): the
 * revision the pod is moving to and what its containers reported before, so the controller can
 * tell when the kubelet has restarted them with the new image. JSON, see InPlaceRecord.
 */
export const IN_PLACE_UPDATE_ANNOTATION = `${ROLLOUT_PREFIX}in-place-update`;

/** The IN_PLACE_UPDATE_ANNOTATION value. */
export interface InPlaceRecord {
  /** controller-revision-hash of the revision the pod was patched to. */
  revision: string;
  /** When the patch was sent (RFC 3339). */
  startedAt: string;
  /** Per container whose image changed: what its status reported before the patch. */
  containers: Record<string, { imageID: string; restartCount: number }>;
  /** Containers resized through the resize subresource. */
  resized?: string[];
}

/** Parses an IN_PLACE_UPDATE_ANNOTATION value; undefined when absent or not one (ignored then). */
export function parseInPlaceRecord(raw: string | undefined): InPlaceRecord | undefined {
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<InPlaceRecord> | null;
    if (!v || typeof v.revision !== 'string' || typeof v.startedAt !== 'string') return undefined;
    if (typeof v.containers !== 'object' || v.containers === null) return undefined;
    const resized = Array.isArray(v.resized) ? v.resized.filter((n) => typeof n === 'string') : undefined;
    return {
      revision: v.revision,
      startedAt: v.startedAt,
      containers: v.containers,
      ...(resized ? { resized } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The condition types everynode owns in DaemonSet status.conditions. */
export const PROGRESSING = 'Progressing';
/** Holds an auto-pause: True while paused for the revision its message names; False (reason Resumed) once resumed. */
export const AUTO_PAUSED = 'RolloutAutoPaused';
/** The wave in progress, for `kubectl everynode rollout status` and the wave events. */
export const WAVE = 'RolloutWave';

export const REASON_PROGRESSING = 'NewRevisionProgressing';
export const REASON_AVAILABLE = 'NewRevisionAvailable';
export const REASON_DEADLINE = 'ProgressDeadlineExceeded';
export const REASON_PAUSED = 'RolloutPaused';
export const REASON_AUTO_PAUSED = 'RolloutAutoPaused';
export const REASON_RESUMED = 'Resumed';

/** Every message of everynode's conditions starts `revision <ControllerRevision name>: `. */
export const CONDITION_REVISION_PREFIX = /^revision (\S+): /;

/** The revision a condition's message names, or undefined. */
export const conditionRevision = (c: { message?: string } | undefined): string | undefined =>
  CONDITION_REVISION_PREFIX.exec(c?.message ?? '')?.[1];

export type Partition = { count: number } | { percent: number };

export interface RolloutSettings {
  partition?: Partition;
  nodeSelector?: V1LabelSelector;
  paused: boolean;
  waves?: { key: string; soakSeconds: number };
  progressDeadlineSeconds?: number;
  autoPause: boolean;
  updateMode: UpdateMode;
}

export interface SettingProblem {
  annotation: string;
  value: string;
  /** What is wrong and the accepted forms. */
  message: string;
}

export const DEFAULT_ROLLOUT_SETTINGS: RolloutSettings = {
  paused: false,
  autoPause: false,
  updateMode: 'Recreate',
};

function parseUpdateMode(annotation: string, raw: string): UpdateMode | SettingProblem {
  if ((UPDATE_MODES as readonly string[]).includes(raw)) return raw as UpdateMode;
  return { annotation, value: raw, message: `must be "Recreate" (the default) or "InPlaceIfPossible"` };
}

const NON_NEGATIVE_INT = /^(0|[1-9]\d{0,8})$/;

function parseBool(annotation: string, raw: string): boolean | SettingProblem {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  return { annotation, value: raw, message: `must be "true" or "false"` };
}

function parseSeconds(annotation: string, raw: string, min: number): number | SettingProblem {
  if (!NON_NEGATIVE_INT.test(raw) || Number(raw) < min) {
    return {
      annotation,
      value: raw,
      message: `must be a whole number of seconds${min > 0 ? ` of at least ${min}` : ''}, e.g. "600"`,
    };
  }
  return Number(raw);
}

function parsePartition(raw: string): Partition | SettingProblem {
  const percent = /^(0|[1-9]\d?|100)%$/.exec(raw);
  if (percent) return { percent: Number(percent[1]) };
  if (NON_NEGATIVE_INT.test(raw)) return { count: Number(raw) };
  return {
    annotation: PARTITION_ANNOTATION,
    value: raw,
    message: 'must be a number of nodes ("3") or a percentage of the desired nodes from 0% to 100% ("25%")',
  };
}

/** The number of nodes a partition keeps on the old revision, of `desired` (percent rounded up). */
export function partitionCount(partition: Partition | undefined, desired: number): number {
  if (partition === undefined) return 0;
  if ('count' in partition) return Math.min(partition.count, desired);
  return Math.min(desired, Math.ceil((partition.percent * desired) / 100));
}

// ---- label selector strings (k8s.io/apimachinery labels.Parse) -------------------------------

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** Splits on commas outside parentheses. */
function splitTerms(s: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0 || depth > 1) return undefined;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) return undefined;
  out.push(cur.trim());
  return out;
}

/**
 * labels.Parse's syntax as a LabelSelector: `key`, `!key`, `key=value`, `key==value`,
 * `key!=value`, `key in (a,b)`, `key notin (a,b)`, joined by commas (all must hold).
 * Returns an error text naming the bad term, or the selector.
 */
export function parseLabelSelector(raw: string): V1LabelSelector | string {
  const terms = splitTerms(raw);
  if (!terms || terms.some((t) => t === '')) return `cannot parse "${raw}"`;
  const matchLabels: Record<string, string> = {};
  const matchExpressions: V1LabelSelectorRequirement[] = [];
  for (const term of terms) {
    let m: RegExpExecArray | null;
    const badKey = (k: string) => `"${k}" in "${term}" is not a valid label key`;
    const badValue = (v: string) => `"${v}" in "${term}" is not a valid label value`;
    if ((m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term))) {
      const [, key = '', op = '', list = ''] = m;
      const values = list.split(',').map((v) => v.trim());
      if (!LABEL_KEY.test(key)) return badKey(key);
      const bad = values.find((v) => !LABEL_VALUE.test(v));
      if (bad !== undefined) return badValue(bad);
      matchExpressions.push({ key, operator: op === 'in' ? 'In' : 'NotIn', values });
    } else if ((m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term))) {
      const [, key = '', op = '', value = ''] = m;
      if (!LABEL_KEY.test(key)) return badKey(key);
      if (!LABEL_VALUE.test(value)) return badValue(value);
      if (op === '!=') matchExpressions.push({ key, operator: 'NotIn', values: [value] });
      else if (matchLabels[key] !== undefined && matchLabels[key] !== value) {
        matchExpressions.push({ key, operator: 'In', values: [value] });
      } else matchLabels[key] = value;
    } else if ((m = /^!\s*(\S+)$/.exec(term))) {
      if (!LABEL_KEY.test(m[1] ?? '')) return badKey(m[1] ?? '');
      matchExpressions.push({ key: m[1] ?? '', operator: 'DoesNotExist' });
    } else if (LABEL_KEY.test(term)) {
      matchExpressions.push({ key: term, operator: 'Exists' });
    } else {
      return `cannot parse the term "${term}"`;
    }
  }
  const selector: V1LabelSelector = {};
  if (Object.keys(matchLabels).length > 0) selector.matchLabels = matchLabels;
  if (matchExpressions.length > 0) selector.matchExpressions = matchExpressions;
  return selector;
}

const SELECTOR_FORMS =
  'a label selector such as "pool=canary", "zone in (a,b)", "tier!=db", "gpu", "!spot" (terms joined by commas)';

/**
 * Parses the rollout annotations. Each valid annotation sets its setting; each invalid one
 * yields a problem (annotation, value, accepted forms) and leaves its setting unset, for the
 * caller to fill from the last valid value.
 */
export function parseRolloutSettings(annotations: Record<string, string> | undefined): {
  settings: Partial<RolloutSettings>;
  problems: SettingProblem[];
} {
  const a = annotations ?? {};
  const settings: Partial<RolloutSettings> = {};
  const problems: SettingProblem[] = [];
  const take = <T>(key: string, parse: (raw: string) => T | SettingProblem, set: (v: T) => void) => {
    const raw = a[key];
    if (raw === undefined) return;
    const v = parse(raw.trim());
    if (typeof v === 'object' && v !== null && 'annotation' in v && 'message' in v) problems.push(v);
    else set(v);
  };
  take(PARTITION_ANNOTATION, parsePartition, (v) => (settings.partition = v));
  take(
    NODE_SELECTOR_ANNOTATION,
    (raw): V1LabelSelector | SettingProblem => {
      const s = parseLabelSelector(raw);
      return typeof s === 'string'
        ? { annotation: NODE_SELECTOR_ANNOTATION, value: raw, message: `${s}: must be ${SELECTOR_FORMS}` }
        : s;
    },
    (v) => (settings.nodeSelector = v),
  );
  take(
    PAUSED_ANNOTATION,
    (raw) => parseBool(PAUSED_ANNOTATION, raw),
    (v) => (settings.paused = v),
  );
  take(
    AUTO_PAUSE_ANNOTATION,
    (raw) => parseBool(AUTO_PAUSE_ANNOTATION, raw),
    (v) => (settings.autoPause = v),
  );
  take(
    PROGRESS_DEADLINE_ANNOTATION,
    (raw) => parseSeconds(PROGRESS_DEADLINE_ANNOTATION, raw, 1),
    (v) => (settings.progressDeadlineSeconds = v),
  );
  take(
    UPDATE_MODE_ANNOTATION,
    (raw) => parseUpdateMode(UPDATE_MODE_ANNOTATION, raw),
    (v) => (settings.updateMode = v),
  );
  let soak: number | undefined;
  take(
    WAVE_SOAK_ANNOTATION,
    (raw) => parseSeconds(WAVE_SOAK_ANNOTATION, raw, 0),
    (v) => (soak = v),
  );
  take(
    WAVES_ANNOTATION,
    (raw): string | SettingProblem =>
      LABEL_KEY.test(raw)
        ? raw
        : {
            annotation: WAVES_ANNOTATION,
            value: raw,
            message: 'must be a node label key, e.g. "topology.kubernetes.io/zone"',
          },
    (key) => (settings.waves = { key, soakSeconds: soak ?? 0 }),
  );
  return { settings, problems };
}

// ---- the CRD's typed rollout block (everynode.dev/v1alpha1 DaemonSet spec.rollout) -------------

/** spec.rollout of an everynode.dev DaemonSet: the annotations' settings as typed fields. */
export interface RolloutSpec {
  /** Nodes (integer) or a percentage of the desired nodes (`"25%"`) that keep the old revision. */
  partition?: number | string;
  /** Only nodes matching this selector are updated. */
  nodeSelector?: V1LabelSelector;
  paused?: boolean;
  /** Update one group of nodes (same value of this node label) at a time. */
  waves?: { nodeLabelKey: string; soakSeconds?: number };
  progressDeadlineSeconds?: number;
  autoPause?: boolean;
  /** Recreate (default) or InPlaceIfPossible. */
  updateMode?: UpdateMode;
}

/** The settings of a typed rollout block, with the problems of any value the schema let through. */
export function rolloutSettingsFromSpec(spec: RolloutSpec | undefined): {
  settings: Partial<RolloutSettings>;
  problems: SettingProblem[];
} {
  const r = spec ?? {};
  const settings: Partial<RolloutSettings> = {};
  const problems: SettingProblem[] = [];
  if (r.partition !== undefined) {
    const p = parsePartition(String(r.partition));
    if ('annotation' in p) problems.push({ ...p, annotation: 'spec.rollout.partition' });
    else settings.partition = p;
  }
  if (r.nodeSelector !== undefined) settings.nodeSelector = r.nodeSelector;
  if (r.paused !== undefined) settings.paused = r.paused;
  if (r.autoPause !== undefined) settings.autoPause = r.autoPause;
  if (r.progressDeadlineSeconds !== undefined) settings.progressDeadlineSeconds = r.progressDeadlineSeconds;
  if (r.updateMode !== undefined) {
    const m = parseUpdateMode('spec.rollout.updateMode', String(r.updateMode));
    if (typeof m === 'object') problems.push(m);
    else settings.updateMode = m;
  }
  if (r.waves !== undefined) {
    settings.waves = { key: r.waves.nodeLabelKey, soakSeconds: r.waves.soakSeconds ?? 0 };
  }
  return { settings, problems };
}
