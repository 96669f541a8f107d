// everynode's own guard (no upstream counterpart): the labels the controller
// forces onto every pod it creates (everynode.dev/managed=true,
// controller-revision-hash, pod-template-generation) must not decide whether
// the DaemonSet's selector matches its pods. A selector that needs another
// value would release every pod right after creating it, and the next sync
// would create another: an endless stream of orphans.
import type { V1DaemonSet, V1LabelSelector } from '@kubernetes/client-node';
import {
  CONTROLLER_REVISION_HASH_LABEL,
  MANAGED_LABEL,
  MANAGED_LABEL_VALUE,
  POD_TEMPLATE_GENERATION_LABEL,
  RESERVED_POD_LABELS,
} from '../contract/daemon-pod.ts';
import { labelSelectorMatches } from '../machinery/label-selector.ts';
import type { PlannedEvent } from './types.ts';

const RESERVED_LIST = RESERVED_POD_LABELS.join(', ');

/** The part of `selector` that constrains `key`. */
function requirementsOn(selector: V1LabelSelector, key: string): V1LabelSelector {
  const out: V1LabelSelector = {};
  const value = selector.matchLabels?.[key];
  if (value !== undefined) out.matchLabels = { [key]: value };
  const expressions = (selector.matchExpressions ?? []).filter((e) => e.key === key);
  if (expressions.length > 0) out.matchExpressions = expressions;
  return out;
}

const mentions = (selector: V1LabelSelector, key: string): boolean =>
  selector.matchLabels?.[key] !== undefined || (selector.matchExpressions ?? []).some((e) => e.key === key);

/**
 * Why the DaemonSet's spec.selector cannot select the pods everynode creates, or undefined.
 * everynode.dev/managed may be selected only as "true" (the value every pod gets); the revision
 * labels change with every template, so a selector on them would drop the pods at the next update.
 */
export function reservedSelectorProblem(ds: V1DaemonSet): string | undefined {
  const selector = ds.spec?.selector;
  if (!selector) return undefined;
  for (const key of [CONTROLLER_REVISION_HASH_LABEL, POD_TEMPLATE_GENERATION_LABEL]) {
    if (mentions(selector, key)) {
      return (
        `spec.selector uses the reserved label ${key}, which the controller sets to the pod's revision ` +
        `and changes with every template update; select the DaemonSet's pods by labels of your own ` +
        `(reserved labels: ${RESERVED_LIST})`
      );
    }
  }
  if (
    mentions(selector, MANAGED_LABEL) &&
    !labelSelectorMatches(requirementsOn(selector, MANAGED_LABEL), { [MANAGED_LABEL]: MANAGED_LABEL_VALUE })
  ) {
    return (
      `spec.selector requires the reserved label ${MANAGED_LABEL} to be other than "${MANAGED_LABEL_VALUE}", ` +
      `but the controller sets ${MANAGED_LABEL}=${MANAGED_LABEL_VALUE} on every pod it creates; remove it from ` +
      `the selector or select ${MANAGED_LABEL}: "${MANAGED_LABEL_VALUE}" (reserved labels: ${RESERVED_LIST})`
    );
  }
  return undefined;
}

/** Warnings for template labels the controller will overwrite on the pods it creates. */
export function reservedTemplateLabelWarnings(ds: V1DaemonSet): PlannedEvent[] {
  const labels = ds.spec?.template?.metadata?.labels ?? {};
  const events: PlannedEvent[] = [];
  for (const key of RESERVED_POD_LABELS) {
    const value = labels[key];
    if (value === undefined || (key === MANAGED_LABEL && value === MANAGED_LABEL_VALUE)) continue;
    const forced = key === MANAGED_LABEL ? `"${MANAGED_LABEL_VALUE}"` : "the pod's revision";
    events.push({
      type: 'Warning',
      reason: 'ReservedLabelOverwritten',
      message:
        `spec.template.metadata.labels[${key}]="${value}" is reserved: the controller sets it to ${forced} ` +
        `on every pod it creates; remove it from the template (reserved labels: ${RESERVED_LIST})`,
    });
  }
  return events;
}
