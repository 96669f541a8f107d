// Grouping a DaemonSet's pods by the node they are for (upstream
// getNodesToDaemonPods), and everynode's check that each one is really pinned
// to that node.
import type { V1Pod } from '@kubernetes/client-node';
import { TARGET_NODE_ANNOTATION, pinnedNodeOf } from '../contract/daemon-pod.ts';
import { isTerminal, isTerminating } from './pods.ts';

export interface UnpinnedPod {
  pod: V1Pod;
  /** The node the pod was created for (its target-node annotation), if it says. */
  targetNode: string | undefined;
}

export interface DaemonPods {
  /** Pods per node: spec.nodeName, else the node their pinning affinity names. */
  byNode: Map<string, V1Pod[]>;
  /** Live, unbound pods not pinned to the node they were created for: the webhook was bypassed. */
  unpinned: UnpinnedPod[];
}

/**
 * A bound pod belongs to its spec.nodeName. An unbound pod belongs to the node
 * its required node affinity pins it to (upstream GetTargetNodeName), provided
 * that is the node its target-node annotation names (pods without the annotation,
 * e.g. created by the built-in controller before a migration, are taken at their
 * pinning). Any other unbound pod would let kube-scheduler pick a node, so it is
 * reported as unpinned instead of grouped: the planner deletes it and, since
 * its node then lacks a pod, creates a pinned replacement in the same plan.
 * Terminal pods that are already being deleted are left out, as upstream does
 * for everything but history cleanup; unpinned pods being deleted are ignored.
 */
export function groupDaemonPods(pods: readonly V1Pod[]): DaemonPods {
  const byNode = new Map<string, V1Pod[]>();
  const unpinned: UnpinnedPod[] = [];
  const add = (node: string, pod: V1Pod) => {
    const list = byNode.get(node);
    if (list) list.push(pod);
    else byNode.set(node, [pod]);
  };
  for (const pod of pods) {
    if (isTerminal(pod) && isTerminating(pod)) continue;
    const bound = pod.spec?.nodeName;
    if (bound) {
      add(bound, pod);
      continue;
    }
    const pinned = pinnedNodeOf(pod);
    const target = pod.metadata?.annotations?.[TARGET_NODE_ANNOTATION];
    if (pinned !== undefined && (target === undefined || target === pinned)) {
      add(pinned, pod);
    } else if (!isTerminating(pod)) {
      unpinned.push({ pod, targetNode: target });
    }
  }
  return { byNode, unpinned };
}
