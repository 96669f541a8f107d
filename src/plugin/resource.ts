// The one place the `kubectl everynode` plugin turns a resource argument into a
// kind and a name: an apps/v1 DaemonSet (`ds/NAME`, `daemonset/NAME`,
// `daemonsets.apps/NAME`) or everynode's own everynode.dev/v1alpha1 DaemonSet
// (`evds/NAME`, `daemonset.everynode.dev/NAME`, `daemonsets.everynode.dev/NAME`),
// also as two words (`ds NAME`), as kubectl accepts. Pure.
import {
  APPS_V1_DAEMONSET,
  EVERYNODE_DAEMONSET,
  EVERYNODE_DAEMONSET_SHORT_NAME,
  type DaemonOwnerKind,
} from '../contract/daemon-pod.ts';

export type ResourceGroup = 'apps' | 'everynode.dev';

export interface ResourceRef {
  kind: 'DaemonSet';
  /** apps (apps/v1) or everynode.dev (everynode.dev/v1alpha1, CRD mode). */
  group: ResourceGroup;
  /** kubectl's resource.group spelling, for messages and for the kubectl it runs: `daemonsets.apps`. */
  resource: 'daemonsets.apps' | 'daemonsets.everynode.dev';
  name: string;
}

const DAEMONSET_SPELLINGS = new Set([
  'ds',
  'daemonset',
  'daemonsets',
  'ds.apps',
  'daemonset.apps',
  'daemonsets.apps',
  'daemonset.v1.apps',
  'daemonsets.v1.apps',
]);
const EVERYNODE_SPELLINGS = new Set([
  EVERYNODE_DAEMONSET_SHORT_NAME,
  `${EVERYNODE_DAEMONSET_SHORT_NAME}.everynode.dev`,
  'daemonset.everynode.dev',
  'daemonsets.everynode.dev',
  'daemonset.v1alpha1.everynode.dev',
  'daemonsets.v1alpha1.everynode.dev',
]);

/** kubectl's name rule for the resource names it sends (a DNS subdomain is what the API accepts for DaemonSets). */
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * Parses the positional arguments naming one resource: `TYPE/NAME` or `TYPE NAME`.
 * Returns the reference, or an error message for the user.
 */
export function parseResource(args: readonly string[]): ResourceRef | { error: string } {
  if (args.length === 0) return { error: 'required resource not specified' };
  let type: string;
  let name: string;
  const first = args[0]!;
  if (first.includes('/')) {
    if (args.length > 1) return { error: `only one resource is supported, got ${args.join(' ')}` };
    const slash = first.indexOf('/');
    type = first.slice(0, slash);
    name = first.slice(slash + 1);
  } else {
    if (args.length === 1) {
      return { error: `you must specify the resource as TYPE/NAME or TYPE NAME, e.g. ds/${first}` };
    }
    if (args.length > 2) return { error: `only one resource is supported, got ${args.join(' ')}` };
    type = first;
    name = args[1]!;
  }
  const lower = type.toLowerCase();
  const group: ResourceGroup | undefined = DAEMONSET_SPELLINGS.has(lower)
    ? 'apps'
    : EVERYNODE_SPELLINGS.has(lower)
      ? 'everynode.dev'
      : undefined;
  if (group === undefined) {
    return {
      error: `the server doesn't have a resource type "${type}" that kubectl everynode handles: use ds/NAME (daemonset, daemonsets, daemonsets.apps) or evds/NAME (daemonsets.everynode.dev)`,
    };
  }
  if (name === '') return { error: `resource name may not be empty in "${first}"` };
  if (!NAME.test(name) || name.length > 253) {
    return { error: `invalid resource name "${name}": must be a lowercase RFC 1123 subdomain` };
  }
  return { kind: 'DaemonSet', group, resource: `daemonsets.${group}`, name };
}

export const isResourceError = (r: ResourceRef | { error: string }): r is { error: string } => 'error' in r;

/** The owner kind of the contract the reference names. */
export const ownerKindOf = (ref: Pick<ResourceRef, 'group'>): DaemonOwnerKind =>
  ref.group === 'apps' ? APPS_V1_DAEMONSET : EVERYNODE_DAEMONSET;

/** kubectl's `TYPE/NAME` for output lines: `daemonset.apps/NAME`, `daemonset.everynode.dev/NAME`. */
export const displayName = (ref: Pick<ResourceRef, 'group' | 'name'>): string =>
  `daemonset.${ref.group}/${ref.name}`;

/** The short spelling for hints the plugin prints: `ds/NAME` or `evds/NAME`. */
export const shortName = (ref: Pick<ResourceRef, 'group' | 'name'>): string =>
  `${ref.group === 'apps' ? 'ds' : EVERYNODE_DAEMONSET_SHORT_NAME}/${ref.name}`;

/** The group a served object belongs to, from its apiVersion (absent: apps, as the plugin's tests build objects). */
export const groupOfObject = (obj: { apiVersion?: string }): ResourceGroup =>
  (obj.apiVersion ?? '').startsWith(`${EVERYNODE_DAEMONSET.group}/`) ? 'everynode.dev' : 'apps';

/** The reference of a served object (group from apiVersion, name from metadata). */
export const refOfObject = (obj: {
  apiVersion?: string;
  metadata?: { name?: string };
}): Pick<ResourceRef, 'group' | 'name'> => ({ group: groupOfObject(obj), name: obj.metadata?.name ?? '' });
