// `kubectl everynode migrate`, the decisions: whether a DaemonSet may be moved
// between the two kinds (apps/v1 ⇄ everynode.dev/v1alpha1) without touching its
// pods, and the object to create. The I/O and the order of the steps are in
// migrate-run.ts. Pure: plain objects in, refusals and objects out.
import type { V1ControllerRevision, V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import {
  APPS_V1_DAEMONSET,
  CONTROLLER_REVISION_HASH_LABEL,
  EVERYNODE_DAEMONSET,
  apiVersionOf,
  controllerRefOf,
} from '../contract/daemon-pod.ts';
import { ROLLOUT_PREFIX, parseRolloutSettings, type RolloutSpec } from '../contract/rollout.ts';
import { getPatch, matchesRevision, revisionHash } from '../controller/history.ts';
import { TEMPLATE_GENERATION_ANNOTATION } from '../controller/pods.ts';
import { displayName, type ResourceGroup } from './resource.ts';
import type { AnyDaemonSet } from './rollout-settings.ts';

/** kubectl's last-applied annotation: not copied (it records the other kind's manifest). */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** The ConfigMap that keeps the source object while a migration runs, so a rerun can finish it. */
export const checkpointName = (name: string): string => `everynode-migrate-${name}`;
/** Its label (the value is the DaemonSet's name) and the key holding the source object's JSON. */
export const CHECKPOINT_LABEL = 'everynode.dev/migrate';
export const CHECKPOINT_KEY = 'source.json';

export const otherGroup = (g: ResourceGroup): ResourceGroup => (g === 'apps' ? 'everynode.dev' : 'apps');

/** Has this object the controller owner reference of `owner`? */
export const isControlledBy = (
  obj: { metadata?: { ownerReferences?: V1OwnerReference[] } },
  uid: string | undefined,
): boolean => uid !== undefined && controllerRefOf(obj)?.uid === uid;

/** Does this object still carry any owner reference to `uid` (the garbage collector has not orphaned it yet)? */
export const refersTo = (
  obj: { metadata?: { ownerReferences?: V1OwnerReference[] } },
  uid: string | undefined,
): boolean => uid !== undefined && (obj.metadata?.ownerReferences ?? []).some((r) => r.uid === uid);

/**
 * Why the source's pods are not all of its current revision, updated and available (a rollout in
 * progress, or one the controller has not caught up with), or undefined when they are.
 */
export function rolloutInProgress(
  source: AnyDaemonSet,
  pods: readonly V1Pod[],
  revisions: readonly V1ControllerRevision[],
): string | undefined {
  const generation = source.metadata?.generation ?? 0;
  const status = source.status;
  if ((status?.observedGeneration ?? 0) < generation) {
    return `its controller has not observed generation ${generation} yet (observedGeneration ${status?.observedGeneration ?? 0})`;
  }
  const desired = status?.desiredNumberScheduled ?? 0;
  const updated = status?.updatedNumberScheduled ?? 0;
  const available = status?.numberAvailable ?? 0;
  if (updated !== desired || available !== desired) {
    return `a rollout is in progress: ${updated} of ${desired} pods updated, ${available} available`;
  }
  const uid = source.metadata?.uid;
  const patch = getPatch(source);
  const current = revisions.find((r) => isControlledBy(r, uid) && matchesRevision(patch, r));
  if (!current) return 'no ControllerRevision it controls matches its template yet';
  const currentHash = revisionHash(current);
  for (const pod of pods.filter((p) => isControlledBy(p, uid))) {
    const name = pod.metadata?.name ?? '';
    if (pod.metadata?.deletionTimestamp) return `a rollout is in progress: pod ${name} is terminating`;
    const hash = pod.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL];
    if (hash !== currentHash) {
      return `a rollout is in progress: pod ${name} runs revision ${hash ?? '<none>'}, not the current ${currentHash}`;
    }
  }
  return undefined;
}

/** The rollout.everynode.dev/ annotations as the CRD's spec.rollout block, or the problems that stop it. */
export function rolloutSpecFromAnnotations(annotations: Record<string, string>): {
  rollout?: RolloutSpec;
  problems: string[];
} {
  const { settings, problems } = parseRolloutSettings(annotations);
  if (problems.length > 0) {
    return { problems: problems.map((p) => `annotation ${p.annotation}: "${p.value}" ${p.message}`) };
  }
  const r: RolloutSpec = {};
  if (settings.partition) {
    r.partition = 'count' in settings.partition ? settings.partition.count : `${settings.partition.percent}%`;
  }
  if (settings.nodeSelector) r.nodeSelector = settings.nodeSelector;
  if (settings.paused !== undefined) r.paused = settings.paused;
  if (settings.waves) {
    r.waves = { nodeLabelKey: settings.waves.key, soakSeconds: settings.waves.soakSeconds };
  }
  if (settings.progressDeadlineSeconds !== undefined)
    r.progressDeadlineSeconds = settings.progressDeadlineSeconds;
  if (settings.autoPause !== undefined) r.autoPause = settings.autoPause;
  return Object.keys(r).length > 0 ? { rollout: r, problems: [] } : { problems: [] };
}

/** The spec.rollout settings that are set (an apps/v1 DaemonSet has no place for them). */
export function setRolloutFields(rollout: RolloutSpec | undefined): string[] {
  return Object.entries(rollout ?? {})
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k]) => `spec.rollout.${k}`);
}

/**
 * The object `migrate` creates from the source: the other kind, the same name, labels, annotations
 * (without kubectl's last-applied configuration, which records the other kind's manifest, nor the
 * apps/v1 server's template-generation annotation), non-controller owner references, and spec.
 * To everynode.dev the rollout.everynode.dev/ annotations become spec.rollout (the CRD-mode
 * controller reads only spec.rollout); to apps/v1 spec.rollout is dropped, which needs `force`
 * when any setting is set.
 */
export function targetObject(
  source: AnyDaemonSet,
  force: boolean,
): { object: AnyDaemonSet } | { error: string } {
  const fromApps = !(source.apiVersion ?? '').startsWith(`${EVERYNODE_DAEMONSET.group}/`);
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(source.metadata?.annotations ?? {})) {
    if (k === LAST_APPLIED_ANNOTATION || k === TEMPLATE_GENERATION_ANNOTATION) continue;
    if (fromApps && k.startsWith(ROLLOUT_PREFIX)) continue;
    annotations[k] = v;
  }
  const { rollout: _rollout, ...spec } = source.spec ?? ({} as NonNullable<AnyDaemonSet['spec']>);
  let targetSpec: NonNullable<AnyDaemonSet['spec']> = spec;
  if (fromApps) {
    const converted = rolloutSpecFromAnnotations(source.metadata?.annotations ?? {});
    if (converted.problems.length > 0) {
      return {
        error: `its rollout annotations cannot become spec.rollout: ${converted.problems.join('; ')}`,
      };
    }
    if (converted.rollout) targetSpec = { ...targetSpec, rollout: converted.rollout };
  } else {
    const set = setRolloutFields(source.spec?.rollout);
    if (set.length > 0 && !force) {
      return {
        error: `it sets ${set.join(', ')}, which an apps/v1 DaemonSet cannot hold; --force drops them`,
      };
    }
  }
  const owners = (source.metadata?.ownerReferences ?? []).filter((r) => r.controller !== true);
  const metadata: NonNullable<AnyDaemonSet['metadata']> = {
    name: source.metadata?.name ?? '',
    namespace: source.metadata?.namespace ?? '',
  };
  if (source.metadata?.labels && Object.keys(source.metadata.labels).length > 0) {
    metadata.labels = { ...source.metadata.labels };
  }
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  if (owners.length > 0) metadata.ownerReferences = owners;
  return {
    object: {
      apiVersion: apiVersionOf(fromApps ? EVERYNODE_DAEMONSET : APPS_V1_DAEMONSET),
      kind: 'DaemonSet',
      metadata,
      spec: targetSpec,
    },
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The first path where `actual` does not hold what `desired` sets, or undefined: every field
 * `desired` sets (not null) has the same value in `actual`, arrays element by element with the
 * same length. Fields only `actual` has (API server defaults) do not count.
 */
export function firstDifference(desired: unknown, actual: unknown, path = ''): string | undefined {
  if (desired === null || desired === undefined) return undefined;
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual) || actual.length !== desired.length) return path || '/';
    for (let i = 0; i < desired.length; i++) {
      const d = firstDifference(desired[i], actual[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (isObject(desired)) {
    if (!isObject(actual)) return path || '/';
    for (const [k, v] of Object.entries(desired)) {
      const d = firstDifference(v, actual[k], path ? `${path}.${k}` : k);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return desired === actual ? undefined : path || '/';
}

/** Why a source object may not be migrated at all (before looking at its rollout), or undefined. */
export function sourceProblem(source: AnyDaemonSet): string | undefined {
  const owner = controllerRefOf(source);
  if (owner) {
    return `it is controlled by ${owner.kind}/${owner.name}, which would recreate it: migrate that owner's manifests instead`;
  }
  return undefined;
}

export interface PreflightInput {
  source: AnyDaemonSet;
  /** Pods in the namespace matching the source's selector. */
  pods: readonly V1Pod[];
  /** ControllerRevisions in the namespace matching the source's selector. */
  revisions: readonly V1ControllerRevision[];
  /** The target, if an object of the other kind with that name exists. */
  target: AnyDaemonSet | undefined;
  /** Is the target's kind served (the CRD installed)? */
  targetInstalled: boolean;
  force: boolean;
}

/**
 * Step (a): every reason the migration of a live source is refused (empty: go ahead), and the
 * object to create.
 */
export function preflight(input: PreflightInput): { refusals: string[]; desired?: AnyDaemonSet } {
  const { source } = input;
  const from = displayName({ group: groupOf(source), name: source.metadata?.name ?? '' });
  const to = displayName({ group: otherGroup(groupOf(source)), name: source.metadata?.name ?? '' });
  const refusals: string[] = [];
  if (!input.targetInstalled) {
    refusals.push(
      `daemonsets.${otherGroup(groupOf(source))} is not served by this cluster: install everynode's CRD (charts/everynode/crds/) first`,
    );
  }
  const owned = sourceProblem(source);
  if (owned) refusals.push(`${from}: ${owned}`);
  const progress = rolloutInProgress(source, input.pods, input.revisions);
  if (progress)
    refusals.push(`${from}: ${progress}; wait for it to finish (kubectl everynode rollout status)`);
  const built = targetObject(source, input.force);
  if ('error' in built) {
    refusals.push(`${from}: ${built.error}`);
    return { refusals };
  }
  if (input.target) {
    const diff = firstDifference(built.object.spec, input.target.spec, 'spec');
    if (diff !== undefined) refusals.push(`${to} already exists with a different spec (${diff})`);
  }
  return { refusals, desired: built.object };
}

const groupOf = (obj: AnyDaemonSet): ResourceGroup =>
  (obj.apiVersion ?? '').startsWith(`${EVERYNODE_DAEMONSET.group}/`) ? 'everynode.dev' : 'apps';

/** The pods and revisions the target has not adopted yet (step (e) waits until both are empty). */
export function notAdopted<T extends { metadata?: { name?: string; ownerReferences?: V1OwnerReference[] } }>(
  objects: readonly T[],
  targetUid: string | undefined,
): string[] {
  return objects.filter((o) => !isControlledBy(o, targetUid)).map((o) => o.metadata?.name ?? '');
}
