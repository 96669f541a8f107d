// The one place the `kubectl everynode` plugin turns a resource argument into a
// kind and a name: `ds/NAME`, `daemonset/NAME`, `daemonsets.apps/NAME` (or the
// same as two words, `ds NAME`, as kubectl accepts). everynode's own CRD kind
// will be added here; its spelling is recognised already and answered as not
// supported yet. Pure.

export interface ResourceRef {
  /** The kind the plugin acts on; a CRD kind will join it. */
  kind: 'DaemonSet';
  group: 'apps';
  /** kubectl's resource.group spelling, for messages and for the kubectl it runs: `daemonsets.apps`. */
  resource: 'daemonsets.apps';
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
  'daemonset.everynode.dev',
  'daemonsets.everynode.dev',
  'everynodedaemonset',
  'everynodedaemonsets',
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
  if (EVERYNODE_SPELLINGS.has(lower)) {
    return { error: `${type} is not supported yet: only apps/v1 DaemonSets (ds/NAME)` };
  }
  if (!DAEMONSET_SPELLINGS.has(lower)) {
    return {
      error: `the server doesn't have a resource type "${type}" that kubectl everynode handles: use ds/NAME (daemonset, daemonsets, daemonsets.apps)`,
    };
  }
  if (name === '') return { error: `resource name may not be empty in "${first}"` };
  if (!NAME.test(name) || name.length > 253) {
    return { error: `invalid resource name "${name}": must be a lowercase RFC 1123 subdomain` };
  }
  return { kind: 'DaemonSet', group: 'apps', resource: 'daemonsets.apps', name };
}

export const isResourceError = (r: ResourceRef | { error: string }): r is { error: string } => 'error' in r;

/** kubectl's `TYPE/NAME` for output lines: `daemonset.apps/NAME`. */
export const displayName = (ref: ResourceRef): string => `daemonset.apps/${ref.name}`;
