// The `kubectl everynode` plugin end to end: the real bin/kubectl-everynode (as
// `make build` installs it) run as `kubectl everynode …` with bin/ first on
// PATH, against the e2e cluster with everynode running. Each test asserts what
// the plugin printed, its exit code, and the DaemonSet it left behind: pause /
// resume (also of an auto-pause), promote (and a refused --partition that
// changes nothing), history / undo against kubectl's own, rollout status on a
// plain, a paused and a partitioned rollout, `-o wide`, NotFound and --help.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { V1DaemonSet } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { e2eCluster } from '../harness/e2e.ts';
import { binDir, repoRoot } from '../harness/tools.ts';
import { lastLine, ok, runKubectl, type CliRun } from './support/plugin-cli.ts';
import { Everynode, podsOf, readDaemonSet, waitForDaemonPods, waitForStatus } from './support/everynode.ts';

const cluster = e2eCluster();
let namespace: string;
let everynode: Everynode;
let workers: string[];
const daemonSets: string[] = [];

const OLD_IMAGE = 'nginx:1.27';
const NEW_IMAGE = 'nginx:1.28';
const PAUSED = 'rollout.everynode.dev/paused';
const PARTITION = 'rollout.everynode.dev/partition';
const NODE_SELECTOR = 'rollout.everynode.dev/node-selector';
const AUTO_PAUSE = 'rollout.everynode.dev/auto-pause';

type Run = CliRun;
const run = (args: readonly string[]): Promise<Run> => runKubectl(cluster.kubeconfigPath, args, 150_000);
const everynodeCli = (...args: string[]) => run(['everynode', ...args, '-n', namespace]);
const kubectl = (...args: string[]) => run([...args, '-n', namespace]);

function nginx(name: string, annotations: Record<string, string> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace, labels: { app: name }, annotations },
    spec: {
      selector: { matchLabels: { app: name } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'nginx', image: OLD_IMAGE }] },
      },
    },
  };
}

/** Applies the DaemonSet and waits until every worker runs one available pod of it. */
async function converged(name: string, annotations: Record<string, string> = {}): Promise<void> {
  daemonSets.push(name);
  await cluster.applyManifest(nginx(name, annotations));
  await waitForDaemonPods(cluster, namespace, name, workers, { abortIf: everynode.failure });
  await waitForStatus(
    cluster,
    namespace,
    name,
    'every pod updated and available',
    (s) => s.updatedNumberScheduled === workers.length && s.numberAvailable === workers.length,
  );
}

const setImage = (name: string, image: string) =>
  kubectl('set', 'image', `ds/${name}`, `nginx=${image}`).then(ok);

const annotationsOf = async (name: string) =>
  (await readDaemonSet(cluster, namespace, name)).metadata?.annotations ?? {};

const imagesOfPods = async (name: string) =>
  (await podsOf(cluster, namespace, name)).map((p) => p.spec?.containers[0]?.image).sort();

const templateImage = (ds: V1DaemonSet) => ds.spec?.template.spec?.containers[0]?.image;

/** The rows of `-o wide`'s table (after the header), as column → value. */
function wideRows(stdout: string): Record<string, string>[] {
  const lines = stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('NODE '));
  expect(at, stdout).toBeGreaterThanOrEqual(0);
  const header = lines[at]!.split(/\s+/);
  return lines
    .slice(at + 1)
    .filter((l) => l.trim() !== '')
    .map((l) =>
      Object.fromEntries(
        l
          .trim()
          .split(/\s+/)
          .map((v, i) => [header[i]!, v]),
      ),
    );
}

beforeAll(async () => {
  const plugin = join(binDir, 'kubectl-everynode');
  const built = join(repoRoot, 'dist/plugin/main.js');
  if (!existsSync(plugin) || !existsSync(built)) {
    throw new Error(`${plugin} or ${built} is missing: run \`make build\` first`);
  }
  const src = join(repoRoot, 'src/plugin');
  const newest = Math.max(...readdirSync(src).map((f) => statSync(join(src, f)).mtimeMs));
  if (statSync(built).mtimeMs < newest)
    throw new Error(`${built} is older than ${src}: run \`make build\` first`);
  namespace = await cluster.createNamespace('plugin-');
  everynode = await Everynode.start(cluster, { namespaces: [namespace] });
  workers = await cluster.workerNames();
});

afterEach(async () => {
  for (const name of daemonSets.splice(0)) await kubectl('delete', 'ds', name, '--ignore-not-found');
});

afterAll(async () => {
  await everynode?.stop();
  if (namespace) await cluster.deleteNamespace(namespace);
});

describe('kubectl everynode', () => {
  it('--help works at every level', async () => {
    const top = ok(await run(['everynode', '--help']));
    expect(top.stdout).toContain('kubectl everynode rollout SUBCOMMAND');
    const rollout = ok(await run(['everynode', 'rollout', '--help']));
    for (const verb of ['status', 'pause', 'resume', 'promote', 'history', 'undo']) {
      expect(rollout.stdout).toContain(`  ${verb} `);
      expect(ok(await run(['everynode', 'rollout', verb, '--help'])).stdout).toContain(
        `kubectl everynode rollout ${verb} (TYPE/NAME | TYPE NAME)`,
      );
    }
    const bad = await run(['everynode', 'rollout', 'frobnicate']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown command "frobnicate"');
  });

  it('a missing DaemonSet exits 1 with the NotFound message', async () => {
    for (const verb of ['status', 'pause', 'resume', 'promote']) {
      const r = await everynodeCli('rollout', verb, 'ds/no-such-ds');
      expect(r.code, verb).toBe(1);
      expect(r.stderr.trim(), verb).toBe(
        'Error from server (NotFound): daemonsets.apps "no-such-ds" not found',
      );
    }
  });

  it('rollout status waits for a plain rolling update and -o wide lists every worker', async () => {
    await converged('plain');
    await setImage('plain', NEW_IMAGE);
    const r = ok(await everynodeCli('rollout', 'status', 'ds/plain', '--timeout=120s', '-o', 'wide'));
    expect(r.stdout).toContain('daemon set "plain" successfully rolled out');
    const ds = await readDaemonSet(cluster, namespace, 'plain');
    expect(ds.status?.updatedNumberScheduled).toBe(workers.length);
    expect(ds.status?.numberAvailable).toBe(workers.length);
    const rows = wideRows(r.stdout);
    expect(rows.map((row) => row.NODE).sort()).toEqual(workers);
    expect(rows.every((row) => row.UPDATED === 'true' && row.READY === '1/1')).toBe(true);
    const pods = await podsOf(cluster, namespace, 'plain');
    expect(rows.map((row) => row.POD).sort()).toEqual(pods.map((p) => p.metadata!.name!).sort());
  });

  it('pause and resume set and clear the annotation; status reports a paused rollout and exits 0', async () => {
    await converged('pausable');
    expect(ok(await everynodeCli('rollout', 'pause', 'ds/pausable')).stdout.trim()).toBe(
      'daemonset.apps/pausable paused',
    );
    expect((await annotationsOf('pausable'))[PAUSED]).toBe('true');
    expect(ok(await everynodeCli('rollout', 'pause', 'ds/pausable')).stdout.trim()).toBe(
      'daemonset.apps/pausable already paused',
    );

    await setImage('pausable', NEW_IMAGE);
    const paused = ok(await everynodeCli('rollout', 'status', 'ds/pausable', '--timeout=60s'));
    expect(lastLine(paused.stdout)).toBe(
      `daemon set "pausable" rollout is paused: 0 of ${workers.length} nodes updated; resume with: kubectl everynode rollout resume ds/pausable`,
    );
    expect(await imagesOfPods('pausable')).toEqual(workers.map(() => OLD_IMAGE));

    expect(ok(await everynodeCli('rollout', 'resume', 'ds/pausable')).stdout.trim()).toBe(
      'daemonset.apps/pausable resumed',
    );
    expect((await annotationsOf('pausable'))[PAUSED]).toBeUndefined();
    expect(ok(await everynodeCli('rollout', 'resume', 'ds/pausable')).stdout.trim()).toBe(
      'daemonset.apps/pausable already resumed',
    );
    const done = ok(await everynodeCli('rollout', 'status', 'ds/pausable', '--timeout=120s'));
    expect(lastLine(done.stdout)).toBe('daemon set "pausable" successfully rolled out');
    expect(await imagesOfPods('pausable')).toEqual(workers.map(() => NEW_IMAGE));
  });

  it('status stops at a partition, promote removes the partition and the node selector, and the rollout finishes', async () => {
    // `!…` (DoesNotExist of a label no node has) selects every node: the partition decides.
    await converged('canary', { [PARTITION]: '2', [NODE_SELECTOR]: '!everynode-e2e/never' });
    await setImage('canary', NEW_IMAGE);
    const partial = ok(await everynodeCli('rollout', 'status', 'ds/canary', '--timeout=120s'));
    const updated = workers.length - 2;
    expect(lastLine(partial.stdout)).toBe(
      `daemon set "canary" successfully rolled out to ${updated} of ${workers.length} nodes; 2 nodes keep the old revision (partition 2 and node selector "!everynode-e2e/never"); continue with: kubectl everynode rollout promote ds/canary`,
    );
    expect((await imagesOfPods('canary')).filter((i) => i === OLD_IMAGE)).toHaveLength(2);

    const promoted = ok(await everynodeCli('rollout', 'promote', 'ds/canary'));
    expect(promoted.stdout.trim()).toBe(
      'daemonset.apps/canary promoted: removed the partition (2) and the node selector (!everynode-e2e/never); the rollout continues to every node',
    );
    const annotations = await annotationsOf('canary');
    expect(annotations[PARTITION]).toBeUndefined();
    expect(annotations[NODE_SELECTOR]).toBeUndefined();
    const done = ok(await everynodeCli('rollout', 'status', 'ds/canary', '--timeout=120s'));
    expect(lastLine(done.stdout)).toBe('daemon set "canary" successfully rolled out');
    expect(await imagesOfPods('canary')).toEqual(workers.map(() => NEW_IMAGE));
  });

  it('promote --partition sets a valid partition and refuses an invalid one before any write', async () => {
    await converged('partitioned', { [PARTITION]: '3' });
    const set = ok(await everynodeCli('rollout', 'promote', 'ds/partitioned', '--partition=25%'));
    expect(set.stdout.trim()).toBe('daemonset.apps/partitioned partition set to 25% (was 3)');
    expect((await annotationsOf('partitioned'))[PARTITION]).toBe('25%');

    const before = await readDaemonSet(cluster, namespace, 'partitioned');
    const refused = await everynodeCli('rollout', 'promote', 'ds/partitioned', '--partition=half');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'invalid argument "half" for "--partition" flag: must be a number of nodes ("3") or a percentage of the desired nodes from 0% to 100% ("25%")',
    );
    expect(refused.stdout).toBe('');
    const after = await readDaemonSet(cluster, namespace, 'partitioned');
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(after.metadata?.annotations?.[PARTITION]).toBe('25%');
  });

  it('history and undo behave as kubectl rollout history and undo', async () => {
    await converged('undoable');
    await setImage('undoable', NEW_IMAGE);
    ok(await everynodeCli('rollout', 'status', 'ds/undoable', '--timeout=120s'));

    const ours = ok(await everynodeCli('rollout', 'history', 'ds/undoable'));
    const theirs = ok(await kubectl('rollout', 'history', 'ds/undoable'));
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.stdout).toMatch(/^1\s/m);
    expect(ours.stdout).toMatch(/^2\s/m);
    const detail = ok(await everynodeCli('rollout', 'history', 'daemonsets.apps/undoable', '--revision=1'));
    expect(detail.stdout).toBe(ok(await kubectl('rollout', 'history', 'ds/undoable', '--revision=1')).stdout);
    expect(detail.stdout).toContain(OLD_IMAGE);

    const undo = ok(await everynodeCli('rollout', 'undo', 'daemonset/undoable', '--to-revision=1'));
    expect(undo.stdout.trim()).toBe('daemonset.apps/undoable rolled back');
    expect(templateImage(await readDaemonSet(cluster, namespace, 'undoable'))).toBe(OLD_IMAGE);
    ok(await everynodeCli('rollout', 'status', 'ds/undoable', '--timeout=120s'));
    expect(await imagesOfPods('undoable')).toEqual(workers.map(() => OLD_IMAGE));
    const revisions = ok(await everynodeCli('rollout', 'history', 'ds/undoable'))
      .stdout.split('\n')
      .map((l) => /^(\d+)\s/.exec(l)?.[1])
      .filter((n) => n !== undefined);
    expect(revisions).toEqual(['2', '3']);
  });

  it('status fails on an auto-pause with its message; resume marks the condition Resumed and the rollout finishes', async () => {
    await converged('auto', { [AUTO_PAUSE]: 'true' });
    const ready = await waitForStatus(cluster, namespace, 'auto', 'Progressing NewRevisionAvailable', (s) =>
      (s.conditions ?? []).some((c) => c.type === 'Progressing' && c.reason === 'NewRevisionAvailable'),
    );
    const revision = /^revision (\S+): /.exec(
      ready.status!.conditions!.find((c) => c.type === 'Progressing')!.message!,
    )![1]!;
    // What the controller writes when a new-revision pod crash-loops, written by the test (kwok pods never crash).
    const message = `revision ${revision}: pod injected on node ${workers[0]!}: CrashLoopBackOff (container nginx, 3 restarts)`;
    const condition = { type: 'RolloutAutoPaused', status: 'True', reason: 'RolloutAutoPaused', message };
    ok(
      await kubectl(
        'patch',
        'ds',
        'auto',
        '--subresource=status',
        '--type=strategic',
        '-p',
        JSON.stringify({ status: { conditions: [condition] } }),
      ),
    );
    await waitForStatus(cluster, namespace, 'auto', 'Progressing RolloutAutoPaused', (s) =>
      (s.conditions ?? []).some((c) => c.type === 'Progressing' && c.reason === 'RolloutAutoPaused'),
    );

    const failed = await everynodeCli('rollout', 'status', 'ds/auto', '--timeout=60s');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`error: daemon set "auto" rollout was paused automatically: ${message}`);

    expect(ok(await everynodeCli('rollout', 'resume', 'ds/auto')).stdout.trim()).toBe(
      'daemonset.apps/auto resumed',
    );
    const resumed = (await readDaemonSet(cluster, namespace, 'auto')).status?.conditions ?? [];
    expect(resumed.find((c) => c.type === 'RolloutAutoPaused')).toMatchObject({
      status: 'False',
      reason: 'Resumed',
      message: `revision ${revision}: resumed by kubectl everynode`,
    });
    expect(resumed.some((c) => c.type === 'Progressing')).toBe(true);
    const done = ok(await everynodeCli('rollout', 'status', 'ds/auto', '--timeout=60s'));
    expect(lastLine(done.stdout)).toBe('daemon set "auto" successfully rolled out');
  });
});
