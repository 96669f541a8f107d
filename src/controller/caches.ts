// The informer caches the DaemonSet controller reads: DaemonSets, nodes, the
// pods everynode manages, ControllerRevisions, with the indexes its event
// handlers and snapshots look things up by.
//
// Memory: the pod informer watches only pods labelled everynode.dev/managed=true
// (every pod everynode creates carries it), so the cache grows with everynode's
// pods, not with every pod in the cluster. Consequence: orphan adoption only
// considers labelled pods; a matching pod created by someone else without the
// label is neither seen nor adopted.
//
// Node and pod objects are cached without what nothing here reads (informer transforms, as
// client-go's TransformFunc): metadata.managedFields (often half an object's size), a node's
// status beyond its conditions (a real node lists every image it holds), a pod's env, volumes,
// probes and the like. The controller never writes a node or a whole pod back, so nothing it
// sends could drop those fields.
import type { V1ControllerRevision, V1DaemonSet, V1Node, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  controllerRefOf,
  MANAGED_LABEL,
  MANAGED_LABEL_VALUE,
  type DaemonOwnerKind,
} from '../contract/daemon-pod.ts';
import { Informer, type KubeObject } from '../machinery/informer.ts';
import { resources, type KubeClient, type Resource } from '../machinery/kube.ts';

export interface InformerTuning {
  relistIntervalMs?: number;
  silenceTimeoutMs?: number;
}

export interface DaemonSetCaches {
  daemonSets: Informer<V1DaemonSet>;
  nodes: Informer<V1Node>;
  pods: Informer<V1Pod>;
  revisions: Informer<V1ControllerRevision>;
}

/** Index of objects by namespace. */
export const BY_NAMESPACE = 'namespace';
/** Index of objects by their controller's UID; objects without a controller are `orphan:<namespace>`. */
export const BY_CONTROLLER = 'controller';
export const orphansOf = (namespace: string): string => `orphan:${namespace}`;

const byNamespace = (o: KubeObject) => [o.metadata?.namespace ?? ''];
const byController = (o: KubeObject & Parameters<typeof controllerRefOf>[0]) => {
  const ref = controllerRefOf(o);
  return [ref ? (ref.uid ?? '') : orphansOf(o.metadata?.namespace ?? '')];
};

/** The object without metadata.managedFields (a shallow copy; the input is not changed). */
export function withoutManagedFields<T extends KubeObject>(obj: T): T {
  if (!obj.metadata || !('managedFields' in obj.metadata)) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata as Record<string, unknown>;
  return { ...obj, metadata };
}

/**
 * A node as the controller caches it: metadata without managedFields, the spec (taints,
 * unschedulable), and of the status only the conditions (the Ready condition: dead nodes in a
 * rollout). Placement reads labels, name, taints; nothing reads addresses, capacity, nodeInfo or
 * images.
 */
export function nodeForCache(node: V1Node): V1Node {
  const slim = withoutManagedFields(node);
  const conditions = slim.status?.conditions;
  return { ...slim, status: conditions ? { conditions } : {} };
}

/**
 * A pod as the controller caches it: metadata without managedFields; of the spec what the planner
 * reads (nodeName, affinity for the pinning, containers' names, images and resources, init
 * containers' names and images); of the status phase, conditions and container statuses. Env,
 * volumes, probes, tolerations and the like stay out of memory.
 */
export function podForCache(pod: V1Pod): V1Pod {
  const slim = withoutManagedFields(pod);
  const spec = slim.spec;
  const status = slim.status;
  const container = ({ name, image, resources }: { name: string; image?: string; resources?: unknown }) => ({
    name,
    ...(image !== undefined ? { image } : {}),
    ...(resources !== undefined ? { resources } : {}),
  });
  return {
    ...slim,
    ...(spec
      ? {
          spec: {
            ...(spec.nodeName !== undefined ? { nodeName: spec.nodeName } : {}),
            ...(spec.affinity !== undefined ? { affinity: spec.affinity } : {}),
            containers: (spec.containers ?? []).map(container),
            ...(spec.initContainers
              ? { initContainers: spec.initContainers.map(({ name, image }) => ({ name, image })) }
              : {}),
          } as V1Pod['spec'],
        }
      : {}),
    ...(status
      ? {
          status: {
            ...(status.phase !== undefined ? { phase: status.phase } : {}),
            ...(status.conditions ? { conditions: status.conditions } : {}),
            ...(status.containerStatuses ? { containerStatuses: status.containerStatuses } : {}),
            ...(status.initContainerStatuses ? { initContainerStatuses: status.initContainerStatuses } : {}),
          },
        }
      : {}),
  };
}

export function createCaches(options: {
  client: KubeClient;
  logger: Logger;
  registry?: Registry;
  informer?: InformerTuning;
  /** The DaemonSet kind to watch (apps/v1, or everynode.dev in CRD mode). */
  ownerKind?: DaemonOwnerKind;
}): DaemonSetCaches {
  const common = {
    client: options.client,
    logger: options.logger,
    registry: options.registry,
    ...options.informer,
  };
  const informer = <T extends KubeObject>(
    resource: Resource,
    more: { labelSelector?: string; transform?: (obj: T) => T } = {},
  ) => new Informer<T>({ ...common, resource, ...more });
  const caches: DaemonSetCaches = {
    daemonSets: informer<V1DaemonSet>(options.ownerKind ?? resources.daemonSets),
    nodes: informer<V1Node>(resources.nodes, { transform: nodeForCache }),
    pods: informer<V1Pod>(resources.pods, {
      labelSelector: `${MANAGED_LABEL}=${MANAGED_LABEL_VALUE}`,
      transform: podForCache,
    }),
    revisions: informer<V1ControllerRevision>(resources.controllerRevisions),
  };
  caches.daemonSets.addIndexer(BY_NAMESPACE, byNamespace);
  caches.pods.addIndexer(BY_NAMESPACE, byNamespace);
  caches.pods.addIndexer(BY_CONTROLLER, byController);
  caches.revisions.addIndexer(BY_NAMESPACE, byNamespace);
  caches.revisions.addIndexer(BY_CONTROLLER, byController);
  return caches;
}

export const allInformers = (c: DaemonSetCaches) => [c.daemonSets, c.nodes, c.pods, c.revisions] as const;
