// The `kubectl everynode` command line: argv → the command to run, or the help
// text to print, or a usage error; and every help text. kubectl's conventions:
// flags anywhere (`-n ns`, `--namespace=ns`, `--watch=false`), `TYPE/NAME` or
// `TYPE NAME`, `--help`/`-h` at every level, usage errors exit 1 with a pointer
// to the help. Parsing is node:util parseArgs (tokens), wording is ours. Pure.
// history / undo of an apps/v1 DaemonSet run kubectl's own; of an everynode.dev
// DaemonSet the plugin's (kubectl has no history viewer for custom resources).
import { parseArgs } from 'node:util';
import { parseDuration } from '../tls/duration.ts';
import { isResourceError, parseResource, type ResourceRef } from './resource.ts';
import { partitionProblem } from './rollout-edit.ts';

export const PROGRAM = 'kubectl everynode';

export interface GlobalOptions {
  namespace: string | undefined;
  kubeconfig: string | undefined;
  context: string | undefined;
}

export type Command =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | {
      kind: 'status';
      ref: ResourceRef;
      global: GlobalOptions;
      watch: boolean;
      timeoutMs: number;
      wide: boolean;
    }
  | { kind: 'pause' | 'resume'; ref: ResourceRef; global: GlobalOptions }
  | { kind: 'promote'; ref: ResourceRef; global: GlobalOptions; partition: string | undefined }
  /** history / undo of an apps/v1 DaemonSet: run kubectl's own with these arguments (after `kubectl`). */
  | { kind: 'kubectl'; ref: ResourceRef; global: GlobalOptions; args: string[] }
  /** history of an everynode.dev DaemonSet; revision 0 is the table. */
  | { kind: 'history'; ref: ResourceRef; global: GlobalOptions; revision: number }
  /** undo of an everynode.dev DaemonSet; toRevision 0 is the previous revision. */
  | {
      kind: 'undo';
      ref: ResourceRef;
      global: GlobalOptions;
      toRevision: number;
      dryRun: 'none' | 'client' | 'server';
    }
  | {
      kind: 'migrate';
      ref: ResourceRef;
      global: GlobalOptions;
      dryRun: boolean;
      force: boolean;
      timeoutMs: number;
    };

/** A bad command line: `message`, then where to read the help. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly helpCommand: string;
  constructor(message: string, helpCommand: string) {
    super(message);
    this.helpCommand = helpCommand;
  }
}

const GLOBAL_FLAGS = `Global flags:
  -n, --namespace string    The namespace of the DaemonSet (default: the context's namespace, else "default")
      --context string      The kubeconfig context to use
      --kubeconfig string   Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
  -h, --help                Show help for the command
`;

const TOP_HELP = `kubectl everynode controls everynode's rollouts of DaemonSets: partitions,
node selectors, pauses and waves (the rollout.everynode.dev/ annotations).

Usage:
  kubectl everynode rollout SUBCOMMAND (TYPE/NAME | TYPE NAME) [flags]
  kubectl everynode migrate (TYPE/NAME | TYPE NAME) [--to KIND] [flags]
  kubectl everynode version

TYPE/NAME is ds/NAME (an apps/v1 DaemonSet) or evds/NAME (everynode's own
daemonsets.everynode.dev kind, CRD mode).

Commands:
  rollout     Manage the rollout of a DaemonSet (status, pause, resume, promote, history, undo)
  migrate     Move a DaemonSet between apps/v1 and everynode.dev without restarting its pods
  version     Print the plugin's version

${GLOBAL_FLAGS}
Use "kubectl everynode rollout --help" for the rollout subcommands.
`;

const ROLLOUT_HELP = `Manage the rollout of a DaemonSet. TYPE/NAME is ds/NAME (also daemonset/NAME,
daemonsets/NAME, daemonsets.apps/NAME) or, for everynode's own kind (CRD mode),
evds/NAME (also daemonset.everynode.dev/NAME, daemonsets.everynode.dev/NAME); for
evds the rollout settings are spec.rollout instead of the annotations.

Usage:
  kubectl everynode rollout SUBCOMMAND (TYPE/NAME | TYPE NAME) [flags]

Subcommands:
  status      Wait for the rollout to finish (understands partitions, pauses, waves)
  pause       Pause the rollout (annotation rollout.everynode.dev/paused=true)
  resume      Resume a paused or auto-paused rollout
  promote     Lift the partition and node selector, or set a new partition
  history     View rollout history (kubectl rollout history)
  undo        Roll back to a previous revision (kubectl rollout undo)

Examples:
  kubectl everynode rollout status ds/node-agent -o wide
  kubectl everynode rollout promote ds/node-agent --partition=25%

${GLOBAL_FLAGS}`;

const SUBCOMMAND_HELP: Record<string, string> = {
  status: `Wait for a DaemonSet's rollout to finish, like kubectl rollout status.

It waits until the controller has observed the latest spec, then prints progress
lines until every pod the rollout may update is updated and available. With a
partition or node selector it finishes once the nodes it may update are done and
says how many nodes keep the old revision. A paused rollout ends the wait with
exit code 0 and a line saying it is paused. A missed progress deadline, an
auto-pause or a held rollout ends it with exit code 1 and the condition's message.

Usage:
  kubectl everynode rollout status (TYPE/NAME | TYPE NAME) [flags]

Examples:
  kubectl everynode rollout status ds/node-agent
  kubectl everynode rollout status ds/node-agent --timeout=5m -o wide

Flags:
  -w, --watch=true         Watch the status until it is done; --watch=false prints it once and exits 0
      --timeout duration   How long to wait (e.g. 30s, 5m, 1h); 0 waits forever (default 0)
  -o, --output wide        After the last line, print a table of every node: NODE, POD, STATUS,
                           REVISION, READY, UPDATED and, with waves, WAVE

${GLOBAL_FLAGS}`,
  pause: `Pause the rollout of a DaemonSet: sets rollout.everynode.dev/paused=true. No old pod
is replaced until it is resumed; nodes without a pod still get one.

Usage:
  kubectl everynode rollout pause (TYPE/NAME | TYPE NAME) [flags]

Examples:
  kubectl everynode rollout pause ds/node-agent

${GLOBAL_FLAGS}`,
  resume: `Resume the rollout of a DaemonSet: removes rollout.everynode.dev/paused and, if the
rollout paused itself (condition RolloutAutoPaused=True), marks that condition
False/Resumed so the controller goes on with the same revision.

Usage:
  kubectl everynode rollout resume (TYPE/NAME | TYPE NAME) [flags]

Examples:
  kubectl everynode rollout resume ds/node-agent

${GLOBAL_FLAGS}`,
  promote: `Promote a partial rollout. Without flags it removes rollout.everynode.dev/partition and
rollout.everynode.dev/node-selector, so the rollout continues to every node. With
--partition it sets the partition instead (the node selector stays).

Usage:
  kubectl everynode rollout promote (TYPE/NAME | TYPE NAME) [--partition=N|N%] [flags]

Examples:
  kubectl everynode rollout promote ds/node-agent
  kubectl everynode rollout promote ds/node-agent --partition=1

Flags:
      --partition string   Nodes that keep the old revision: a number ("3") or a percentage of
                           the desired nodes from 0% to 100% ("25%")

${GLOBAL_FLAGS}`,
  history: `View the rollout history of a DaemonSet: runs kubectl rollout history (the kubectl
found on PATH) with the same resource and flags. For evds/NAME it prints the same
table (REVISION, CHANGE-CAUSE) from the ControllerRevisions the object controls.

Usage:
  kubectl everynode rollout history (TYPE/NAME | TYPE NAME) [--revision=N] [-o FORMAT] [flags]

Examples:
  kubectl everynode rollout history ds/node-agent
  kubectl everynode rollout history ds/node-agent --revision=2

Flags:
      --revision int    Show the details of this revision, including its pod template
  -o, --output string   Output format (json, yaml, name, ...), as kubectl's (ds only)

${GLOBAL_FLAGS}`,
  undo: `Roll a DaemonSet back to a previous revision: runs kubectl rollout undo (the kubectl
found on PATH) with the same resource and flags. For evds/NAME it replaces
spec.template with the revision's template, as kubectl does for apps/v1.

Usage:
  kubectl everynode rollout undo (TYPE/NAME | TYPE NAME) [--to-revision=N] [flags]

Examples:
  kubectl everynode rollout undo ds/node-agent
  kubectl everynode rollout undo ds/node-agent --to-revision=1

Flags:
      --to-revision int   The revision to roll back to (default 0: the previous one)
      --dry-run string    none, client or server, as kubectl's
  -o, --output string     Output format, as kubectl's (ds only)

${GLOBAL_FLAGS}`,
};

const MIGRATE_HELP = `Move a DaemonSet between kinds without restarting its pods: ds/NAME (apps/v1)
becomes evds/NAME (daemonsets.everynode.dev, for everynode's CRD mode), and
evds/NAME --to apps/v1 goes back. The pods and ControllerRevisions are orphaned
(the source is deleted with propagationPolicy Orphan) and adopted by the new
object; with the template unchanged no pod is deleted or recreated.

It refuses, with the reason, while a rollout is in progress, when the target
kind is not installed, when the target exists with a different spec, or (to
apps/v1) when spec.rollout settings would be dropped (unless --force). An
interrupted migrate continues when run again.

Usage:
  kubectl everynode migrate (TYPE/NAME | TYPE NAME) [--to KIND] [flags]

Examples:
  kubectl everynode migrate ds/node-agent --dry-run
  kubectl everynode migrate ds/node-agent -n monitoring
  kubectl everynode migrate evds/node-agent --to apps/v1

Flags:
      --to string          The kind to migrate to: everynode.dev/v1alpha1 (for ds/NAME, the default)
                           or apps/v1 (for evds/NAME, the default)
      --dry-run            Check everything and say what would be done; change nothing
      --force              To apps/v1: drop the spec.rollout settings apps/v1 cannot hold
      --timeout duration   Bound of each wait (orphaning, relabelling, adoption) (default 5m); 0 waits forever

${GLOBAL_FLAGS}`;

export const helpText = (path: readonly string[]): string =>
  path.length === 0
    ? TOP_HELP
    : path[0] === 'migrate'
      ? MIGRATE_HELP
      : path.length === 1
        ? ROLLOUT_HELP
        : (SUBCOMMAND_HELP[path[1]!] ?? ROLLOUT_HELP);

type FlagName =
  | 'namespace'
  | 'kubeconfig'
  | 'context'
  | 'help'
  | 'watch'
  | 'timeout'
  | 'output'
  | 'partition'
  | 'revision'
  | 'to-revision'
  | 'dry-run'
  | 'to'
  | 'force';

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  watch: { type: 'boolean', short: 'w' },
  timeout: { type: 'string' },
  output: { type: 'string', short: 'o' },
  partition: { type: 'string' },
  revision: { type: 'string' },
  'to-revision': { type: 'string' },
  'dry-run': { type: 'string' },
  to: { type: 'string' },
  force: { type: 'boolean' },
} as const satisfies Record<FlagName, { type: 'string' | 'boolean'; short?: string }>;

const BOOLEAN_FLAGS: ReadonlySet<string> = new Set(['help', 'watch', 'force']);
const DRY_RUN_VALUES = new Set(['none', 'client', 'server']);
const BOOLEAN_WORDS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false };

const VERB_FLAGS: Record<string, readonly FlagName[]> = {
  status: ['watch', 'timeout', 'output'],
  pause: [],
  resume: [],
  promote: ['partition'],
  history: ['revision', 'output'],
  undo: ['to-revision', 'dry-run', 'output'],
};
const GLOBAL: readonly FlagName[] = ['namespace', 'kubeconfig', 'context', 'help'];

/** Parses the plugin's argv (without node and the script). Throws UsageError. */
export function parseCommandLine(argv: readonly string[]): Command {
  // parseArgs treats booleans as valueless; kubectl (pflag) also takes `--watch=false`.
  const inline = new Map<string, boolean>();
  const args: string[] = [];
  for (const [i, arg] of argv.entries()) {
    // A bare --dry-run (migrate's switch; kubectl's undo takes none|client|server) means client.
    if (arg === '--dry-run' && !DRY_RUN_VALUES.has(argv[i + 1] ?? '')) {
      args.push('--dry-run=client');
      continue;
    }
    const m = /^--([^=]+)=(.*)$/s.exec(arg);
    if (m && BOOLEAN_FLAGS.has(m[1]!)) {
      const v = BOOLEAN_WORDS[m[2]!.toLowerCase()];
      if (v === undefined) {
        throw new UsageError(`invalid argument "${m[2]}" for "--${m[1]}" flag: want true or false`, PROGRAM);
      }
      inline.set(m[1]!, v);
    } else args.push(arg);
  }
  const { tokens } = parseArgs({
    args,
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const positionals: string[] = [];
  const given = new Map<string, string | boolean>(inline);
  const rawNames = new Map<string, string>();
  let unknown: string | undefined;
  let missing: string | undefined;
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    else if (t.kind === 'option') {
      if (!(t.name in OPTIONS)) unknown ??= t.rawName;
      else if (BOOLEAN_FLAGS.has(t.name)) given.set(t.name, true);
      else if (t.value === undefined) missing ??= t.rawName;
      else given.set(t.name, t.value);
      rawNames.set(t.name, t.rawName);
    }
  }

  const [command, verb, ...rest] = positionals;
  const path = command === undefined ? [] : verb === undefined ? [command] : [command, verb];
  const helpCommand = `${PROGRAM}${path.length ? ` ${path.join(' ')}` : ''}`;
  const fail = (message: string): never => {
    throw new UsageError(message, helpCommand);
  };

  if (command === undefined) return { kind: 'help', text: TOP_HELP };
  if (command === 'version')
    return given.get('help') ? { kind: 'help', text: TOP_HELP } : { kind: 'version' };
  if (command === 'migrate') return parseMigrate(positionals.slice(1), given, rawNames, unknown, missing);
  if (command !== 'rollout') {
    throw new UsageError(`unknown command "${command}" for "${PROGRAM}"`, PROGRAM);
  }
  if (verb === undefined) return { kind: 'help', text: ROLLOUT_HELP };
  const allowed = VERB_FLAGS[verb];
  if (!allowed)
    throw new UsageError(`unknown command "${verb}" for "${PROGRAM} rollout"`, `${PROGRAM} rollout`);
  if (given.get('help') === true) return { kind: 'help', text: helpText(path) };
  const { ref, str, global } = commonArgs(
    { rest, given, rawNames, unknown, missing },
    allowed,
    `rollout ${verb}`,
    fail,
  );

  switch (verb) {
    case 'status': {
      const output = str('output');
      if (output !== undefined && output !== 'wide') {
        fail(`invalid argument "${output}" for "--output" flag: the only output format is "wide"`);
      }
      let timeoutMs = 0;
      const timeout = str('timeout');
      if (timeout !== undefined) {
        try {
          timeoutMs = parseDuration(timeout);
        } catch {
          fail(`invalid argument "${timeout}" for "--timeout" flag: want a duration such as 30s, 5m or 1h`);
        }
        if (timeoutMs < 0) fail(`invalid argument "${timeout}" for "--timeout" flag: may not be negative`);
      }
      return {
        kind: 'status',
        ref,
        global,
        watch: given.get('watch') !== false,
        timeoutMs,
        wide: output === 'wide',
      };
    }
    case 'pause':
    case 'resume':
      return { kind: verb, ref, global };
    case 'promote': {
      const partition = str('partition')?.trim();
      if (partition !== undefined) {
        const problem = partitionProblem(partition);
        if (problem) fail(problem);
      }
      return { kind: 'promote', ref, global, partition };
    }
    default: {
      if (ref.group === 'everynode.dev') return everynodeHistoryOrUndo(verb, ref, global, str, fail);
      // history / undo: kubectl's own, with the same resource and flags.
      const args = ['rollout', verb, `${ref.resource}/${ref.name}`];
      if (global.namespace !== undefined) args.push(`--namespace=${global.namespace}`);
      if (global.context !== undefined) args.push(`--context=${global.context}`);
      if (global.kubeconfig !== undefined) args.push(`--kubeconfig=${global.kubeconfig}`);
      for (const name of allowed) {
        const v = str(name);
        if (v === undefined) continue;
        if ((name === 'revision' || name === 'to-revision') && !/^\d+$/.test(v)) {
          fail(`invalid argument "${v}" for "--${name}" flag: want a revision number`);
        }
        args.push(`--${name}=${v}`);
      }
      return { kind: 'kubectl', ref, global, args };
    }
  }
}

type Str = (name: FlagName) => string | undefined;

/** history / undo of an everynode.dev DaemonSet: the plugin's own (kubectl has no viewer for a CR). */
function everynodeHistoryOrUndo(
  verb: string,
  ref: ResourceRef,
  global: GlobalOptions,
  str: Str,
  fail: (message: string) => never,
): Command {
  if (str('output') !== undefined) {
    fail(
      `--output is not supported for ${ref.resource} (kubectl get controllerrevisions -o … shows the revisions)`,
    );
  }
  const number = (name: 'revision' | 'to-revision'): number => {
    const v = str(name);
    if (v === undefined) return 0;
    if (!/^\d+$/.test(v)) fail(`invalid argument "${v}" for "--${name}" flag: want a revision number`);
    return Number(v);
  };
  if (verb === 'history') return { kind: 'history', ref, global, revision: number('revision') };
  const dryRun = str('dry-run') ?? 'none';
  if (dryRun !== 'none' && dryRun !== 'client' && dryRun !== 'server') {
    fail(`invalid argument "${dryRun}" for "--dry-run" flag: must be "none", "server", or "client"`);
  }
  return { kind: 'undo', ref, global, toRevision: number('to-revision'), dryRun: dryRun as 'none' };
}

const MIGRATE_FLAGS: readonly FlagName[] = ['to', 'dry-run', 'force', 'timeout'];
const KIND_SPELLINGS: Record<string, 'apps' | 'everynode.dev'> = {
  'apps/v1': 'apps',
  apps: 'apps',
  'daemonsets.apps': 'apps',
  'everynode.dev/v1alpha1': 'everynode.dev',
  'everynode.dev': 'everynode.dev',
  'daemonsets.everynode.dev': 'everynode.dev',
};

/**
 * What every command checks the same way: no unknown or incomplete flag, only the global flags and
 * the command's own, one resource argument, a non-empty namespace.
 */
function commonArgs(
  parsed: {
    rest: readonly string[];
    given: ReadonlyMap<string, string | boolean>;
    rawNames: ReadonlyMap<string, string>;
    unknown: string | undefined;
    missing: string | undefined;
  },
  allowed: readonly FlagName[],
  command: string,
  fail: (message: string) => never,
): { ref: ResourceRef; str: (name: FlagName) => string | undefined; global: GlobalOptions } {
  const { rest, given, rawNames, unknown, missing } = parsed;
  if (unknown) fail(`unknown flag: ${unknown}`);
  if (missing) fail(`flag needs an argument: ${missing}`);
  for (const name of given.keys()) {
    if (!GLOBAL.includes(name as FlagName) && !allowed.includes(name as FlagName)) {
      fail(`unknown flag: ${rawNames.get(name) ?? `--${name}`} (not a flag of "${command}")`);
    }
  }
  const ref = parseResource(rest);
  if (isResourceError(ref)) return fail(ref.error);
  const str = (name: FlagName) => {
    const v = given.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const global: GlobalOptions = {
    namespace: str('namespace'),
    kubeconfig: str('kubeconfig'),
    context: str('context'),
  };
  if (global.namespace === '') fail('a namespace may not be empty: -n NAMESPACE');
  return { ref, str, global };
}

function parseMigrate(
  rest: readonly string[],
  given: ReadonlyMap<string, string | boolean>,
  rawNames: ReadonlyMap<string, string>,
  unknown: string | undefined,
  missing: string | undefined,
): Command {
  const helpCommand = `${PROGRAM} migrate`;
  const fail = (message: string): never => {
    throw new UsageError(message, helpCommand);
  };
  if (given.get('help') === true) return { kind: 'help', text: MIGRATE_HELP };
  const { ref, str, global } = commonArgs(
    { rest, given, rawNames, unknown, missing },
    MIGRATE_FLAGS,
    'migrate',
    fail,
  );
  const to = str('to');
  if (to !== undefined) {
    const group = KIND_SPELLINGS[to.toLowerCase()];
    if (!group) fail(`invalid argument "${to}" for "--to" flag: want apps/v1 or everynode.dev/v1alpha1`);
    if (group === ref.group) {
      fail(
        `${ref.resource}/${ref.name} is already ${to}: migrate ds/NAME to everynode.dev/v1alpha1, or evds/NAME --to apps/v1`,
      );
    }
  }
  const dry = str('dry-run') ?? 'none';
  const DRY: Record<string, boolean> = { none: false, false: false, client: true, server: true, true: true };
  const dryRun = DRY[dry];
  if (dryRun === undefined) fail(`invalid argument "${dry}" for "--dry-run" flag: want true or false`);
  let timeoutMs = 5 * 60_000;
  const timeout = str('timeout');
  if (timeout !== undefined) {
    try {
      timeoutMs = parseDuration(timeout);
    } catch {
      fail(`invalid argument "${timeout}" for "--timeout" flag: want a duration such as 30s, 5m or 1h`);
    }
    if (timeoutMs < 0) fail(`invalid argument "${timeout}" for "--timeout" flag: may not be negative`);
  }
  return { kind: 'migrate', ref, global, dryRun: dryRun!, force: given.get('force') === true, timeoutMs };
}
