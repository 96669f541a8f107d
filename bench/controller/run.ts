// The controller benchmark (issue 4): on N kwok nodes, the time from creating
// an nginx-like DaemonSet to all its pods Ready, then a full rolling update at
// maxUnavailable=10%, and the controller's resident memory, for
//   - everynode: controller + webhook on the host (dist/), the webhook
//     registered with url + caBundle from the chart's own template, KCM with
//     --controllers=*,-daemonset;
//   - kube-controller-manager's built-in DaemonSet controller (same binaries,
//     a fresh cluster with --controllers=*); its memory is the whole KCM.
// Both get the same client QPS; the scheduler's QPS is raised equally in both.
//
//   node bench/controller/run.ts --nodes 100,1000     (make bench-controller)
//
// Every cluster and process is stopped at the end (and on Ctrl-C). The table
// goes to stdout, everything measured to bench/results/controller-<time>.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PatchStrategy, type KubernetesObject, type V1DaemonSet, type V1Pod } from '@kubernetes/client-node';
import { generateCertificateAuthority, generateServingCertificate } from '../../src/lib/certs.ts';
import {
  MANAGED_LABEL,
  MANAGED_LABEL_VALUE,
  TARGET_NODE_ANNOTATION,
  pinnedNodeOf,
} from '../../src/contract/daemon-pod.ts';
import { startCluster, stopCluster, workerNodeName, type ClusterState } from '../../test/harness/cluster.ts';
import { ClusterClient, kwokNode, nodeIsSchedulable } from '../../test/harness/kube.ts';
import { repoRoot } from '../../test/harness/tools.ts';
import { done, notYet, waitFor } from '../../test/harness/wait.ts';
import {
  ProcessSampler,
  createdByStatus,
  mib,
  describeMachine,
  loadAverage,
  podsProblem,
  mediansTable,
  resultsTable,
  rolledByStatus,
  statusIsCurrent,
  statusSummary,
  daemonSetQueueSummary,
  type PhaseResult,
  type QueueSummary,
  type RunResult,
} from './measure.ts';

type Implementation = RunResult['implementation'];
const IMPLEMENTATIONS: readonly Implementation[] = ['everynode', 'kube-controller-manager'];

const USAGE = `usage: node bench/controller/run.ts [options]
  --nodes LIST             kwok node counts, comma-separated (default 100,1000)
  --controllers LIST       everynode,kube-controller-manager (default both)
  --kube-api-qps N         client QPS of everynode's controller and of KCM (default 50)
  --kube-api-burst N       client burst of both (default 100)
  --scheduler-qps N        kube-scheduler's client QPS, the same in every run (default 500)
  --scheduler-burst N      kube-scheduler's client burst (default 1000)
  --node-concurrency N     parallel node creations (default 32)
  --repeat N               runs per node count and controller, alternating controllers (default 1)
  --phase-timeout SECONDS  give up on a phase after this long (default 600)
  --out FILE               results JSON (default bench/results/controller-<time>.json)
  --keep-logs              keep each run's directory (component logs) instead of removing it`;

interface Options {
  nodes: number[];
  implementations: Implementation[];
  qps: number;
  burst: number;
  schedulerQps: number;
  schedulerBurst: number;
  nodeConcurrency: number;
  repeat: number;
  phaseTimeoutMs: number;
  out: string;
  keepLogs: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '100,1000' },
      controllers: { type: 'string', default: IMPLEMENTATIONS.join(',') },
      'kube-api-qps': { type: 'string', default: '50' },
      'kube-api-burst': { type: 'string', default: '100' },
      'scheduler-qps': { type: 'string', default: '500' },
      'scheduler-burst': { type: 'string', default: '1000' },
      'node-concurrency': { type: 'string', default: '32' },
      repeat: { type: 'string', default: '1' },
      'phase-timeout': { type: 'string', default: '600' },
      out: { type: 'string' },
      'keep-logs': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${text}"`);
    return n;
  };
  const implementations = values.controllers.split(',').map((c) => {
    if (!IMPLEMENTATIONS.includes(c as Implementation))
      throw new Error(`--controllers: unknown "${c}" (known: ${IMPLEMENTATIONS.join(', ')})`);
    return c as Implementation;
  });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    nodes: values.nodes.split(',').map((n) => positive('nodes', n)),
    implementations,
    qps: positive('kube-api-qps', values['kube-api-qps']),
    burst: positive('kube-api-burst', values['kube-api-burst']),
    schedulerQps: positive('scheduler-qps', values['scheduler-qps']),
    schedulerBurst: positive('scheduler-burst', values['scheduler-burst']),
    nodeConcurrency: positive('node-concurrency', values['node-concurrency']),
    repeat: positive('repeat', values.repeat),
    phaseTimeoutMs: positive('phase-timeout', values['phase-timeout']) * 1000,
    out: values.out ?? join(repoRoot, 'bench/results', `controller-${stamp}.json`),
    keepLogs: values['keep-logs'],
  };
}

const began = Date.now();
const log = (message: string) =>
  process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(1).padStart(7)}s] ${message}\n`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const seconds = (since: number) => Math.round((performance.now() - since) / 100) / 10;

/** What must be stopped, newest first; run on success, failure and Ctrl-C. */
const cleanups: Array<() => Promise<void>> = [];
async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (err) {
      log(`cleanup failed: ${(err as Error).message}`);
    }
  }
}

/** Runs `work` over `items` with at most `limit` in flight (a dozen lines; no dependency needed). */
async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface HostProcess {
  name: string;
  child: ChildProcess;
  log: string;
}

function startNode(name: string, script: string, args: string[], dir: string): HostProcess {
  const logPath = join(dir, 'logs', `${name}.log`);
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', fd, fd] });
    return { name, child, log: logPath };
  } finally {
    closeSync(fd);
  }
}

const hasExited = (p: HostProcess) => p.child.exitCode !== null || p.child.signalCode !== null;

/** SIGTERM, up to 15 s for the graceful shutdown, then SIGKILL; by the child we started. */
async function stopHostProcess(p: HostProcess): Promise<void> {
  if (hasExited(p)) return;
  const exited = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

const diedError = (processes: readonly HostProcess[]) => () => {
  const dead = processes.find(hasExited);
  return dead
    ? new Error(`the ${dead.name} exited; its log:\n${readFileSync(dead.log, 'utf8').slice(-3000)}`)
    : undefined;
};

/**
 * everynode as a developer runs it against a local cluster: webhook and
 * controller from dist/ on the host, the MutatingWebhookConfiguration rendered
 * from the chart in development mode (url + caBundle), and a dry-run pod to
 * prove the API server calls the webhook before the clock starts.
 */
async function startEverynode(
  client: ClusterClient,
  cluster: ClusterState,
  namespace: string,
  options: Options,
): Promise<{ controller: HostProcess; webhook: HostProcess; controllerMetricsPort: number }> {
  const dir = cluster.dir;
  const ca = await generateCertificateAuthority({ commonName: 'everynode-bench-ca' });
  const serving = await generateServingCertificate(ca, { hosts: ['127.0.0.1'], validDays: 2 });
  const certFile = join(dir, 'webhook-tls.crt');
  const keyFile = join(dir, 'webhook-tls.key');
  await writeFile(certFile, serving.certPem);
  await writeFile(keyFile, serving.keyPem, { mode: 0o600 });
  const webhookPort = await freePort();
  const webhookMetricsPort = await freePort();
  const controllerMetricsPort = await freePort();

  const webhook = startNode(
    'webhook',
    join(repoRoot, 'dist/webhook/main.js'),
    [
      `--port=${webhookPort}`,
      `--metrics-port=${webhookMetricsPort}`,
      '--bind-address=127.0.0.1',
      `--tls-cert-file=${certFile}`,
      `--tls-private-key-file=${keyFile}`,
    ],
    dir,
  );
  cleanups.push(() => stopHostProcess(webhook));
  const controller = startNode(
    'controller',
    join(repoRoot, 'dist/controller/main.js'),
    [
      `--kubeconfig=${cluster.kubeconfig}`,
      '--leader-elect=false',
      `--kube-api-qps=${options.qps}`,
      `--kube-api-burst=${options.burst}`,
      `--metrics-port=${controllerMetricsPort}`,
    ],
    dir,
  );
  cleanups.push(() => stopHostProcess(controller));
  const abortIf = diedError([webhook, controller]);
  for (const port of [webhookMetricsPort, controllerMetricsPort]) {
    await waitFor(
      `/readyz on port ${port}`,
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        return res.ok ? done(undefined) : notYet(res.status);
      },
      { timeoutMs: 60_000, abortIf },
    );
  }

  const { stdout } = await client.helm([
    'template',
    'everynode',
    join(repoRoot, 'charts/everynode'),
    '--namespace',
    'everynode-system',
    '--show-only',
    'templates/mutatingwebhookconfiguration.yaml',
    '--set',
    'webhook.enabled=false',
    '--set',
    `webhook.url=https://127.0.0.1:${webhookPort}/mutate`,
    '--set',
    `webhook.caBundle=${Buffer.from(ca.certPem).toString('base64')}`,
  ]);
  await client.applyManifest(stdout);

  // The API server loads webhook configurations asynchronously: wait until a
  // (dry-run) daemon pod comes back pinned.
  const target = workerNodeName(1);
  const probe: V1Pod = {
    metadata: {
      generateName: 'webhook-probe-',
      labels: { [MANAGED_LABEL]: MANAGED_LABEL_VALUE },
      annotations: { [TARGET_NODE_ANNOTATION]: target },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          name: 'webhook-probe',
          uid: '00000000-0000-4000-8000-000000000000',
          controller: true,
        },
      ],
    },
    spec: { containers: [{ name: 'probe', image: 'probe' }] },
  };
  await waitFor(
    'the API server to call the webhook',
    async () => {
      const pod = await client.core.createNamespacedPod({ namespace, body: probe, dryRun: 'All' });
      return pinnedNodeOf(pod) === target ? done(undefined) : notYet('the pod came back unpinned');
    },
    { timeoutMs: 60_000, intervalMs: 500, abortIf },
  );
  return { controller, webhook, controllerMetricsPort };
}

const IMAGE = 'nginx:1.27';
const UPDATED_IMAGE = 'nginx:1.28';

function nginxDaemonSet(namespace: string): V1DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'nginx', namespace, labels: { app: 'nginx' } },
    spec: {
      selector: { matchLabels: { app: 'nginx' } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } },
      template: {
        metadata: { labels: { app: 'nginx' } },
        spec: {
          containers: [
            {
              name: 'nginx',
              image: IMAGE,
              ports: [{ name: 'http', containerPort: 80 }],
              resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
            },
          ],
        },
      },
    },
  };
}

interface Check {
  done: boolean;
  seen: string;
  /** status.numberUnavailable of a status that describes the phase's generation. */
  unavailable?: number;
}

/** Polls `check` every 250 ms until done or the timeout; the time is taken at the done poll. */
async function measurePhase(
  start: number,
  timeoutMs: number,
  check: () => Promise<Check>,
  /** On timeout: what the pods show, next to the last status. */
  describePods: () => Promise<string>,
): Promise<PhaseResult> {
  let maxUnavailable: number | undefined;
  let seen = 'nothing yet';
  let lastReport = performance.now();
  while (performance.now() - start < timeoutMs) {
    try {
      const result = await check();
      seen = result.seen;
      if (result.unavailable !== undefined)
        maxUnavailable = Math.max(maxUnavailable ?? 0, result.unavailable);
      if (result.done) {
        return { seconds: seconds(start), ...(maxUnavailable !== undefined ? { maxUnavailable } : {}) };
      }
    } catch (err) {
      seen = `error: ${(err as Error).message}`;
    }
    if (performance.now() - lastReport > 15_000) {
      log(`  ... ${seconds(start)}s: ${seen}`);
      lastReport = performance.now();
    }
    await sleep(250);
  }
  try {
    seen = `${seen}; pods: ${await describePods()}`;
  } catch (err) {
    seen = `${seen}; pods: cannot list (${(err as Error).message})`;
  }
  log(`  timed out after ${timeoutMs / 1000}s; last seen: ${seen}`);
  return { lastSeen: seen, ...(maxUnavailable !== undefined ? { maxUnavailable } : {}) };
}

/** GET over HTTP(S) with a deadline; `ca` for the cluster's serving certificates. */
function getText(url: string, ca?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { ...(ca ? { ca } : {}), timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The V8 heap in use (prom-client's nodejs_heap_size_used_bytes), to tell live data from heap slack in the RSS. */
async function heapUsedMiB(metricsPort: number): Promise<number | undefined> {
  try {
    const text = await getText(`http://127.0.0.1:${metricsPort}/metrics`);
    const line = text.split('\n').find((l) => l.startsWith('nodejs_heap_size_used_bytes '));
    return line ? mib(Number(line.slice(line.indexOf(' ') + 1)) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

async function runOne(implementation: Implementation, nodes: number, options: Options): Promise<RunResult> {
  const startedAt = new Date().toISOString();
  const loadBefore = loadAverage();
  const dir = await mkdtemp(join(tmpdir(), `everynode-bench-${nodes}-`));
  log(`=== ${implementation}, ${nodes} nodes (cluster in ${dir}; load ${loadBefore.join(' ')})`);
  cleanups.push(async () => {
    log(`stopping the cluster in ${dir}`);
    await stopCluster(dir, { keepDir: options.keepLogs });
  });
  const clientFlags = [`--kube-api-qps=${options.qps}`, `--kube-api-burst=${options.burst}`];
  const cluster = await startCluster({
    dir,
    nodes: 0,
    controlPlane: false,
    builtInDaemonSetController: implementation === 'kube-controller-manager',
    extraArgs: {
      'kube-controller-manager': clientFlags,
      'kube-scheduler': [
        `--kube-api-qps=${options.schedulerQps}`,
        `--kube-api-burst=${options.schedulerBurst}`,
      ],
    },
    log: (m) => log(`  ${m}`),
  });
  const client = new ClusterClient(cluster.kubeconfig);

  const nodesStart = performance.now();
  const names = Array.from({ length: nodes }, (_, i) => workerNodeName(i + 1));
  await forEachLimited(names, options.nodeConcurrency, async (name) => {
    await client.core.createNode({ body: kwokNode(name) });
  });
  await waitFor(
    `${nodes} nodes to be schedulable`,
    async () => {
      const schedulable = (await client.core.listNode()).items.filter(nodeIsSchedulable).length;
      return schedulable === nodes ? done(undefined) : notYet(`${schedulable}/${nodes} schedulable`);
    },
    { timeoutMs: 600_000, intervalMs: 2_000 },
  );
  const nodesReadySeconds = seconds(nodesStart);
  log(`  ${nodes} nodes schedulable in ${nodesReadySeconds}s`);

  const namespace = await client.createNamespace('bench-');
  let controllerProcess: ProcessSampler;
  let metricsPort: number | undefined;
  const heapUsed: Record<string, number> = {};
  const mark = async (name: string) => {
    controllerProcess.mark(name);
    const heap = metricsPort !== undefined ? await heapUsedMiB(metricsPort) : undefined;
    if (heap !== undefined) heapUsed[name] = heap;
  };
  let webhookProcess: ProcessSampler | undefined;
  if (implementation === 'everynode') {
    const everynode = await startEverynode(client, cluster, namespace, options);
    metricsPort = everynode.controllerMetricsPort;
    controllerProcess = new ProcessSampler(
      everynode.controller.child.pid!,
      'everynode controller (node dist/controller/main.js)',
    );
    webhookProcess = new ProcessSampler(
      everynode.webhook.child.pid!,
      'everynode webhook (node dist/webhook/main.js)',
    );
    log('  everynode controller and webhook are ready; the API server calls the webhook');
  } else {
    const kcm = cluster.processes.find((p) => p.component === 'kube-controller-manager')!;
    controllerProcess = new ProcessSampler(
      kcm.pid,
      'kube-controller-manager (whole process: every controller)',
    );
  }
  controllerProcess.start();
  webhookProcess?.start();
  // Let informers and the node-lifecycle controller settle before the idle figure.
  await sleep(5_000);
  await mark('idle');

  const result: Omit<RunResult, 'controllerProcess' | 'loadAfter'> = {
    implementation,
    nodes,
    nodesReadySeconds,
    create: {},
    rollout: {},
    loadBefore,
    startedAt,
  };

  const listPods = async () =>
    (await client.core.listNamespacedPod({ namespace, labelSelector: 'app=nginx' })).items;
  const readDs = () => client.apps.readNamespacedDaemonSet({ name: 'nginx', namespace });

  log('  creating the DaemonSet');
  const createStart = performance.now();
  await client.apps.createNamespacedDaemonSet({ namespace, body: nginxDaemonSet(namespace) });
  result.create = await measurePhase(
    createStart,
    options.phaseTimeoutMs,
    async () => {
      const ds = await readDs();
      if (!createdByStatus(ds, nodes)) return { done: false, seen: statusSummary(ds) };
      const problem = podsProblem(await listPods(), nodes);
      return { done: problem === undefined, seen: problem ?? 'done' };
    },
    async () => podsProblem(await listPods(), nodes) ?? 'one Ready pod per node',
  );
  await mark('created');
  log(`  all pods Ready: ${result.create.seconds ?? 'not done'}s`);

  if (result.create.seconds !== undefined) {
    log(`  rolling update to ${UPDATED_IMAGE}`);
    const rolloutStart = performance.now();
    // What `kubectl set image` sends: a strategic merge patch of the one container.
    const setImage: KubernetesObject & { spec: unknown } = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'nginx', namespace },
      spec: { template: { spec: { containers: [{ name: 'nginx', image: UPDATED_IMAGE }] } } },
    };
    const patched = await client.objects.patch(
      setImage,
      undefined,
      undefined,
      'everynode-bench',
      undefined,
      PatchStrategy.StrategicMergePatch,
    );
    const generation = patched.metadata?.generation ?? 0;
    result.rollout = await measurePhase(
      rolloutStart,
      options.phaseTimeoutMs,
      async () => {
        const ds = await readDs();
        const unavailable = statusIsCurrent(ds, generation) ? (ds.status?.numberUnavailable ?? 0) : undefined;
        const base = { seen: statusSummary(ds), ...(unavailable !== undefined ? { unavailable } : {}) };
        if (!rolledByStatus(ds, nodes, generation)) return { ...base, done: false };
        const problem = podsProblem(await listPods(), nodes, UPDATED_IMAGE);
        return { ...base, done: problem === undefined, seen: problem ?? 'done' };
      },
      async () => podsProblem(await listPods(), nodes, UPDATED_IMAGE) ?? 'one updated Ready pod per node',
    );
    await mark('rolled');
    log(
      `  rolling update done: ${result.rollout.seconds ?? 'not done'}s (max unavailable seen ${result.rollout.maxUnavailable ?? '-'})`,
    );
  }

  // Events the controller wrote on the DaemonSet: they share its client's QPS with the pod writes.
  let daemonSetEvents: RunResult['daemonSetEvents'];
  try {
    const events = (await client.core.listNamespacedEvent({ namespace })).items.filter(
      (e) => e.involvedObject.kind === 'DaemonSet',
    );
    daemonSetEvents = { objects: events.length, count: events.reduce((n, e) => n + (e.count ?? 1), 0) };
  } catch (err) {
    log(`  could not list events: ${(err as Error).message}`);
  }
  let queue: QueueSummary | undefined;
  try {
    queue = daemonSetQueueSummary(
      metricsPort !== undefined
        ? await getText(`http://127.0.0.1:${metricsPort}/metrics`)
        : await getText(
            `https://127.0.0.1:${cluster.ports.controllerManager}/metrics`,
            readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8'),
          ),
    );
  } catch (err) {
    log(`  could not read the work queue metrics: ${(err as Error).message}`);
  }
  const finished: RunResult = {
    ...result,
    controllerProcess: controllerProcess.stop(),
    ...(queue ? { queue } : {}),
    ...(daemonSetEvents ? { daemonSetEvents } : {}),
    ...(metricsPort !== undefined ? { controllerHeapUsedMiB: heapUsed } : {}),
    ...(webhookProcess ? { webhookProcess: webhookProcess.stop() } : {}),
    loadAfter: loadAverage(),
  };
  log(
    `  memory: ${JSON.stringify(finished.controllerProcess.marksMiB)} MiB, VmHWM ${finished.controllerProcess.hwmMiB} MiB` +
      (finished.controllerHeapUsedMiB
        ? `; V8 heap used ${JSON.stringify(finished.controllerHeapUsedMiB)} MiB`
        : '') +
      (finished.webhookProcess ? `; webhook VmHWM ${finished.webhookProcess.hwmMiB} MiB` : ''),
  );
  log(
    `  DaemonSet work queue: ${JSON.stringify(queue)}; events on the DaemonSet: ${JSON.stringify(daemonSetEvents)}`,
  );
  return finished;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  for (const built of ['dist/controller/main.js', 'dist/webhook/main.js']) {
    if (!existsSync(join(repoRoot, built)))
      throw new Error(`${built} is missing: run \`npx tsc -p tsconfig.build.json\` (make build) first`);
  }
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping everything`);
    void cleanUp().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const machine = describeMachine();
  log(`machine: ${JSON.stringify(machine)}`);
  const results: RunResult[] = [];
  // Repeats alternate the controllers, so a change in the machine's load hits both alike.
  for (const nodes of options.nodes) {
    for (let round = 1; round <= options.repeat; round++) {
      for (const implementation of options.implementations) {
        try {
          results.push(await runOne(implementation, nodes, options));
        } catch (err) {
          log(`${implementation} on ${nodes} nodes failed: ${(err as Error).stack ?? String(err)}`);
          throw err;
        } finally {
          await cleanUp();
        }
      }
    }
  }

  const report = {
    command: `node bench/controller/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    options: { ...options, out: undefined },
    results,
  };
  await mkdir(join(options.out, '..'), { recursive: true });
  await writeFile(options.out, JSON.stringify(report, null, 2) + '\n');
  log(`results: ${options.out}`);
  console.log(resultsTable(results));
  if (options.repeat > 1) console.log(`\nMedians of ${options.repeat} runs:\n\n${mediansTable(results)}`);
}

await main().catch(async (err: unknown) => {
  await cleanUp();
  log(`benchmark failed: ${(err as Error).message}`);
  process.exit(1);
});
