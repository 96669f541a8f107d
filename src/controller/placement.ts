// Which nodes a DaemonSet's pod belongs on: upstream NodeShouldRunDaemonPod,
// with the pieces of k8s.io/component-helpers it relies on (required node
// affinity matching, taint toleration) and the label-selector parsing rules of
// k8s.io/apimachinery/pkg/labels that decide which affinity terms are valid.
import type {
  V1DaemonSet,
  V1Node,
  V1NodeSelectorRequirement,
  V1NodeSelectorTerm,
  V1PodSpec,
  V1Taint,
  V1Toleration,
} from '@kubernetes/client-node';
import { daemonPodTolerations, type NetworkUnavailableMode } from '../contract/daemon-pod.ts';

export interface Placement {
  /** A pod should be created on the node if it has none. */
  shouldRun: boolean;
  /** A pod already on the node may stay. */
  shouldContinueRunning: boolean;
}

/**
 * Upstream NodeShouldRunDaemonPod. Simulates the daemon pod (template spec plus
 * the daemon tolerations, with the same `--network-unavailable` rule as the
 * pods created and the webhook) on the node: template nodeName, nodeSelector and
 * required node affinity must match, else (false, false); an untolerated
 * NoSchedule/NoExecute taint makes shouldRun false, and only an untolerated
 * NoExecute taint also ends shouldContinueRunning. Resources, host ports, pod
 * affinity and node readiness are deliberately not checked (the scheduler and
 * the kubelet handle them; a pod that does not fit stays Pending).
 */
export function nodeShouldRunDaemonPod(
  node: V1Node,
  ds: V1DaemonSet,
  networkUnavailable: NetworkUnavailableMode = 'hostNetwork',
): Placement {
  const spec: V1PodSpec = ds.spec?.template?.spec ?? ({} as V1PodSpec);
  const nodeName = node.metadata?.name ?? '';
  if (spec.nodeName && spec.nodeName !== nodeName) return { shouldRun: false, shouldContinueRunning: false };
  if (!requiredNodeAffinityMatches(spec, node)) return { shouldRun: false, shouldContinueRunning: false };

  const taints = node.spec?.taints ?? [];
  if (taints.length === 0) return { shouldRun: true, shouldContinueRunning: true };
  const tolerations = tolerationsOf(spec, networkUnavailable);
  const fitsTaints =
    findUntoleratedTaint(
      taints,
      tolerations,
      (t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute',
    ) === undefined;
  if (fitsTaints) return { shouldRun: true, shouldContinueRunning: true };
  const noExecuteUntolerated = findUntoleratedTaint(taints, tolerations, (t) => t.effect === 'NoExecute');
  return { shouldRun: false, shouldContinueRunning: noExecuteUntolerated === undefined };
}

/**
 * The daemon tolerations of a template, computed once per template object and mode: a sync asks
 * for every node, and the informer's template object stays the same until the DaemonSet changes.
 */
const tolerationsMemo = new WeakMap<V1PodSpec, Map<NetworkUnavailableMode, V1Toleration[]>>();
function tolerationsOf(spec: V1PodSpec, mode: NetworkUnavailableMode): V1Toleration[] {
  let byMode = tolerationsMemo.get(spec);
  if (!byMode) tolerationsMemo.set(spec, (byMode = new Map<NetworkUnavailableMode, V1Toleration[]>()));
  let tolerations = byMode.get(mode);
  if (!tolerations) byMode.set(mode, (tolerations = daemonPodTolerations(spec, mode)));
  return tolerations;
}

// ---- taints ----------------------------------------------------------------

/**
 * v1.Toleration.ToleratesTaint: a set effect must equal the taint's, a set key
 * must equal the taint's (an empty key with Exists tolerates every taint); the
 * operator Exists ignores the value, Equal (the default) compares it. Other
 * operators (the alpha Gt/Lt, off by default upstream) tolerate nothing.
 */
export function toleratesTaint(toleration: V1Toleration, taint: V1Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  switch (toleration.operator ?? '') {
    case '':
    case 'Equal':
      return (toleration.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

/** v1helper.FindMatchingUntoleratedTaint: the first taint passing `filter` that no toleration tolerates. */
export function findUntoleratedTaint(
  taints: readonly V1Taint[],
  tolerations: readonly V1Toleration[],
  filter: (taint: V1Taint) => boolean,
): V1Taint | undefined {
  return taints.find((taint) => filter(taint) && !tolerations.some((tol) => toleratesTaint(tol, taint)));
}

// ---- required node affinity --------------------------------------------------

/**
 * nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): spec.nodeSelector (every
 * key=value present) AND, when set, the required node affinity.
 */
export function requiredNodeAffinityMatches(spec: V1PodSpec, node: V1Node): boolean {
  const labels = node.metadata?.labels ?? {};
  for (const [key, value] of Object.entries(spec.nodeSelector ?? {})) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  }
  const required = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return nodeSelectorTermsMatch(required.nodeSelectorTerms ?? [], node);
}

/**
 * LazyErrorNodeSelector.Match: the terms are ORed. A term with neither
 * matchExpressions nor matchFields selects nothing and is skipped, so an empty
 * term list matches no node. A term that fails to parse is skipped too (upstream
 * ignores those errors for backwards compatibility).
 */
export function nodeSelectorTermsMatch(terms: readonly V1NodeSelectorTerm[], node: V1Node): boolean {
  const labels = node.metadata?.labels ?? {};
  const name = node.metadata?.name ?? '';
  return terms.some((term) => {
    const expressions = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    if (expressions.length === 0 && fields.length === 0) return false;
    if (!expressions.every(isValidLabelRequirement) || !fields.every(isValidFieldRequirement)) return false;
    if (!expressions.every((r) => labelRequirementMatches(r, labels))) return false;
    // The only node field is metadata.name, and upstream skips field requirements for a nameless node.
    if (name !== '' && !fields.every((r) => fieldRequirementMatches(r, name))) return false;
    return true;
  });
}

/** labels.Requirement.Matches for the node selector operators. */
function labelRequirementMatches(r: V1NodeSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(value ?? '');
    case 'NotIn':
      return !has || !values.includes(value ?? '');
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has) return false;
      const actual = parseGoInt64(value ?? '');
      const bound = parseGoInt64(values[0] ?? '');
      if (actual === undefined || bound === undefined) return false;
      return r.operator === 'Gt' ? actual > bound : actual < bound;
    }
    default:
      return false;
  }
}

/** fields.OneTermEqualSelector / OneTermNotEqualSelector over the node's only field, metadata.name. */
function fieldRequirementMatches(r: V1NodeSelectorRequirement, nodeName: string): boolean {
  const actual = r.key === 'metadata.name' ? nodeName : '';
  const wanted = r.values?.[0] ?? '';
  return r.operator === 'In' ? actual === wanted : actual !== wanted;
}

/** nodeSelectorRequirementsAsFieldSelector: In or NotIn with exactly one value. */
function isValidFieldRequirement(r: V1NodeSelectorRequirement): boolean {
  return (r.operator === 'In' || r.operator === 'NotIn') && r.values?.length === 1;
}

/** labels.NewRequirement's checks: a qualified-name key, value counts per operator, label-value syntax. */
function isValidLabelRequirement(r: V1NodeSelectorRequirement): boolean {
  if (!isQualifiedName(r.key)) return false;
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) return false;
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length !== 0) return false;
      break;
    case 'Gt':
    case 'Lt':
      if (values.length !== 1 || parseGoInt64(values[0] ?? '') === undefined) return false;
      break;
    default:
      return false;
  }
  return values.every(isValidLabelValue);
}

const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** validation.IsQualifiedName: `[prefix/]name`, prefix a DNS-1123 subdomain (≤ 253), name ≤ 63. */
function isQualifiedName(key: string): boolean {
  const parts = key.split('/');
  let name = key;
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    if (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) return false;
    name = parts[1] ?? '';
  } else if (parts.length !== 1) {
    return false;
  }
  return name.length > 0 && name.length <= 63 && QUALIFIED_NAME_PART.test(name);
}

/** validation.IsValidLabelValue: ≤ 63 characters of the label-value syntax (may be empty). */
const isValidLabelValue = (v: string): boolean => v.length <= 63 && LABEL_VALUE.test(v);

/** strconv.ParseInt(s, 10, 64). */
function parseGoInt64(s: string): bigint | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n > 0x7fffffffffffffffn || n < -0x8000000000000000n ? undefined : n;
}
