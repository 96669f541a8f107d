// In-place updates (rollout.everynode.dev/update-mode: InPlaceIfPossible): which template
// changes a running pod can take without being recreated, the patch that applies them, and
// when the kubelet has acted on it. everynode's own; the idea follows OpenKruise's in-place
// update (the old image IDs recorded on the pod, "updated" once they changed), the rules are
// the API server's pod-update validation (ValidatePodUpdate: container and init-container
// images are the only mutable container fields) and the resize subresource's
// (InPlacePodVerticalScaling: cpu/memory of regular containers, QoS class unchanged).
// Pure: plain objects in, decisions out.
import { isDeepStrictEqual } from 'node:util';
import type {
  V1Container,
  V1ControllerRevision,
  V1Pod,
  V1PodTemplateSpec,
  V1ResourceRequirements,
} from '@kubernetes/client-node';
import {
  CONTROLLER_REVISION_HASH_LABEL,
  POD_TEMPLATE_GENERATION_LABEL,
  timeMillis,
} from '../contract/daemon-pod.ts';
import { IN_PLACE_UPDATE_ANNOTATION, parseInPlaceRecord, type InPlaceRecord } from '../contract/rollout.ts';
import { wireTime } from '../machinery/time.ts';
import { revisionHash } from './history.ts';
import type { SyncContext } from './sync-context.ts';
import type { PlannedEvent, PodDelete, PodInPlaceUpdate } from './types.ts';

/** What the update revision changes on a pod of an older one, when a running pod can take it. */
export interface InPlaceChange {
  /** Regular containers whose image changes. */
  images: Array<{ name: string; image: string }>;
  /** Init containers whose image changes (applied to the spec; a finished init container does not run again). */
  initImages: Array<{ name: string; image: string }>;
  /** Regular containers whose cpu/memory requests or limits change (the resize subresource). */
  resources: Array<{ name: string; resources: V1ResourceRequirements }>;
}

export type InPlaceDiff = { possible: true; change: InPlaceChange } | { possible: false; why: string };

/** The pod template a revision stores (`data.spec.template`, upstream getPatch's shape). */
export function revisionTemplate(rev: V1ControllerRevision): V1PodTemplateSpec | undefined {
  const data = rev.data as { spec?: { template?: Record<string, unknown> } } | undefined;
  const template = data?.spec?.template;
  if (!template || typeof template !== 'object') return undefined;
  const { $patch: _patch, ...rest } = template;
  return rest;
}

const RESIZABLE = new Set(['cpu', 'memory']);

/** Only cpu and memory requests/limits differ (and nothing else of the requirements). */
function onlyCpuMemoryDiffer(a: V1ResourceRequirements | undefined, b: V1ResourceRequirements | undefined) {
  const strip = (r: V1ResourceRequirements | undefined) => {
    const out: Record<string, unknown> = { ...(r ?? {}) };
    for (const field of ['requests', 'limits'] as const) {
      const rest = Object.fromEntries(Object.entries(r?.[field] ?? {}).filter(([k]) => !RESIZABLE.has(k)));
      if (Object.keys(rest).length > 0) out[field] = rest;
      else delete out[field];
    }
    return out;
  };
  return isDeepStrictEqual(strip(a), strip(b));
}

type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

/**
 * upstream qos.GetPodQOS over a template's containers: no cpu/memory request or limit anywhere →
 * BestEffort; every container limits both and requests (when set) equal the limits → Guaranteed;
 * anything else Burstable. Quantities are compared as written (the API server stores them
 * canonically).
 */
export function qosClass(template: V1PodTemplateSpec): QosClass {
  const containers = [...(template.spec?.initContainers ?? []), ...(template.spec?.containers ?? [])];
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const requests = c.resources?.requests ?? {};
    const limits = c.resources?.limits ?? {};
    for (const r of RESIZABLE) {
      if (requests[r] !== undefined || limits[r] !== undefined) any = true;
      if (limits[r] === undefined || (requests[r] !== undefined && requests[r] !== limits[r]))
        guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/**
 * Whether a pod of template `from` can become one of template `to` in place, and how. Anything
 * but images (and resizable resources) differing, containers added, removed or reordered, or a
 * QoS class change makes it impossible: the pod is recreated.
 */
export function inPlaceDiff(from: V1PodTemplateSpec, to: V1PodTemplateSpec): InPlaceDiff {
  const a = structuredClone(from);
  const change: InPlaceChange = { images: [], initImages: [], resources: [] };
  const align = (
    kind: 'containers' | 'initContainers',
    onImage: (name: string, image: string) => void,
  ): string | undefined => {
    const before: V1Container[] = a.spec?.[kind] ?? [];
    const after: V1Container[] = to.spec?.[kind] ?? [];
    if (before.length !== after.length) return `spec.${kind}: containers added or removed`;
    for (let i = 0; i < after.length; i++) {
      const x = before[i]!;
      const y = after[i]!;
      if (x.name !== y.name) return `spec.${kind}: containers renamed or reordered`;
      if (x.image !== y.image && y.image !== undefined) {
        onImage(y.name, y.image);
        x.image = y.image;
      }
      if (kind === 'containers' && !isDeepStrictEqual(x.resources, y.resources)) {
        if (!onlyCpuMemoryDiffer(x.resources, y.resources))
          return `spec.containers[${y.name}].resources: only cpu and memory can be resized`;
        change.resources.push({ name: y.name, resources: y.resources ?? {} });
        if (y.resources === undefined) delete x.resources;
        else x.resources = y.resources;
      }
    }
    return undefined;
  };
  const problem =
    align('containers', (name, image) => change.images.push({ name, image })) ??
    align('initContainers', (name, image) => change.initImages.push({ name, image }));
  if (problem) return { possible: false, why: problem };
  if (!isDeepStrictEqual(a, to))
    return { possible: false, why: `${firstDifference(a, to) ?? 'template'} changes` };
  if (change.resources.length > 0 && qosClass(from) !== qosClass(to))
    return { possible: false, why: `the QoS class changes (${qosClass(from)} → ${qosClass(to)})` };
  if (change.images.length + change.initImages.length + change.resources.length === 0)
    return { possible: false, why: 'no container changes' };
  return { possible: true, change };
}

/** The first JSON path where two values differ, for messages (e.g. "spec.volumes"). */
function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a))
    return path || undefined;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of [...keys].sort()) {
    const d = firstDifference(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      path ? `${path}.${k}` : k,
    );
    if (d) return d;
  }
  return path || undefined;
}

/**
 * Parsed records by annotation text: a sync asks about every pod several times (availability in
 * the rolling update, the rollout control and the status) and the text rarely changes, so each
 * distinct text is parsed once. Bounded; cleared when full.
 */
const parsedRecords = new Map<string, InPlaceRecord | undefined>();
const PARSED_RECORDS_LIMIT = 20_000;
function recordOf(raw: string | undefined): InPlaceRecord | undefined {
  if (raw === undefined) return undefined;
  if (parsedRecords.has(raw)) return parsedRecords.get(raw);
  if (parsedRecords.size >= PARSED_RECORDS_LIMIT) parsedRecords.clear();
  const record = parseInPlaceRecord(raw);
  parsedRecords.set(raw, record);
  return record;
}

/** The in-place record of a pod that was patched to the revision it is labelled with. */
export function currentInPlaceRecord(pod: V1Pod): InPlaceRecord | undefined {
  const record = recordOf(pod.metadata?.annotations?.[IN_PLACE_UPDATE_ANNOTATION]);
  if (!record || record.revision !== pod.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL]) return undefined;
  return record;
}

const RESIZE_IN_FLIGHT = new Set(['PodResizePending', 'PodResizeInProgress']);

/**
 * The kubelet has acted on the patch: every container whose image changed runs again with a new
 * image ID or a higher restart count than recorded, and no resize is pending or in progress
 * (with the resized containers' reported resources, when reported, equal to the spec's).
 */
export function inPlaceDone(pod: V1Pod, record: InPlaceRecord): boolean {
  const statuses = pod.status?.containerStatuses ?? [];
  for (const [name, before] of Object.entries(record.containers)) {
    const s = statuses.find((c) => c.name === name);
    if (!s?.state?.running) return false;
    const newImage = (s.imageID ?? '') !== '' && s.imageID !== before.imageID;
    if (!newImage && (s.restartCount ?? 0) <= before.restartCount) return false;
  }
  if ((record.resized ?? []).length > 0) {
    if ((pod.status?.conditions ?? []).some((c) => RESIZE_IN_FLIGHT.has(c.type) && c.status === 'True'))
      return false;
    for (const name of record.resized ?? []) {
      const reported = statuses.find((c) => c.name === name)?.resources;
      const wanted = pod.spec?.containers.find((c) => c.name === name)?.resources;
      if (reported && !sameCpuMemory(reported, wanted)) return false;
    }
  }
  return true;
}

function sameCpuMemory(a: V1ResourceRequirements, b: V1ResourceRequirements | undefined): boolean {
  const pick = (r: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(r ?? {}).filter(([k]) => RESIZABLE.has(k)));
  return (
    isDeepStrictEqual(pick(a.requests), pick(b?.requests)) &&
    isDeepStrictEqual(pick(a.limits), pick(b?.limits))
  );
}

/**
 * inPlacePending per pod object, with the parts it was derived from: every sync asks it of every
 * pod several times (availability in the rolling update, the rollout control and the status),
 * while most pods have not changed since the last sync. Informer caches replace an object on
 * every change and never mutate it; a part replaced in place (as the unit fixtures do) is seen
 * by identity and the answer derived again.
 */
interface PendingEntry {
  labels: unknown;
  annotations: unknown;
  conditions: unknown;
  containerStatuses: unknown;
  containers: unknown;
  pending: boolean;
}
const pendingByPod = new WeakMap<V1Pod, PendingEntry>();

/** Patched in place to its current revision and the kubelet has not finished yet: not available, not updated. */
export function inPlacePending(pod: V1Pod): boolean {
  const { metadata, status, spec } = pod;
  // Most pods were never updated in place: nothing to derive, nothing to cache.
  if (metadata?.annotations?.[IN_PLACE_UPDATE_ANNOTATION] === undefined) return false;
  const hit = pendingByPod.get(pod);
  if (
    hit !== undefined &&
    hit.labels === metadata?.labels &&
    hit.annotations === metadata?.annotations &&
    hit.conditions === status?.conditions &&
    hit.containerStatuses === status?.containerStatuses &&
    hit.containers === spec?.containers
  )
    return hit.pending;
  const record = currentInPlaceRecord(pod);
  const pending = record !== undefined && !inPlaceDone(pod, record);
  pendingByPod.set(pod, {
    labels: metadata?.labels,
    annotations: metadata?.annotations,
    conditions: status?.conditions,
    containerStatuses: status?.containerStatuses,
    containers: spec?.containers,
    pending,
  });
  return pending;
}

/** When the pod last started a life: its creation, or the in-place update it is in. */
export function podStartedAtMs(pod: V1Pod): number | undefined {
  const created = timeMillis(pod.metadata?.creationTimestamp);
  const record = currentInPlaceRecord(pod);
  const updated = record ? timeMillis(record.startedAt) : undefined;
  if (updated === undefined) return created;
  return created === undefined ? updated : Math.max(created, updated);
}

/** The write that moves `pod` to revision `hash` (labels, record, images; resize separately). */
export function inPlaceUpdateOf(
  pod: V1Pod,
  nodeName: string,
  change: InPlaceChange,
  target: { hash: string; generation: string | undefined },
  now: number,
): PodInPlaceUpdate {
  const statuses = pod.status?.containerStatuses ?? [];
  const containers: InPlaceRecord['containers'] = {};
  for (const { name } of change.images) {
    const s = statuses.find((c) => c.name === name);
    containers[name] = { imageID: s?.imageID ?? '', restartCount: s?.restartCount ?? 0 };
  }
  const record: InPlaceRecord = {
    revision: target.hash,
    startedAt: wireTime(now),
    containers,
    ...(change.resources.length > 0 ? { resized: change.resources.map((r) => r.name) } : {}),
  };
  const labels: Record<string, string> = { [CONTROLLER_REVISION_HASH_LABEL]: target.hash };
  if (target.generation !== undefined) labels[POD_TEMPLATE_GENERATION_LABEL] = target.generation;
  return {
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    nodeName,
    hash: target.hash,
    patch: {
      metadata: {
        uid: pod.metadata?.uid ?? '',
        labels,
        annotations: { [IN_PLACE_UPDATE_ANNOTATION]: JSON.stringify(record) },
      },
      ...(change.images.length + change.initImages.length > 0
        ? {
            spec: {
              ...(change.images.length > 0 ? { containers: change.images } : {}),
              ...(change.initImages.length > 0 ? { initContainers: change.initImages } : {}),
            },
          }
        : {}),
    },
    ...(change.resources.length > 0 ? { resize: { spec: { containers: change.resources } } } : {}),
  };
}

/**
 * The pod as the in-place patch `u` leaves it (labels, record, images, resized resources): what
 * the API server will hold once the patch is through. The planner sees pods whose patch is in
 * flight this way, so they count as restarting (inPlacePending) and are not picked again.
 */
export function projectInPlace(pod: V1Pod, u: PodInPlaceUpdate): V1Pod {
  const images = new Map((u.patch.spec?.containers ?? []).map((c) => [c.name, c.image]));
  const initImages = new Map((u.patch.spec?.initContainers ?? []).map((c) => [c.name, c.image]));
  const resources = new Map((u.resize?.spec.containers ?? []).map((c) => [c.name, c.resources]));
  const spec = pod.spec;
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      labels: { ...pod.metadata?.labels, ...u.patch.metadata.labels },
      annotations: { ...pod.metadata?.annotations, ...u.patch.metadata.annotations },
    },
    ...(spec
      ? {
          spec: {
            ...spec,
            containers: spec.containers.map((c) => ({
              ...c,
              image: images.get(c.name) ?? c.image,
              ...(resources.has(c.name) ? { resources: resources.get(c.name) } : {}),
            })),
            ...(spec.initContainers
              ? {
                  initContainers: spec.initContainers.map((c) => ({
                    ...c,
                    image: initImages.get(c.name) ?? c.image,
                  })),
                }
              : {}),
          },
        }
      : {}),
  };
}

/** `pods` with each one whose in-place patch is in flight (by UID) replaced by its projection. */
export function withInPlaceInFlight(
  pods: V1Pod[],
  inFlight: ReadonlyMap<string, PodInPlaceUpdate> | undefined,
): V1Pod[] {
  if (!inFlight || inFlight.size === 0) return pods;
  return pods.map((p) => {
    const u = inFlight.get(p.metadata?.uid ?? '');
    return u ? projectInPlace(p, u) : p;
  });
}

/** Key of a refused in-place update (the executor remembers them; the planner recreates those pods). */
export const inPlaceRefusalKey = (uid: string, hash: string): string => `${uid}/${hash}`;

export interface InPlaceStep {
  deletes: PodDelete[];
  updates: PodInPlaceUpdate[];
  events: PlannedEvent[];
}

/**
 * The rolling update's replacements under update-mode InPlaceIfPossible: each old pod it would
 * delete to make room for the update revision is patched in place instead when its own revision's
 * template and the current one differ only in what inPlaceDiff allows, and the API server has not
 * refused that update before. Every other delete stays a delete (Recreate). One Normal event per
 * reason a pod falls back.
 */
export function replaceInPlace(
  ctx: SyncContext,
  deletes: readonly PodDelete[],
  revisions: readonly V1ControllerRevision[],
  refused: ReadonlySet<string> = new Set(),
): InPlaceStep {
  const target = ctx.ds.spec?.template;
  // Most syncs replace nothing: no per-sync index of every pod and revision for them.
  if (!target || !deletes.some((d) => d.reason === 'rolling-update')) {
    return { deletes: [...deletes], updates: [], events: [] };
  }
  const templates = new Map<string, V1PodTemplateSpec | undefined>();
  for (const rev of revisions) templates.set(revisionHash(rev), revisionTemplate(rev));
  const podsByUid = new Map<string, V1Pod>();
  for (const pods of ctx.pods.byNode.values()) for (const p of pods) podsByUid.set(p.metadata?.uid ?? '', p);

  const out: InPlaceStep = { deletes: [], updates: [], events: [] };
  const diffs = new Map<string, InPlaceDiff>();
  const fallbacks = new Map<string, string[]>();
  const fallBack = (d: PodDelete, why: string) => {
    out.deletes.push(d);
    const names = fallbacks.get(why);
    if (names) names.push(d.name);
    else fallbacks.set(why, [d.name]);
  };
  for (const d of deletes) {
    const pod = podsByUid.get(d.uid);
    if (d.reason !== 'rolling-update' || !pod) {
      out.deletes.push(d);
      continue;
    }
    if (refused.has(inPlaceRefusalKey(d.uid, ctx.hash))) {
      fallBack(d, 'the API server refused the in-place update');
      continue;
    }
    const hash = pod.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL];
    const from = hash === undefined ? undefined : templates.get(hash);
    if (hash === undefined || !from) {
      fallBack(d, "the pod's revision is no longer in the history");
      continue;
    }
    // The same for every pod of that revision: compared once per sync.
    let diff = diffs.get(hash);
    if (!diff) diffs.set(hash, (diff = inPlaceDiff(from, target)));
    if (!diff.possible) {
      fallBack(d, diff.why);
      continue;
    }
    out.updates.push(
      inPlaceUpdateOf(
        pod,
        d.nodeName ?? '',
        diff.change,
        { hash: ctx.hash, generation: ctx.generation },
        ctx.now,
      ),
    );
  }
  for (const [why, names] of fallbacks) {
    const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? `, … (${names.length} pods)` : '');
    out.events.push({
      type: 'Normal',
      reason: 'InPlaceUpdateNotPossible',
      message: `Recreating pod ${shown}: ${why}`,
    });
  }
  return out;
}
