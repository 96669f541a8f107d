// The webhook's decision, as pure functions over wire JSON: is this pod ours,
// and which RFC 6902 operations pin it to its node. No I/O, so the unit tests
// and the benchmark drive exactly what production runs.
//
// The operations are built by hand rather than by diffing (rfc6902 createPatch):
// the mutation is fixed, hand-built ops are minimal (`add /spec/tolerations/-`)
// and cost microseconds. Their paths hold no map keys, so no RFC 6901 escaping
// (`~0`, `~1`) is ever needed.
import { isDeepStrictEqual } from 'node:util';
import type { V1Affinity, V1Pod, V1Toleration } from '@kubernetes/client-node';
import {
  TARGET_NODE_ANNOTATION,
  addOrUpdateTolerations,
  controllerRefOf,
  daemonTolerations,
  isDaemonOwner,
  pinToNode,
  sameToleration,
  type NetworkUnavailableMode,
} from '../contract/daemon-pod.ts';
// review.ts is pure as well (no I/O imports), so the decision stays free of I/O.
import { isObject } from './review.ts';

/** One RFC 6902 operation; only the kinds this webhook emits. */
export type JsonPatchOp = { op: 'add' | 'replace'; path: string; value: unknown };

export type MutationResult =
  /** Ours: allow with these operations (empty when the pod is already pinned). */
  | { kind: 'patch'; node: string; ops: JsonPatchOp[] }
  /** Ours, but the annotation cannot name a node: reject the pod. */
  | { kind: 'denied'; message: string }
  /** Not ours: allow unchanged. */
  | { kind: 'skip'; reason: string };

export interface MutateOptions {
  networkUnavailable: NetworkUnavailableMode;
}

/** The parts of an admission.k8s.io/v1 AdmissionRequest the decision reads. */
export interface PodAdmissionRequest {
  operation?: string;
  kind?: { group?: string; version?: string; kind?: string };
  subResource?: string;
  object?: unknown;
}

const MAX_DNS_SUBDOMAIN_LENGTH = 253;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `name` is not a valid node name (a DNS-1123 subdomain), or undefined when it is. */
export function nodeNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'must be a string';
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_DNS_SUBDOMAIN_LENGTH) {
    return `must be no more than ${MAX_DNS_SUBDOMAIN_LENGTH} characters (got ${name.length})`;
  }
  if (!DNS_SUBDOMAIN.test(name)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

const REQUIRED_PATH = '/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution';

/** Entry point for an AdmissionRequest: only Pod CREATEs (not subresources) are candidates. */
export function admitPod(request: PodAdmissionRequest, options: MutateOptions): MutationResult {
  if (request.operation !== 'CREATE')
    return { kind: 'skip', reason: `operation ${String(request.operation)}` };
  const k = request.kind;
  if (k?.kind !== 'Pod' || (k.group ?? '') !== '' || k.version !== 'v1' || request.subResource) {
    return { kind: 'skip', reason: 'not a pod' };
  }
  if (!isObject(request.object)) return { kind: 'skip', reason: 'no pod object' };
  return mutatePod(request.object, options);
}

/**
 * The decision for a pod being created. Ours = the controller owner reference is
 * a daemon owner and the target-node annotation is present. For ours, the
 * operations set the required node affinity to exactly the target node and add
 * or update the daemon tolerations; they never touch spec.nodeName. Applying them
 * and deciding again yields no operations.
 */
export function mutatePod(pod: V1Pod, options: MutateOptions): MutationResult {
  const owner = controllerRefOf(pod);
  if (!owner) return { kind: 'skip', reason: 'no controller' };
  if (!isDaemonOwner(owner))
    return { kind: 'skip', reason: `controller is ${owner.apiVersion} ${owner.kind}` };
  const annotations = pod.metadata?.annotations;
  if (!isObject(annotations) || !(TARGET_NODE_ANNOTATION in annotations)) {
    return { kind: 'skip', reason: 'no target-node annotation' };
  }
  const node: unknown = annotations[TARGET_NODE_ANNOTATION];
  const problem = nodeNameProblem(node);
  if (problem !== undefined) {
    return {
      kind: 'denied',
      message: `annotation ${TARGET_NODE_ANNOTATION}: ${JSON.stringify(node)} is not a valid node name: ${problem}`,
    };
  }
  return { kind: 'patch', node: node as string, ops: pinningOps(pod, node as string, options) };
}

function pinningOps(pod: V1Pod, node: string, options: MutateOptions): JsonPatchOp[] {
  const spec = pod.spec as unknown;
  if (!isObject(spec)) {
    // No spec at all (never from a real API server): create it whole.
    return [
      {
        op: 'add',
        path: '/spec',
        value: {
          affinity: pinToNode(undefined, node),
          tolerations: daemonTolerations(false, options.networkUnavailable),
        },
      },
    ];
  }
  const ops: JsonPatchOp[] = [];
  affinityOps(isObject(spec.affinity) ? spec.affinity : undefined, node, ops);
  tolerationOps(
    Array.isArray(spec.tolerations) ? (spec.tolerations as V1Toleration[]) : undefined,
    daemonTolerations(spec.hostNetwork === true, options.networkUnavailable),
    ops,
  );
  return ops;
}

/** Creates whichever parent is missing, or replaces the required node affinity when it differs. */
function affinityOps(affinity: V1Affinity | undefined, node: string, ops: JsonPatchOp[]): void {
  const pinned = pinToNode(affinity, node);
  const nodeAffinity = pinned.nodeAffinity!;
  const required = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
  if (affinity === undefined) {
    ops.push({ op: 'add', path: '/spec/affinity', value: pinned });
  } else if (!isObject(affinity.nodeAffinity)) {
    ops.push({ op: 'add', path: '/spec/affinity/nodeAffinity', value: nodeAffinity });
  } else {
    const current = affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    if (isDeepStrictEqual(current, required)) return;
    ops.push({ op: current === undefined ? 'add' : 'replace', path: REQUIRED_PATH, value: required });
  }
}

/**
 * Updated tolerations are replaced at their index and new ones appended, so
 * the user's other tolerations are never rewritten. Only when a user duplicate
 * of a daemon toleration has to go (positions shift) is the list replaced whole.
 */
function tolerationOps(
  existing: V1Toleration[] | undefined,
  daemon: V1Toleration[],
  ops: JsonPatchOp[],
): void {
  const wanted = addOrUpdateTolerations(existing, daemon);
  if (existing === undefined) {
    ops.push({ op: 'add', path: '/spec/tolerations', value: wanted });
    return;
  }
  const aligned =
    wanted.length >= existing.length &&
    existing.every((t, i) => isDeepStrictEqual(t, wanted[i]) || sameToleration(t, wanted[i]!));
  if (!aligned) {
    ops.push({ op: 'replace', path: '/spec/tolerations', value: wanted });
    return;
  }
  for (let i = 0; i < existing.length; i++) {
    if (!isDeepStrictEqual(existing[i], wanted[i]))
      ops.push({ op: 'replace', path: `/spec/tolerations/${i}`, value: wanted[i] });
  }
  for (let i = existing.length; i < wanted.length; i++)
    ops.push({ op: 'add', path: '/spec/tolerations/-', value: wanted[i] });
}
