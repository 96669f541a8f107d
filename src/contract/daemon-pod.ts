// The one contract between the controller and the webhook for daemon pods:
// which owner kinds make a pod a daemon pod, the owner reference the controller
// writes, the labels and annotation it reserves, the daemon toleration set and
// the node pinning, plus the upstream helpers both need
// (pkg/controller/daemon/util/daemonset_util.go). Both processes import these
// and nothing else decides them.
//
// Every object here is "wire JSON": what JSON.parse gives for the API server's
// response. The client-node V1* types describe the shape, but timestamps are
// RFC 3339 strings on the wire, so read them through `timeMillis`.
import type { V1Affinity, V1OwnerReference, V1Pod, V1PodSpec, V1Toleration } from '@kubernetes/client-node';

/** Annotation the controller sets on each pod it creates: the node the pod is for. */
export const TARGET_NODE_ANNOTATION = 'everynode.dev/target-node';
/** Label on every pod everynode manages; the webhook configuration's objectSelector matches it. */
export const MANAGED_LABEL = 'everynode.dev/managed';
export const MANAGED_LABEL_VALUE = 'true';

/** Labels upstream puts on daemon pods (apps/v1 DefaultDaemonSetUniqueLabelKey, DaemonSetTemplateGenerationKey). */
export const CONTROLLER_REVISION_HASH_LABEL = 'controller-revision-hash';
export const POD_TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

/**
 * Labels the controller sets on every pod it creates, whatever the template says. A selector that
 * needs another value for one of them can never select the controller's own pods.
 */
export const RESERVED_POD_LABELS: readonly string[] = [
  MANAGED_LABEL,
  CONTROLLER_REVISION_HASH_LABEL,
  POD_TEMPLATE_GENERATION_LABEL,
];

/** A kind whose pods are daemon pods: the API group/version/kind and its REST plural. */
export interface DaemonOwnerKind {
  group: string;
  version: string;
  kind: string;
  plural: string;
}

export const APPS_V1_DAEMONSET: DaemonOwnerKind = {
  group: 'apps',
  version: 'v1',
  kind: 'DaemonSet',
  plural: 'daemonsets',
};

/**
 * everynode's own DaemonSet (CRD mode, for clusters whose built-in DaemonSet controller cannot be
 * turned off): the apps/v1 spec field for field plus a typed `rollout` block. Short name `evds`.
 */
export const EVERYNODE_DAEMONSET: DaemonOwnerKind = {
  group: 'everynode.dev',
  version: 'v1alpha1',
  kind: 'DaemonSet',
  plural: 'daemonsets',
};
export const EVERYNODE_DAEMONSET_SHORT_NAME = 'evds';

/** Owner kinds whose pods are daemon pods. The one list both processes check. */
export const DAEMON_OWNER_KINDS: readonly DaemonOwnerKind[] = [APPS_V1_DAEMONSET, EVERYNODE_DAEMONSET];

export const apiVersionOf = (kind: DaemonOwnerKind): string =>
  kind.group === '' ? kind.version : `${kind.group}/${kind.version}`;

const groupOf = (apiVersion: string | undefined): string => {
  const v = apiVersion ?? '';
  const slash = v.indexOf('/');
  return slash < 0 ? '' : v.slice(0, slash);
};

/**
 * The daemon owner kind an owner reference names, by API group and kind (any version: the garbage
 * collector and upstream's resolveControllerRef ignore the version too), or undefined.
 */
export function daemonOwnerKindOf(
  ref: Pick<V1OwnerReference, 'apiVersion' | 'kind'> | undefined,
): DaemonOwnerKind | undefined {
  if (ref === undefined) return undefined;
  const group = groupOf(ref.apiVersion);
  return DAEMON_OWNER_KINDS.find((k) => k.kind === ref.kind && k.group === group);
}

/** Does the owner reference name a daemon owner kind? */
export const isDaemonOwner = (ref: Pick<V1OwnerReference, 'apiVersion' | 'kind'> | undefined): boolean =>
  daemonOwnerKindOf(ref) !== undefined;

/** Is `ref` a reference to this owner kind? */
export const refersToKind = (
  ref: Pick<V1OwnerReference, 'apiVersion' | 'kind'> | undefined,
  kind: DaemonOwnerKind,
): boolean => daemonOwnerKindOf(ref) === kind;

/** metav1.NewControllerRef: the controller owner reference the controller writes on its pods and revisions. */
export function daemonOwnerRef(
  kind: DaemonOwnerKind,
  owner: { metadata?: { name?: string; uid?: string } },
): V1OwnerReference {
  return {
    apiVersion: apiVersionOf(kind),
    kind: kind.kind,
    name: owner.metadata?.name ?? '',
    uid: owner.metadata?.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

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
 * The tolerations a daemon pod of `spec` carries: its own plus the daemon set, as
 * the controller's placement simulates them, the pods it creates carry them and the webhook adds them.
 */
export const daemonPodTolerations = (
  spec: V1PodSpec | undefined,
  mode: NetworkUnavailableMode,
): V1Toleration[] =>
  addOrUpdateTolerations(spec?.tolerations, daemonTolerations(spec?.hostNetwork === true, mode));

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
