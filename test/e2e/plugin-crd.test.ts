// `kubectl everynode` with everynode's own DaemonSet kind (CRD mode) end to end,
// on a cluster of this file's own that runs kube-controller-manager's built-in
// DaemonSet controller (as a managed cluster does), with everynode's CRD from
// charts/everynode/crds/ and the controller in --mode=crd. The real
// bin/kubectl-everynode is run as `kubectl everynode …`. Covered: a migrate
// refused during a rollout; migrate ds → evds keeping every pod (kube-controller-
// manager made them) and adopting the revisions; a second migrate as a no-op;
// history (table and --revision, compared with kubectl's own output for the
// apps/v1 DaemonSet before the migration) and undo on the evds; pause / resume /
// promote patching spec.rollout and rollout status stopping at its partition;
// migrate back --to apps/v1 (refused while spec.rollout is set) with the pods
// adopted by kube-controller-manager, UIDs unchanged.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1ControllerRevision, V1DaemonSet, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGED_LABEL, controllerRefOf } from '../../src/contract/daemon-pod.ts';
import type { RolloutSpec } from '../../src/contract/rollout.ts';
import { startCluster, stopCluster } from '../harness/cluster.ts';
import { ClusterClient, isApiError } from '../harness/kube.ts';
import { binDir, repoRoot } from '../harness/tools.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import { lastLine, ok, runKubectl, type CliRun } from './support/plugin-cli.ts';
import { Everynode, isServing } from './support/everynode.ts';

const CRD = join(repoRoot, 'charts/everynode/crds/daemonsets.everynode.dev.yaml');
const OLD_IMAGE = 'nginx:1.27';
const NEW_IMAGE = 'nginx:1.28';
const NAME = 'agent';

type Evds = V1DaemonSet & { spec?: V1DaemonSet['spec'] & { rollout?: RolloutSpec } };

let dir: string;
let cluster: ClusterClient;
let everynode: Everynode | undefined;
let namespace: string;
let workers: string[];

type Run = CliRun;
const run = (args: readonly string[]): Promise<Run> => runKubectl(cluster.kubeconfigPath, args, 240_000);
const everynodeCli = (...args: string[]) => run(['everynode', ...args, '-n', namespace]);
const kubectl = (...args: string[]) => run([...args, '-n', namespace]);
/** Everything after the first line (kubectl's `daemonset.apps/NAME …` header). */
const body = (text: string) => text.slice(text.indexOf('\n') + 1);

const evdsPath = (name = NAME) => `/apis/everynode.dev/v1alpha1/namespaces/${namespace}/daemonsets/${name}`;

async function getJson<T>(path: string): Promise<T | undefined> {
  const r = await kubectl('get', '--raw', path);
  if (r.code !== 0) {
    if (r.stderr.includes('NotFound') || r.stderr.includes('not found')) return undefined;
    throw new Error(`GET ${path}: ${r.stderr}`);
  }
  return JSON.parse(r.stdout) as T;
}

const readEvds = (name = NAME) => getJson<Evds>(evdsPath(name));

async function readAppsDs(name = NAME): Promise<V1DaemonSet | undefined> {
  try {
    return await cluster.apps.readNamespacedDaemonSet({ namespace, name });
  } catch (err) {
    if (isApiError(err, 404)) return undefined;
    throw err;
  }
}

const podsOfApp = async (app = NAME): Promise<V1Pod[]> =>
  (await cluster.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items.filter(
    (p) => !p.metadata?.deletionTimestamp,
  );

const revisionsOfApp = async (app = NAME): Promise<V1ControllerRevision[]> =>
  (await cluster.apps.listNamespacedControllerRevision({ namespace, labelSelector: `app=${app}` })).items;

const uidsByNode = (pods: readonly V1Pod[]) =>
  Object.fromEntries(pods.map((p) => [p.spec?.nodeName ?? '?', p.metadata?.uid ?? '']));

function appsDaemonSet(name: string, strategy: 'RollingUpdate' | 'OnDelete') {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace, labels: { app: name }, annotations: { team: 'infra' } },
    spec: {
      selector: { matchLabels: { app: name } },
      updateStrategy:
        strategy === 'RollingUpdate'
          ? { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 3 } }
          : { type: 'OnDelete' },
      template: {
        metadata: { labels: { app: name }, annotations: { note: 'agent' } },
        spec: {
          containers: [
            {
              name: 'nginx',
              image: OLD_IMAGE,
              ports: [{ containerPort: 80, name: 'http' }],
              env: [{ name: 'MODE', value: 'daemon' }],
              resources: { requests: { cpu: '10m', memory: '16Mi' } },
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
          ],
          volumes: [{ name: 'data', emptyDir: {} }],
          tolerations: [{ operator: 'Exists' }],
        },
      },
    },
  };
}

/** Waits until `name` has one serving pod on each worker, all with `image`, none terminating. */
async function waitForPods(name: string, image: string): Promise<V1Pod[]> {
  return waitFor(
    `${name}: one serving ${image} pod on each worker`,
    async () => {
      const all = (await cluster.core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })).items;
      const nodes = all.map((p) => p.spec?.nodeName ?? '').sort();
      const good =
        nodes.join() === workers.join() &&
        all.every((p) => isServing(p) && p.spec?.containers[0]?.image === image);
      return good
        ? done(all)
        : notYet(all.map((p) => `${p.metadata?.name}@${p.spec?.nodeName}:${p.spec?.containers[0]?.image}`));
    },
    { timeoutMs: 120_000, abortIf: everynode?.failure },
  );
}

/** Waits until the object (apps/v1 or evds) reports every pod updated and available for its generation. */
async function waitForRolledOut(
  read: () => Promise<V1DaemonSet | undefined>,
  what: string,
): Promise<V1DaemonSet> {
  return waitFor(
    `${what}: status observed, ${workers.length} updated and available`,
    async () => {
      const ds = await read();
      const s = ds?.status;
      const good =
        ds !== undefined &&
        s?.observedGeneration === ds.metadata?.generation &&
        s?.desiredNumberScheduled === workers.length &&
        s?.updatedNumberScheduled === workers.length &&
        s?.numberAvailable === workers.length;
      return good ? done(ds) : notYet(s);
    },
    { timeoutMs: 120_000, abortIf: everynode?.failure },
  );
}

/** Every pod and revision of the app is controlled by `uid`. */
async function expectAdoptedBy(uid: string, kind: string) {
  for (const o of [...(await podsOfApp()), ...(await revisionsOfApp())]) {
    const ref = controllerRefOf(o);
    expect(ref, o.metadata?.name).toMatchObject({ uid, kind: 'DaemonSet' });
    expect(ref?.apiVersion, o.metadata?.name).toBe(kind);
  }
}

// State carried from one test to the next: the migration is one story.
let podUids: Record<string, string> = {};
let revisionNames: string[] = [];
let kubectlHistory = '';
let kubectlRevision1 = '';

beforeAll(async () => {
  for (const f of [join(binDir, 'kubectl-everynode'), join(repoRoot, 'dist/plugin/main.js'), CRD]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`make build\` first`);
  }
  const src = join(repoRoot, 'src/plugin');
  const newest = Math.max(...readdirSync(src).map((f) => statSync(join(src, f)).mtimeMs));
  if (statSync(join(repoRoot, 'dist/plugin/main.js')).mtimeMs < newest) {
    throw new Error(`dist/plugin/main.js is older than ${src}: run \`make build\` first`);
  }
  dir = await mkdtemp(join(tmpdir(), 'everynode-plugin-crd-'));
  const state = await startCluster({
    dir,
    nodes: 3,
    controlPlane: false,
    builtInDaemonSetController: true,
  });
  cluster = new ClusterClient(state.kubeconfig);
  workers = await cluster.workerNames();
  namespace = await cluster.createNamespace('plugin-crd-');
  ok(await run(['apply', '--server-side', '-f', CRD]));
  await cluster.waitForCrdEstablished('daemonsets.everynode.dev');
  everynode = await Everynode.start(cluster, {
    namespaces: [namespace],
    controller: { extraArgs: ['--mode=crd'] },
  });
}, 240_000);

afterAll(async () => {
  await everynode?.stop();
  if (dir) {
    await stopCluster(dir);
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);

describe('kubectl everynode with daemonsets.everynode.dev', () => {
  it('migrate refuses a DaemonSet whose rollout is in progress and changes nothing', async () => {
    await cluster.applyManifest(appsDaemonSet('busy', 'OnDelete'));
    const before = await waitForPods('busy', OLD_IMAGE);
    // OnDelete: the new template replaces no pod, so every pod stays on the old revision.
    ok(await kubectl('set', 'image', 'ds/busy', `nginx=${NEW_IMAGE}`));
    await waitFor('busy: the new template observed', async () => {
      const ds = await readAppsDs('busy');
      return ds?.status?.observedGeneration === ds?.metadata?.generation ? done(ds) : notYet(ds?.status);
    });
    const refused = await everynodeCli('migrate', 'ds/busy');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'error: cannot migrate daemonset.apps/busy to daemonset.everynode.dev/busy',
    );
    expect(refused.stderr).toContain('a rollout is in progress');
    expect(await readAppsDs('busy')).toBeDefined();
    expect(await readEvds('busy')).toBeUndefined();
    const after = await podsOfApp('busy');
    expect(uidsByNode(after)).toEqual(uidsByNode(before));
    expect(after.every((p) => p.metadata?.labels?.[MANAGED_LABEL] === undefined)).toBe(true);
    ok(await kubectl('delete', 'ds', 'busy', '--wait=true'));
  });

  it('migrate ds → evds keeps every pod kube-controller-manager made and adopts the revisions', async () => {
    await cluster.applyManifest(appsDaemonSet(NAME, 'RollingUpdate'));
    await waitForPods(NAME, OLD_IMAGE);
    ok(await kubectl('set', 'image', `ds/${NAME}`, `nginx=${NEW_IMAGE}`));
    const pods = await waitForPods(NAME, NEW_IMAGE);
    await waitForRolledOut(() => readAppsDs(), 'apps/v1 agent');
    podUids = uidsByNode(pods);
    revisionNames = (await revisionsOfApp()).map((r) => r.metadata!.name!).sort();
    expect(revisionNames).toHaveLength(2);
    kubectlHistory = ok(await kubectl('rollout', 'history', `ds/${NAME}`)).stdout;
    kubectlRevision1 = ok(await kubectl('rollout', 'history', `ds/${NAME}`, '--revision=1')).stdout;

    const dry = ok(await everynodeCli('migrate', `ds/${NAME}`, '--dry-run'));
    expect(dry.stdout).toContain('can be migrated');
    expect(await readAppsDs()).toBeDefined();

    const migrated = ok(await everynodeCli('migrate', `ds/${NAME}`));
    expect(migrated.stdout).toContain(`daemonset.apps/${NAME} migrated to daemonset.everynode.dev/${NAME}`);
    expect(migrated.stdout).toContain(`${workers.length} of ${workers.length} pods kept (same UIDs)`);
    expect(await readAppsDs()).toBeUndefined();
    const evds = (await readEvds())!;
    expect(evds.metadata?.labels).toEqual({ app: NAME });
    expect(evds.metadata?.annotations).toEqual({ team: 'infra' });
    expect(evds.spec?.template.spec?.containers[0]?.image).toBe(NEW_IMAGE);
    await expectAdoptedBy(evds.metadata!.uid!, 'everynode.dev/v1alpha1');
    expect((await revisionsOfApp()).map((r) => r.metadata!.name!).sort()).toEqual(revisionNames);

    // everynode's controller has synced the adopted object: every pod counted updated, none replaced.
    await waitForRolledOut(() => readEvds(), 'evds agent');
    const after = await podsOfApp();
    expect(uidsByNode(after)).toEqual(podUids);
    expect(after.every((p) => p.metadata?.labels?.[MANAGED_LABEL] === 'true')).toBe(true);
    expect(
      (await cluster.core.listNamespacedConfigMap({ namespace })).items.map((c) => c.metadata?.name),
    ).not.toContain(`everynode-migrate-${NAME}`);
  });

  it('a second migrate is a no-op success', async () => {
    const again = ok(await everynodeCli('migrate', `ds/${NAME}`));
    expect(again.stdout).toContain(
      `daemonset.apps/${NAME} already migrated to daemonset.everynode.dev/${NAME}`,
    );
    expect(uidsByNode(await podsOfApp())).toEqual(podUids);
    expect(await readAppsDs()).toBeUndefined();
  });

  it('rollout status, history and undo work on the evds as kubectl rollout does on apps/v1', async () => {
    const status = ok(await everynodeCli('rollout', 'status', `evds/${NAME}`, '--timeout=60s'));
    expect(lastLine(status.stdout)).toBe(`daemon set "${NAME}" successfully rolled out`);

    const history = ok(await everynodeCli('rollout', 'history', `daemonsets.everynode.dev/${NAME}`));
    expect(history.stdout.split('\n')[0]).toBe(`daemonset.everynode.dev/${NAME} `);
    expect(body(history.stdout)).toBe(body(kubectlHistory));
    const detail = ok(await everynodeCli('rollout', 'history', `evds/${NAME}`, '--revision=1'));
    expect(detail.stdout.split('\n')[0]).toBe(`daemonset.everynode.dev/${NAME} with revision #1`);
    expect(body(detail.stdout)).toBe(body(kubectlRevision1));
    expect(detail.stdout).toContain(OLD_IMAGE);
    const missing = await everynodeCli('rollout', 'history', `evds/${NAME}`, '--revision=9');
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('error: unable to find the specified revision');

    const undo = ok(
      await everynodeCli('rollout', 'undo', `daemonset.everynode.dev/${NAME}`, '--to-revision=1'),
    );
    expect(undo.stdout.trim()).toBe(`daemonset.everynode.dev/${NAME} rolled back`);
    expect((await readEvds())?.spec?.template.spec?.containers[0]?.image).toBe(OLD_IMAGE);
    const rolled = ok(await everynodeCli('rollout', 'status', `evds/${NAME}`, '--timeout=120s'));
    expect(lastLine(rolled.stdout)).toBe(`daemon set "${NAME}" successfully rolled out`);
    await waitForPods(NAME, OLD_IMAGE);
    const numbers = ok(await everynodeCli('rollout', 'history', `evds/${NAME}`))
      .stdout.split('\n')
      .map((l) => /^(\d+)\s/.exec(l)?.[1])
      .filter((n) => n !== undefined);
    expect(numbers).toEqual(['2', '3']);
    const skipped = ok(await everynodeCli('rollout', 'undo', `evds/${NAME}`, '--to-revision=3'));
    expect(skipped.stdout.trim()).toBe(
      `daemonset.everynode.dev/${NAME} skipped rollback (current template already matches revision 3)`,
    );
    podUids = uidsByNode(await waitForPods(NAME, OLD_IMAGE));
  });

  it('pause, resume and promote patch spec.rollout; status stops at the partition', async () => {
    expect(ok(await everynodeCli('rollout', 'pause', `evds/${NAME}`)).stdout.trim()).toBe(
      `daemonset.everynode.dev/${NAME} paused`,
    );
    expect((await readEvds())?.spec?.rollout?.paused).toBe(true);
    expect(ok(await everynodeCli('rollout', 'pause', `evds/${NAME}`)).stdout.trim()).toBe(
      `daemonset.everynode.dev/${NAME} already paused`,
    );

    // To apps/v1 with spec.rollout set: refused (apps/v1 has no place for it) unless --force.
    const refused = await everynodeCli('migrate', `evds/${NAME}`, '--to', 'apps/v1');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'it sets spec.rollout.paused, which an apps/v1 DaemonSet cannot hold; --force drops them',
    );
    expect(await readAppsDs()).toBeUndefined();

    expect(ok(await everynodeCli('rollout', 'resume', `evds/${NAME}`)).stdout.trim()).toBe(
      `daemonset.everynode.dev/${NAME} resumed`,
    );
    expect((await readEvds())?.spec?.rollout?.paused).toBeUndefined();

    const set = ok(await everynodeCli('rollout', 'promote', `evds/${NAME}`, '--partition=1'));
    expect(set.stdout.trim()).toBe(`daemonset.everynode.dev/${NAME} partition set to 1 (was unset)`);
    expect((await readEvds())?.spec?.rollout?.partition).toBe(1);

    const image = [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: NEW_IMAGE }];
    ok(await kubectl('patch', 'evds', NAME, '--type=json', '-p', JSON.stringify(image)));
    const partial = ok(await everynodeCli('rollout', 'status', `evds/${NAME}`, '--timeout=120s'));
    expect(lastLine(partial.stdout)).toBe(
      `daemon set "${NAME}" successfully rolled out to ${workers.length - 1} of ${workers.length} nodes; 1 node keeps the old revision (partition 1); continue with: kubectl everynode rollout promote evds/${NAME}`,
    );
    const images = (await podsOfApp()).map((p) => p.spec?.containers[0]?.image);
    expect(images.filter((i) => i === OLD_IMAGE)).toHaveLength(1);

    const promoted = ok(await everynodeCli('rollout', 'promote', `evds/${NAME}`));
    expect(promoted.stdout.trim()).toBe(
      `daemonset.everynode.dev/${NAME} promoted: removed the partition (1); the rollout continues to every node`,
    );
    expect((await readEvds())?.spec?.rollout?.partition).toBeUndefined();
    const doneRun = ok(await everynodeCli('rollout', 'status', `evds/${NAME}`, '--timeout=120s'));
    expect(lastLine(doneRun.stdout)).toBe(`daemon set "${NAME}" successfully rolled out`);
    podUids = uidsByNode(await waitForPods(NAME, NEW_IMAGE));
  });

  it('migrate evds → apps/v1 keeps every pod, adopted by kube-controller-manager', async () => {
    await waitForRolledOut(() => readEvds(), 'evds agent');
    const back = ok(await everynodeCli('migrate', `evds/${NAME}`, '--to', 'apps/v1'));
    expect(back.stdout).toContain(`daemonset.everynode.dev/${NAME} migrated to daemonset.apps/${NAME}`);
    expect(await readEvds()).toBeUndefined();
    const ds = (await readAppsDs())!;
    expect(ds.spec?.template.spec?.containers[0]?.image).toBe(NEW_IMAGE);
    await expectAdoptedBy(ds.metadata!.uid!, 'apps/v1');
    await waitForRolledOut(() => readAppsDs(), 'apps/v1 agent');
    expect(uidsByNode(await podsOfApp())).toEqual(podUids);
    const history = ok(await kubectl('rollout', 'history', `ds/${NAME}`)).stdout;
    expect(history).toMatch(/^3\s/m);
    expect(history).toMatch(/^4\s/m);
  });
});
