// The contract between the controller and the webhook for daemon pods, plus the
// upstream helpers both need (pkg/controller/daemon/util/daemonset_util.go).
//
// Every object here is "wire JSON": what JSON.parse gives for the API server's
// response. The client-node V1* types describe the shape, but timestamps are
// RFC 3339 strings on the wire, so read them through `timeMillis`.
import type { V1Affinity, V1OwnerReference, V1Pod, V1Toleration } from '@kubernetes/client-node';

/** Annotation the controller sets on each pod it creates: the node the pod is for. */
export const TARGET_NODE_ANNOTATION = 'everynode.dev/target-node';
/** Label on every pod everynode manages; the webhook configuration's objectSelector matches it. */
export const MANAGED_LABEL = 'everynode.dev/managed';
export const MANAGED_LABEL_VALUE = 'true';

/** Labels upstream puts on daemon pods (apps/v1 DefaultDaemonSetUniqueLabelKey, DaemonSetTemplateGenerationKey). */
export const CONTROLLER_REVISION_HASH_LABEL = 'controller-revision-hash';
export const POD_TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

/** Owner kinds whose pods are daemon pods. One place, so a CRD kind can be added later. */
export const DAEMON_OWNER_KINDS: ReadonlyArray<{ apiVersion: string; kind: string }> = [
  { apiVersion: 'apps/v1', kind: 'DaemonSet' },
];

export const isDaemonOwner = (ref: Pick<V1OwnerReference, 'apiVersion' | 'kind'>): boolean =>
  DAEMON_OWNER_KINDS.some((k) => k.kind === ref.kind && k.apiVersion === ref.apiVersion);

/** The owner reference with controller=true, if any (metav1.GetControllerOf). */
export const controllerRefOf = (obj: {
  metadata?: { ownerReferences?: V1OwnerReference[] };
}): V1OwnerReference | undefined => obj.metadata?.ownerReferences?.find((r) => r.controller === true);

/** When to add the network-unavailable toleration: upstream adds it only for hostNetwork pods. */
export type NetworkUnavailableMode = 'hostNetwork' | 'always' | 'never';

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_DISK_PRESSURE = 'node.kubernetes.io/disk-pressure';
export const TAINT_MEMORY_PRESSURE = 'node.kubernetes.io/memory-pressure';
export const TAINT_PID_PRESSURE = 'node.kubernetes.io/pid-pressure';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const TAINT_NETWORK_UNAVAILABLE = 'node.kubernetes.io/network-unavailable';

/** The daemon tolerations, in upstream's order, for a pod with the given hostNetwork setting. */
export function daemonTolerations(
  hostNetwork: boolean,
  mode: NetworkUnavailableMode = 'hostNetwork',
): V1Toleration[] {
  const t = (key: string, effect: 'NoExecute' | 'NoSchedule'): V1Toleration => ({
    key,
    operator: 'Exists',
    effect,
  });
  const list = [
    t(TAINT_NOT_READY, 'NoExecute'),
    t(TAINT_UNREACHABLE, 'NoExecute'),
    t(TAINT_DISK_PRESSURE, 'NoSchedule'),
    t(TAINT_MEMORY_PRESSURE, 'NoSchedule'),
    t(TAINT_PID_PRESSURE, 'NoSchedule'),
    t(TAINT_UNSCHEDULABLE, 'NoSchedule'),
  ];
  if (mode === 'always' || (mode === 'hostNetwork' && hostNetwork)) {
    list.push(t(TAINT_NETWORK_UNAVAILABLE, 'NoSchedule'));
  }
  return list;
}

/**
 * upstream v1helper.AddOrUpdateTolerationInPodSpec, applied for each daemon
 * toleration: the first toleration with the same key, operator, value and
 * effect is replaced in place (keeping its position); otherwise it is appended.
 * Later matches are dropped, so each added toleration appears exactly once
 * (upstream would keep such user duplicates). Returns a new array; the input
 * is not modified.
 */
export function addOrUpdateTolerations(
  existing: V1Toleration[] | undefined,
  add: V1Toleration[],
): V1Toleration[] {
  let out = [...(existing ?? [])];
  for (const tol of add) {
    const i = out.findIndex((o) => sameToleration(o, tol));
    if (i < 0) {
      out.push({ ...tol });
      continue;
    }
    out[i] = { ...tol };
    out = out.filter((o, j) => j <= i || !sameToleration(o, tol));
  }
  return out;
}

/** Upstream's MatchToleration: key, operator (default Equal), value and effect all equal. */
export function sameToleration(a: V1Toleration, b: V1Toleration): boolean {
  const op = (t: V1Toleration) => t.operator ?? 'Equal';
  return (
    (a.key ?? '') === (b.key ?? '') &&
    op(a) === op(b) &&
    (a.value ?? '') === (b.value ?? '') &&
    (a.effect ?? '') === (b.effect ?? '')
  );
}

/**
 * upstream ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity
 * becomes exactly one term matching metadata.name == node. User required terms
 * are replaced, preferred terms and pod (anti-)affinity kept. Returns a new object.
 */
export function pinToNode(affinity: V1Affinity | undefined, nodeName: string): V1Affinity {
  const term = {
    matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }],
  };
  return {
    ...(affinity ?? {}),
    nodeAffinity: {
      ...(affinity?.nodeAffinity ?? {}),
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [term] },
    },
  };
}

/**
 * upstream GetTargetNodeName: spec.nodeName, else the single value of the single
 * metadata.name matchFields term of the required node affinity. Undefined when
 * the pod is not pinned to exactly one node.
 */
export function pinnedNodeOf(pod: V1Pod): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const terms =
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!terms || terms.length !== 1) return undefined;
  const fields = terms[0]?.matchFields;
  if (!fields || fields.length !== 1) return undefined;
  const f = fields[0];
  if (f?.key !== 'metadata.name' || f.operator !== 'In' || f.values?.length !== 1) return undefined;
  return f.values[0];
}

/** Milliseconds since the epoch for a wire timestamp (string) or a Date; undefined when absent. */
export function timeMillis(t: string | Date | undefined | null): number | undefined {
  if (t === undefined || t === null) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}
