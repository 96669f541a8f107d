#!/usr/bin/env node
// The `kubectl everynode` plugin process (bin/kubectl-everynode, or the npm
// package's `kubectl-everynode` bin): parses the command line (cli.ts), loads
// the kubeconfig like kubectl, and runs the command: `rollout status` watches
// the DaemonSet and prints what rollout-status.ts decides; pause / resume /
// promote send the patches rollout-edit.ts plans; history / undo run kubectl's
// own for apps/v1 and history.ts's for an everynode.dev DaemonSet; migrate is
// migrate-run.ts. Errors are printed kubectl's way (`Error from server
// (NotFound): …`, `error: …`) with exit code 1.
import '../lib/node-version.ts';
import { spawn } from 'node:child_process';
import {
  KubeConfig,
  type V1ControllerRevision,
  type V1DaemonSet,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { everynodeVersion } from '../lib/version.ts';
import { labelsToSelectorString } from '../machinery/label-selector.ts';
import { ApiError, isGone, KubeClient, resourcePath, resources, type WatchEvent } from '../machinery/kube.ts';
import { wireTime } from '../machinery/time.ts';
import { parseCommandLine, PROGRAM, UsageError, type Command, type GlobalOptions } from './cli.ts';
import { historyText, planUndo } from './history.ts';
import { migrate, MigrateError } from './migrate-run.ts';
import { ownerKindOf, type ResourceRef } from './resource.ts';
import { planPause, planPromote, planResume, type EditPlan } from './rollout-edit.ts';
import { currentRevision, rolloutStatus, wideTable, type CurrentRevision } from './rollout-status.ts';

/** A failure to report as `error: <message>` (exit 1). */
class CommandError extends Error {
  override name = 'CommandError';
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

const out = (line: string) => process.stdout.write(`${line}\n`);

/**
 * The kubeconfig as kubectl finds it: --kubeconfig, else $KUBECONFIG (merged), else
 * ~/.kube/config, else the in-cluster service account (client-node's loadFromDefault).
 * Unlike src/machinery/kube.ts loadKubeConfig (for the controller, which prefers in-cluster),
 * a kubeconfig wins when both exist, as in kubectl.
 */
function loadKubeConfig(global: GlobalOptions): { kc: KubeConfig; namespace: string } {
  const kc = new KubeConfig();
  if (global.kubeconfig) kc.loadFromFile(global.kubeconfig);
  else kc.loadFromDefault();
  if (global.context !== undefined) {
    if (!kc.getContextObject(global.context))
      throw new CommandError(`context "${global.context}" does not exist`);
    kc.setCurrentContext(global.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new CommandError(
      'no cluster in the kubeconfig: set --kubeconfig, $KUBECONFIG or --context (kubectl config view shows it)',
    );
  }
  const namespace = global.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return { kc, namespace };
}

interface Target {
  client: KubeClient;
  namespace: string;
  ref: ResourceRef;
}

function connect(global: GlobalOptions, ref: ResourceRef): Target {
  const { kc, namespace } = loadKubeConfig(global);
  const client = new KubeClient(kc, {
    qps: 50,
    burst: 100,
    userAgent: `kubectl-everynode/${everynodeVersion}`,
  });
  return { client, namespace, ref };
}

/** The REST resource of the reference's kind: apps/v1 or everynode.dev/v1alpha1 daemonsets. */
const dsResource = (ref: ResourceRef) => {
  const kind = ownerKindOf(ref);
  return { group: kind.group, version: kind.version, plural: kind.plural };
};

const dsPath = (t: Target, subresource?: string) =>
  resourcePath(dsResource(t.ref), { namespace: t.namespace, name: t.ref.name, subresource });

const readDaemonSet = (t: Target) => t.client.get<V1DaemonSet>(dsPath(t));

/** The DaemonSet's own objects of a kind: listed by its matchLabels, kept when it is their controller. */
async function ownedBy<
  T extends { metadata?: { ownerReferences?: { uid: string; controller?: boolean }[] } },
>(t: Target, ds: V1DaemonSet, path: string): Promise<T[]> {
  const labelSelector = labelsToSelectorString(ds.spec?.selector?.matchLabels ?? {});
  const list = await t.client.list<T>(path, labelSelector ? { labelSelector } : {});
  return list.items.filter((o) =>
    (o.metadata?.ownerReferences ?? []).some((r) => r.controller && r.uid === ds.metadata?.uid),
  );
}

async function revisionOf(t: Target, ds: V1DaemonSet): Promise<CurrentRevision | undefined> {
  const revisions = await ownedBy<V1ControllerRevision>(
    t,
    ds,
    resourcePath(resources.controllerRevisions, { namespace: t.namespace }),
  );
  return currentRevision(ds, revisions);
}

async function printWide(t: Target, ds: V1DaemonSet, revision: CurrentRevision | undefined): Promise<void> {
  const pods = await ownedBy<V1Pod>(t, ds, resourcePath(resources.pods, { namespace: t.namespace }));
  let nodes: V1Node[] = [];
  try {
    nodes = (await t.client.list<V1Node>(resourcePath(resources.nodes))).items;
  } catch (err) {
    // Without the right to list nodes, the table still shows every node that has a pod.
    if (!(err instanceof ApiError && err.code === 403)) throw err;
  }
  out('');
  out(wideTable({ ds, pods, nodes, revision }));
}

// ---- rollout status ---------------------------------------------------------------------------

async function rolloutStatusCommand(
  t: Target,
  options: { watch: boolean; timeoutMs: number; wide: boolean },
): Promise<number> {
  const stop = new AbortController();
  const timer =
    options.timeoutMs > 0 ? setTimeout(() => stop.abort(new Error('timeout')), options.timeoutMs) : undefined;
  let lastLine = '';
  let lastDs: V1DaemonSet | undefined;
  let lastRevision: CurrentRevision | undefined;
  const say = (line: string) => {
    if (line !== lastLine) out(line);
    lastLine = line;
  };
  /** One evaluation; a number is the exit code (the wait is over). */
  const evaluate = async (ds: V1DaemonSet): Promise<number | undefined> => {
    lastDs = ds;
    const hasConditions = (ds.status?.conditions ?? []).length > 0;
    lastRevision = hasConditions || options.wide ? await revisionOf(t, ds) : undefined;
    const result = rolloutStatus(ds, lastRevision?.name);
    if (result.state === 'error') {
      if (options.wide) await printWide(t, ds, lastRevision);
      throw new CommandError(result.message);
    }
    say(result.line);
    if (result.state === 'done' || !options.watch) {
      if (options.wide) await printWide(t, ds, lastRevision);
      return 0;
    }
    return undefined;
  };
  try {
    for (;;) {
      const ds = await readDaemonSet(t);
      const code = await evaluate(ds);
      if (code !== undefined) return code;
      // Like kubectl's UntilWithSync: watch this one object; when the watch ends, read it again.
      const events = t.client.watch<V1DaemonSet>(
        resourcePath(dsResource(t.ref), { namespace: t.namespace }),
        {
          fieldSelector: `metadata.name=${t.ref.name}`,
          resourceVersion: ds.metadata?.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: 300,
        },
        stop.signal,
      );
      try {
        for await (const event of events as AsyncIterable<WatchEvent<V1DaemonSet>>) {
          if (event.type === 'ERROR') {
            const status = event.object as { code?: number; reason?: string; message?: string };
            if (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone') break;
            throw new ApiError(
              status.code ?? 500,
              status.reason ?? '',
              status.message ?? 'watch error',
              status,
            );
          }
          if (event.type === 'DELETED') throw new CommandError('object has been deleted');
          if (event.type === 'BOOKMARK') continue;
          const done = await evaluate(event.object);
          if (done !== undefined) return done;
        }
      } catch (err) {
        // A watch that expired (410) or lost its connection: read the object again, as a reflector does.
        if (stop.signal.aborted || err instanceof CommandError || (err instanceof ApiError && !isGone(err))) {
          throw err;
        }
        await sleep(1000, stop.signal);
      }
    }
  } catch (err) {
    if (stop.signal.aborted) {
      if (options.wide && lastDs) await printWide(t, lastDs, lastRevision);
      throw new CommandError('timed out waiting for the condition');
    }
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
    stop.abort();
  }
}

// ---- pause / resume / promote -------------------------------------------------------------------

async function apply(t: Target, plan: EditPlan): Promise<number> {
  for (const w of plan.warnings) process.stderr.write(`Warning: ${w}\n`);
  if (plan.patch) await t.client.patch(dsPath(t), 'merge', plan.patch);
  if (plan.statusPatch) {
    await t.client.patch(dsPath(t, 'status'), plan.statusPatchType ?? 'strategic', plan.statusPatch);
  }
  out(plan.line);
  return 0;
}

/**
 * resume: for an everynode.dev DaemonSet the status patch replaces the whole conditions list, guarded
 * by the resourceVersion read; when the controller wrote the status in between (409 Conflict), read
 * again and plan again.
 */
async function resume(t: Target): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const ds = await readDaemonSet(t);
    const needsRevision = ds.status?.conditions?.some((c) => c.type === 'RolloutAutoPaused');
    const revision = needsRevision ? await revisionOf(t, ds) : undefined;
    const plan = planResume(ds, wireTime(Date.now()), revision?.name);
    try {
      return await apply(t, plan);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409) || attempt >= 4) throw err;
    }
  }
}

// ---- history / undo of an everynode.dev DaemonSet -------------------------------------------------

async function revisionsOf(t: Target, ds: V1DaemonSet): Promise<V1ControllerRevision[]> {
  return ownedBy<V1ControllerRevision>(
    t,
    ds,
    resourcePath(resources.controllerRevisions, { namespace: t.namespace }),
  );
}

async function history(t: Target, revision: number): Promise<number> {
  const ds = await readDaemonSet(t);
  const result = historyText(ds, await revisionsOf(t, ds), revision);
  if ('error' in result) throw new CommandError(result.error);
  process.stdout.write(result.text);
  return 0;
}

async function undo(t: Target, toRevision: number, dryRun: 'none' | 'client' | 'server'): Promise<number> {
  const ds = await readDaemonSet(t);
  const plan = planUndo(ds, await revisionsOf(t, ds), toRevision, dryRun);
  if ('error' in plan) throw new CommandError(plan.error);
  for (const w of plan.warnings) process.stderr.write(`${w}\n`);
  if (plan.patch) {
    try {
      await t.client.request('PATCH', dsPath(t), {
        body: plan.patch,
        contentType: 'application/json-patch+json',
        query: dryRun === 'server' ? { dryRun: 'All' } : undefined,
      });
    } catch (err) {
      if (err instanceof ApiError) {
        throw new CommandError(`failed restoring revision ${toRevision}: ${errorText(err)}`);
      }
      throw err;
    }
  }
  out(plan.line);
  return 0;
}

// ---- history / undo: kubectl's own ------------------------------------------------------------

function runKubectl(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', [...args], { stdio: 'inherit' });
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new CommandError(
              `kubectl not found on PATH: "${PROGRAM} rollout ${args[1] ?? ''}" runs kubectl's own`,
            )
          : err,
      ),
    );
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

// ---- main ---------------------------------------------------------------------------------------

async function run(command: Command): Promise<number> {
  switch (command.kind) {
    case 'help':
      process.stdout.write(command.text);
      return 0;
    case 'version':
      out(`kubectl-everynode ${everynodeVersion}`);
      return 0;
    case 'kubectl':
      return runKubectl(command.args);
    default:
      break;
  }
  const t = connect(command.global, command.ref);
  try {
    switch (command.kind) {
      case 'status':
        return await rolloutStatusCommand(t, command);
      case 'pause':
        return await apply(t, planPause(await readDaemonSet(t)));
      case 'resume':
        return await resume(t);
      case 'promote':
        return await apply(t, planPromote(await readDaemonSet(t), command.partition));
      case 'history':
        return await history(t, command.revision);
      case 'undo':
        return await undo(t, command.toRevision, command.dryRun);
      case 'migrate':
        return await migrate({ client: t.client, namespace: t.namespace, out }, t.ref, command);
    }
  } finally {
    await t.client.close();
  }
}

/** kubectl's wording: `Error from server (Reason): message` for API errors, else `error: message`. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    return err.reason ? `Error from server (${err.reason}): ${err.message}` : `error: ${err.message}`;
  }
  if (err instanceof MigrateError || err instanceof CommandError) return `error: ${err.message}`;
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `error: ${err.message}${cause}`;
  }
  return `error: ${String(err)}`;
}

async function main(argv: readonly string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommandLine(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message}\nSee '${err.helpCommand} --help' for usage.\n`);
    return 1;
  }
  try {
    return await run(command);
  } catch (err) {
    process.stderr.write(`${errorText(err)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
