// The rollout settings of either DaemonSet kind the plugin handles, read the way
// the controller reads them: an apps/v1 DaemonSet's rollout.everynode.dev/
// annotations, an everynode.dev DaemonSet's typed spec.rollout block (CRD mode:
// its annotations are ignored). Also how each is spelled back to the user. Pure.
import type { V1DaemonSet, V1DaemonSetSpec, V1LabelSelector } from '@kubernetes/client-node';
import {
  NODE_SELECTOR_ANNOTATION,
  PARTITION_ANNOTATION,
  parseRolloutSettings,
  rolloutSettingsFromSpec,
  type RolloutSettings,
  type RolloutSpec,
} from '../contract/rollout.ts';
import { groupOfObject, refOfObject, shortName } from './resource.ts';

/** A DaemonSet of either kind as served: apps/v1, or everynode.dev/v1alpha1 with spec.rollout. */
export type AnyDaemonSet = V1DaemonSet & { spec?: V1DaemonSetSpec & { rollout?: RolloutSpec } };

export interface ObjectRollout {
  settings: Partial<RolloutSettings>;
  /** The partition as the user wrote it (`3`, `25%`), when set. */
  partitionText?: string;
  /** The node selector as a selector string (`pool=canary`), when set. */
  nodeSelectorText?: string;
}

export const isEverynodeDaemonSet = (ds: AnyDaemonSet): boolean => groupOfObject(ds) === 'everynode.dev';

/** The rollout settings the controller honours for this object, with their spellings. */
export function rolloutOf(ds: AnyDaemonSet): ObjectRollout {
  if (isEverynodeDaemonSet(ds)) {
    const spec = ds.spec?.rollout;
    const { settings } = rolloutSettingsFromSpec(spec);
    const out: ObjectRollout = { settings };
    if (spec?.partition !== undefined) out.partitionText = String(spec.partition);
    if (spec?.nodeSelector !== undefined) out.nodeSelectorText = selectorString(spec.nodeSelector);
    return out;
  }
  const annotations = ds.metadata?.annotations ?? {};
  const { settings } = parseRolloutSettings(annotations);
  const out: ObjectRollout = { settings };
  const partition = annotations[PARTITION_ANNOTATION];
  if (partition !== undefined) out.partitionText = partition.trim();
  const selector = annotations[NODE_SELECTOR_ANNOTATION];
  if (selector !== undefined) out.nodeSelectorText = selector.trim();
  return out;
}

/**
 * A LabelSelector in labels.Parse syntax (metav1.FormatLabelSelector's forms): `k=v`, `k in (a,b)`,
 * `k notin (a)`, `k`, `!k`, joined by commas; `<none>` for the empty selector (which selects everything).
 */
export function selectorString(selector: V1LabelSelector): string {
  const terms: string[] = [];
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) terms.push(`${k}=${v}`);
  for (const e of selector.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') terms.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') terms.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') terms.push(e.key);
    else if (e.operator === 'DoesNotExist') terms.push(`!${e.key}`);
    else terms.push(`${e.key} ${e.operator} (${values})`);
  }
  return terms.length > 0 ? terms.join(',') : '<none>';
}

/** `ds/NAME` or `evds/NAME` for the hints the plugin prints. */
export const shortNameOf = (ds: AnyDaemonSet): string => shortName(refOfObject(ds));
