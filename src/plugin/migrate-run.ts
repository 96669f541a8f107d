// `kubectl everynode migrate`, the steps against the API server, in the order
// that keeps every pod (the decisions are in migrate.ts):
//   (a) refuse, with the reason, what cannot be done safely (migrate.ts preflight);
//   (b) keep the source object in a checkpoint ConfigMap, delete the source with
//       propagationPolicy Orphan and wait until the garbage collector has removed
//       its owner reference from its pods and ControllerRevisions;
//   (c) to everynode.dev: label the orphaned pods everynode.dev/managed=true (and
//       annotate everynode.dev/target-node), then wait until a watch opened before
//       the first label has seen each of them, plus a grace period;
//   (d) create the target object (same labels, annotations, spec);
//   (e) wait until the target controls every pod and revision, print the summary,
//       delete the checkpoint.
// Every step first looks at what is already done, so a migrate interrupted at any
// point and run again carries on (the checkpoint holds the source once it is gone).
import type { V1ConfigMap, V1ControllerRevision, V1Pod } from '@kubernetes/client-node';
import {
  MANAGED_LABEL,
  MANAGED_LABEL_VALUE,
  TARGET_NODE_ANNOTATION,
  apiVersionOf,
  controllerRefOf,
  pinnedNodeOf,
} from '../contract/daemon-pod.ts';
import {
  ApiError,
  isAlreadyExists,
  isNotFound,
  resourcePath,
  resources,
  type KubeClient,
  type WatchEvent,
} from '../machinery/kube.ts';
import {
  CHECKPOINT_KEY,
  CHECKPOINT_LABEL,
  checkpointName,
  firstDifference,
  isControlledBy,
  notAdopted,
  otherGroup,
  preflight,
  refersTo,
  targetObject,
} from './migrate.ts';
import { displayName, ownerKindOf, type ResourceGroup, type ResourceRef } from './resource.ts';
import { selectorString, type AnyDaemonSet } from './rollout-settings.ts';

export interface MigrateOptions {
  dryRun: boolean;
  force: boolean;
  /** Bound of each wait (orphaning, relabel, adoption); 0 waits forever. */
  timeoutMs: number;
}

export interface MigrateIo {
  client: KubeClient;
  namespace: string;
  out: (line: string) => void;
}

/** A refusal or failure, printed as `error: …` (exit 1). */
export class MigrateError extends Error {
  override name = 'MigrateError';
}

/**
 * How long the relabelled pods are given to reach the controller's informer after our own watch saw
 * them: the controller watches pods and DaemonSets on separate streams, so its DaemonSet informer could
 * deliver the new object before its pod informer has the relabel; it would then see nodes without a pod
 * it manages and create a second pod on each. Our watch seeing the relabel means the API server has sent
 * it on every watch of that resourceVersion; the grace covers the controller's own lag behind that.
 */
const RELABEL_GRACE_MS = 3000;
const POLL_MS = 500;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface PodRecord {
  name: string;
  uid: string;
  node: string;
}

const podNode = (pod: V1Pod): string =>
  pod.spec?.nodeName ?? pinnedNodeOf(pod) ?? pod.metadata?.annotations?.[TARGET_NODE_ANNOTATION] ?? '';

const dsPath = (group: ResourceGroup, namespace: string, name?: string) =>
  resourcePath({ group, version: ownerKindOf({ group }).version, plural: 'daemonsets' }, { namespace, name });

async function getOrUndefined<T>(client: KubeClient, path: string): Promise<T | undefined> {
  try {
    return await client.get<T>(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Is the group's DaemonSet kind served (apps/v1 always; everynode.dev once its CRD is installed)? */
async function served(client: KubeClient, group: ResourceGroup): Promise<boolean> {
  if (group === 'apps') return true;
  const kind = ownerKindOf({ group });
  const list = await getOrUndefined<{ resources?: { name: string }[] }>(
    client,
    `/apis/${apiVersionOf(kind)}`,
  );
  return (list?.resources ?? []).some((r) => r.name === kind.plural);
}

/** Waits until `check` returns a value (not undefined); `what` says what for the timeout's error. */
async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | string>): Promise<T> {
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
  for (;;) {
    const result = await check();
    if (typeof result !== 'string') return result;
    if (Date.now() > deadline) throw new MigrateError(`timed out waiting for ${what}: ${result}`);
    await sleep(POLL_MS);
  }
}

export async function migrate(io: MigrateIo, ref: ResourceRef, options: MigrateOptions): Promise<number> {
  const { client, namespace, out } = io;
  const from = ref.group;
  const to = otherGroup(from);
  const fromName = displayName(ref);
  const toName = displayName({ group: to, name: ref.name });
  const cmPath = resourcePath(resources.configMaps, { namespace, name: checkpointName(ref.name) });

  if (!(await served(client, from))) {
    throw new MigrateError(`${ref.resource} is not served by this cluster (is everynode's CRD installed?)`);
  }
  const targetInstalled = await served(client, to);
  let source = await getOrUndefined<AnyDaemonSet>(client, dsPath(from, namespace, ref.name));
  let target = targetInstalled
    ? await getOrUndefined<AnyDaemonSet>(client, dsPath(to, namespace, ref.name))
    : undefined;
  const checkpoint = await getOrUndefined<V1ConfigMap>(client, cmPath);
  const saved = checkpoint?.data?.[CHECKPOINT_KEY];
  const savedSource = saved ? (JSON.parse(saved) as AnyDaemonSet) : undefined;
  const savedPods = checkpoint?.data?.['pods.json']
    ? (JSON.parse(checkpoint.data['pods.json']) as PodRecord[])
    : undefined;

  // ---- (a) what is there, and may it be done ----
  if (!source && !savedSource) {
    if (target) {
      // Nothing of the source left and no checkpoint: migrated already. Say so once everything is adopted.
      const summary = await waitAdopted(io, target, undefined, options.timeoutMs);
      out(`${fromName} already migrated to ${toName}: ${summary}`);
      return 0;
    }
    throw new ApiError(404, 'NotFound', `${ref.resource} "${ref.name}" not found`, undefined);
  }
  if (savedSource && source && source.metadata?.uid !== savedSource.metadata?.uid) {
    throw new MigrateError(
      `${fromName} was recreated since an earlier migrate started (ConfigMap ${checkpointName(ref.name)} holds the previous one): delete that ConfigMap to start afresh`,
    );
  }
  const live = source && !source.metadata?.deletionTimestamp ? source : undefined;
  let pods: PodRecord[] = savedPods ?? [];
  if (live) {
    const selected = await selectedObjects(io, live);
    const { refusals, desired } = preflight({
      source: live,
      pods: selected.pods,
      revisions: selected.revisions,
      target,
      targetInstalled,
      force: options.force,
    });
    // With the target already there (and the same spec) while the source still runs, each would claim
    // the nodes: that is not a state migrate leaves behind, so it is not one it continues from.
    if (target && refusals.length === 0) {
      refusals.push(`${toName} already exists while ${fromName} still runs: delete one of them first`);
    }
    if (refusals.length > 0 || !desired) {
      throw new MigrateError(`cannot migrate ${fromName} to ${toName}:\n  ${refusals.join('\n  ')}`);
    }
    const owned = selected.pods.filter(
      (p) => isControlledBy(p, live.metadata?.uid) && !p.metadata?.deletionTimestamp,
    );
    pods = owned.map((p) => ({ name: p.metadata?.name ?? '', uid: p.metadata?.uid ?? '', node: podNode(p) }));
    const revisions = selected.revisions.filter((r) => isControlledBy(r, live.metadata?.uid));
    if (options.dryRun) {
      await client
        .request('POST', dsPath(to, namespace), { query: { dryRun: 'All' }, body: desired })
        .then((created) => {
          const diff = firstDifference(desired.spec, (created as AnyDaemonSet).spec, 'spec');
          if (diff !== undefined) {
            throw new MigrateError(`the API server would store a different ${diff} for ${toName}`);
          }
        });
      out(`${fromName} can be migrated to ${toName} (dry run, nothing changed):`);
      out(
        `  delete ${fromName} with propagationPolicy Orphan: ${pods.length} pods and ${revisions.length} ControllerRevisions stay`,
      );
      if (to === 'everynode.dev') {
        const unlabelled = owned.filter((p) => p.metadata?.labels?.[MANAGED_LABEL] !== MANAGED_LABEL_VALUE);
        out(`  label ${unlabelled.length} pods ${MANAGED_LABEL}=${MANAGED_LABEL_VALUE}`);
      }
      out(`  create ${toName} with the same spec (the API server accepted it in a dry run)`);
      out(`  wait until ${toName} has adopted every pod and ControllerRevision`);
      return 0;
    }
    // ---- (b) keep the source, then delete it, orphaning its pods and revisions ----
    await writeCheckpoint(io, cmPath, ref.name, live, pods, checkpoint);
    try {
      await client.delete(dsPath(from, namespace, ref.name), {
        uid: live.metadata?.uid,
        propagationPolicy: 'Orphan',
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    out(
      `${fromName} deleted with propagationPolicy Orphan; waiting for its pods and revisions to be released`,
    );
  } else if (options.dryRun) {
    out(`${fromName}: an earlier migrate to ${toName} is under way; run without --dry-run to finish it`);
    return 0;
  } else if (source && !checkpoint) {
    // Being deleted by someone else (or by an earlier run that stopped before its checkpoint was read back).
    await writeCheckpoint(io, cmPath, ref.name, source, pods, undefined);
  }
  const sourceObj = (live ?? source ?? savedSource)!;
  const sourceUid = sourceObj.metadata?.uid;

  // Wait until the source is gone and the garbage collector has orphaned everything it owned.
  await waitUntil(`${fromName} to be deleted and its dependents orphaned`, options.timeoutMs, async () => {
    source = await getOrUndefined<AnyDaemonSet>(client, dsPath(from, namespace, ref.name));
    if (source && source.metadata?.uid === sourceUid) return `${fromName} still exists`;
    const selected = await selectedObjects(io, sourceObj);
    const still = [...selected.pods, ...selected.revisions].filter((o) => refersTo(o, sourceUid));
    return still.length > 0
      ? `${still.map((o) => o.metadata?.name ?? '').join(', ')} still carry its owner reference`
      : true;
  });

  // ---- (c) to everynode.dev: the pods carry the label the controller's informer selects on ----
  target = await getOrUndefined<AnyDaemonSet>(client, dsPath(to, namespace, ref.name));
  if (to === 'everynode.dev' && !target) await relabel(io, sourceObj, options.timeoutMs);

  // ---- (d) the target ----
  const built = targetObject(sourceObj, options.force);
  if ('error' in built) throw new MigrateError(`cannot create ${toName}: ${built.error}`);
  if (!target) {
    try {
      target = await client.create<AnyDaemonSet>(dsPath(to, namespace), built.object);
      out(`${toName} created`);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      target = await client.get<AnyDaemonSet>(dsPath(to, namespace, ref.name));
    }
  }
  const diff = firstDifference(built.object.spec, target.spec, 'spec');
  if (diff !== undefined) {
    throw new MigrateError(
      `${toName} exists with a different spec (${diff}); the source object is kept in ConfigMap ${checkpointName(ref.name)} (key ${CHECKPOINT_KEY})`,
    );
  }

  // ---- (e) adopted ----
  const summary = await waitAdopted(io, target, pods, options.timeoutMs);
  try {
    await client.delete(cmPath);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  out(`${fromName} migrated to ${toName}: ${summary}`);
  return 0;
}

/** The pods and ControllerRevisions in the namespace that the object's selector selects. */
async function selectedObjects(
  io: MigrateIo,
  ds: AnyDaemonSet,
): Promise<{ pods: V1Pod[]; revisions: V1ControllerRevision[]; resourceVersion?: string }> {
  const selector = ds.spec?.selector;
  if (!selector || (!selector.matchLabels && !selector.matchExpressions)) {
    throw new MigrateError(`${ds.metadata?.name ?? ''} has no selector`);
  }
  const labelSelector = selectorString(selector);
  const pods = await io.client.list<V1Pod>(resourcePath(resources.pods, { namespace: io.namespace }), {
    labelSelector,
  });
  const revisions = await io.client.list<V1ControllerRevision>(
    resourcePath(resources.controllerRevisions, { namespace: io.namespace }),
    { labelSelector },
  );
  return { pods: pods.items, revisions: revisions.items, resourceVersion: pods.metadata?.resourceVersion };
}

async function writeCheckpoint(
  io: MigrateIo,
  path: string,
  name: string,
  source: AnyDaemonSet,
  pods: PodRecord[],
  existing: V1ConfigMap | undefined,
): Promise<V1ConfigMap> {
  const body: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: checkpointName(name), namespace: io.namespace, labels: { [CHECKPOINT_LABEL]: name } },
    data: { [CHECKPOINT_KEY]: JSON.stringify(source), 'pods.json': JSON.stringify(pods) },
  };
  if (existing) {
    body.metadata!.resourceVersion = existing.metadata?.resourceVersion;
    return io.client.replace<V1ConfigMap>(path, body);
  }
  return io.client.create<V1ConfigMap>(resourcePath(resources.configMaps, { namespace: io.namespace }), body);
}

/**
 * Step (c): label (and annotate with their node) the orphaned pods that lack everynode's managed label,
 * and return once a watch opened before the first patch has seen every one of them labelled, plus
 * RELABEL_GRACE_MS (see there why).
 */
async function relabel(io: MigrateIo, source: AnyDaemonSet, timeoutMs: number): Promise<void> {
  const { pods, resourceVersion } = await selectedObjects(io, source);
  const todo = pods.filter(
    (p) =>
      !p.metadata?.deletionTimestamp &&
      controllerRefOf(p) === undefined &&
      (p.metadata?.labels?.[MANAGED_LABEL] !== MANAGED_LABEL_VALUE ||
        p.metadata?.annotations?.[TARGET_NODE_ANNOTATION] === undefined),
  );
  if (todo.length === 0) return;
  const waiting = new Set(todo.map((p) => p.metadata?.uid ?? ''));
  const stop = new AbortController();
  const timer = timeoutMs > 0 ? setTimeout(() => stop.abort(), timeoutMs) : undefined;
  const events = io.client.watch<V1Pod>(
    resourcePath(resources.pods, { namespace: io.namespace }),
    {
      labelSelector: `${selectorString(source.spec!.selector)},${MANAGED_LABEL}=${MANAGED_LABEL_VALUE}`,
      resourceVersion,
    },
    stop.signal,
  );
  // The watch starts at the resourceVersion of the list the pods were read from, before any patch: it
  // replays every change since, so it sees each relabel even if its connection opens after a patch.
  const first = events.next();
  const seen = (async () => {
    let next: Promise<IteratorResult<WatchEvent<V1Pod>, void>> = first;
    for (;;) {
      const result = await next;
      const done = result.done === true;
      const value = result.value as WatchEvent<V1Pod>;
      if (done)
        throw new MigrateError('the pod watch ended before every relabel was seen; run migrate again');
      if (value.type === 'ADDED' || value.type === 'MODIFIED')
        waiting.delete(value.object.metadata?.uid ?? '');
      if (waiting.size === 0) return;
      next = events.next();
    }
  })();
  seen.catch(() => undefined);
  try {
    for (const pod of todo) {
      const path = resourcePath(resources.pods, { namespace: io.namespace, name: pod.metadata?.name });
      const node = podNode(pod);
      await io.client.patch(path, 'merge', {
        metadata: {
          labels: { [MANAGED_LABEL]: MANAGED_LABEL_VALUE },
          ...(node ? { annotations: { [TARGET_NODE_ANNOTATION]: node } } : {}),
        },
      });
    }
    io.out(`labelled ${todo.length} pods ${MANAGED_LABEL}=${MANAGED_LABEL_VALUE}`);
    try {
      await seen;
    } catch (err) {
      if (stop.signal.aborted) throw new MigrateError('timed out waiting for the relabelled pods to be seen');
      throw err;
    }
  } finally {
    if (timer) clearTimeout(timer);
    stop.abort();
    await events.return(undefined).catch(() => undefined);
  }
  await sleep(RELABEL_GRACE_MS);
}

/** Step (e): waits until the target controls every selected pod and revision; returns the summary. */
async function waitAdopted(
  io: MigrateIo,
  target: AnyDaemonSet,
  before: readonly PodRecord[] | undefined,
  timeoutMs: number,
): Promise<string> {
  const uid = target.metadata?.uid;
  const name = displayName({ group: groupOfTarget(target), name: target.metadata?.name ?? '' });
  const { pods, revisions } = await waitUntil(
    `${name} to adopt its pods and revisions`,
    timeoutMs,
    async () => {
      const selected = await selectedObjects(io, target);
      const live = selected.pods.filter((p) => !p.metadata?.deletionTimestamp);
      const missing = [...notAdopted(live, uid), ...notAdopted(selected.revisions, uid)];
      return missing.length > 0
        ? `not adopted yet: ${missing.join(', ')}`
        : { pods: live, revisions: selected.revisions };
    },
  );
  const uids = new Set(pods.map((p) => p.metadata?.uid));
  const kept = before?.filter((p) => uids.has(p.uid)) ?? [];
  const lines = [
    `${pods.length} pods and ${revisions.length} ControllerRevisions adopted` +
      (before ? `; ${kept.length} of ${before.length} pods kept (same UIDs)` : ''),
  ];
  for (const p of [...pods].sort((a, b) => podNode(a).localeCompare(podNode(b)))) {
    const was = before?.some((b) => b.uid === p.metadata?.uid);
    lines.push(
      `  pod ${p.metadata?.name ?? ''} on ${podNode(p) || '<none>'}: uid ${p.metadata?.uid ?? ''}${before && !was ? ' (new)' : ''}`,
    );
  }
  return lines.join('\n');
}

const groupOfTarget = (ds: AnyDaemonSet): ResourceGroup =>
  (ds.apiVersion ?? '').startsWith('apps/') ? 'apps' : 'everynode.dev';
