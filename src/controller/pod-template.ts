// The pod the controller POSTs for a node: upstream util.CreatePodTemplate +
// ReplaceDaemonSetPodNodeNameNodeAffinity + controller.GetPodFromTemplate, plus
// everynode's managed label and target-node annotation.
import type { V1DaemonSet, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import {
  APPS_V1_DAEMONSET,
  CONTROLLER_REVISION_HASH_LABEL,
  MANAGED_LABEL,
  MANAGED_LABEL_VALUE,
  POD_TEMPLATE_GENERATION_LABEL,
  TARGET_NODE_ANNOTATION,
  daemonOwnerRef,
  daemonPodTolerations,
  pinToNode,
  type DaemonOwnerKind,
  type NetworkUnavailableMode,
} from '../contract/daemon-pod.ts';

export interface NewPodOptions {
  ownerKind: DaemonOwnerKind;
  networkUnavailable: NetworkUnavailableMode;
}

const DEFAULT_NEW_POD_OPTIONS: NewPodOptions = {
  ownerKind: APPS_V1_DAEMONSET,
  networkUnavailable: 'hostNetwork',
};

/**
 * The pod to create on `nodeName`: generateName `<ds>-`; the template's labels
 * plus controller-revision-hash (when `hash` is set), pod-template-generation
 * (when the DaemonSet has a template generation) and the managed label; the
 * template's annotations plus the target-node annotation; the template's
 * finalizers; a controller owner reference. The spec is the template's with the
 * daemon tolerations added and the required node affinity replaced by the
 * single `metadata.name In [nodeName]` term, so the pod is pinned even if the
 * webhook is bypassed. spec.nodeName is never set (a template nodeName is
 * dropped: placement already restricted the DaemonSet to that node, and the
 * pinning affinity lets kube-scheduler do the binding).
 */
export function newPod(
  ds: V1DaemonSet,
  nodeName: string,
  hash: string,
  templateGeneration: string | undefined,
  options: NewPodOptions = DEFAULT_NEW_POD_OPTIONS,
): V1Pod {
  const template = structuredClone(ds.spec?.template ?? { metadata: {}, spec: { containers: [] } });
  const meta = template.metadata ?? {};
  const labels: Record<string, string> = { ...(meta.labels ?? {}) };
  if (templateGeneration !== undefined) labels[POD_TEMPLATE_GENERATION_LABEL] = templateGeneration;
  if (hash.length > 0) labels[CONTROLLER_REVISION_HASH_LABEL] = hash;
  labels[MANAGED_LABEL] = MANAGED_LABEL_VALUE;

  const spec: V1PodSpec = { ...(template.spec ?? { containers: [] }) };
  delete spec.nodeName;
  spec.tolerations = daemonPodTolerations(spec, options.networkUnavailable);
  spec.affinity = pinToNode(spec.affinity, nodeName);

  const metadata: V1Pod['metadata'] = {
    generateName: `${ds.metadata?.name ?? ''}-`,
    namespace: ds.metadata?.namespace,
    labels,
    annotations: { ...(meta.annotations ?? {}), [TARGET_NODE_ANNOTATION]: nodeName },
    ownerReferences: [daemonOwnerRef(options.ownerKind, ds)],
  };
  if (meta.finalizers && meta.finalizers.length > 0) metadata.finalizers = [...meta.finalizers];
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}
