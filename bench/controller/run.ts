// The controller benchmark (issues 4 and 12): on N kwok nodes, the time from
// creating an nginx-like DaemonSet to all its pods Ready, then one full rolling
// update at maxUnavailable=10% per update mode (Recreate: delete + create;
// InPlaceIfPossible: everynode patches the pod's image), the controller's
// resident memory and CPU, and every API write it made, per phase, from the
// API server's audit log, for
//   - everynode: controller + webhook on the host (dist/), the webhook
//     registered with url + caBundle from the chart's own template, KCM with
//     --controllers=*,-daemonset;
//   - kube-controller-manager's built-in DaemonSet controller (same binaries,
//     a fresh cluster with --controllers=*); its memory is the whole KCM.
// Both get the same client QPS; the scheduler's QPS is raised equally in both.
// Optionally with many pods neither controller manages (--unmanaged-pods).
//
//   node bench/controller/run.ts --nodes 100,1000     (make bench-controller)
//
// Every cluster and process is stopped at the end (and on Ctrl-C). The tables
// go to stdout, everything measured to bench/results/controller-<time>.json.
// @peculiar/x509 (a client certificate for everynode's controller) needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { parseArgs } from 'node:util';
import * as x509 from '@peculiar/x509';
import {
  PatchStrategy,
  type KubernetesObject,
  type V1DaemonSet,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { generateCertificateAuthority, generateServingCertificate } from '../../src/lib/certs.ts';
import {
  MANAGED_LABEL,
  MANAGED_LABEL_VALUE,
  TARGET_NODE_ANNOTATION,
  pinnedNodeOf,
} from '../../src/contract/daemon-pod.ts';
import { ROLLOUT_PREFIX } from '../../src/contract/rollout.ts';
import {
  KubeClient,
  isAlreadyExists,
  loadKubeConfig,
  resourcePath,
  resources,
  type ListResult,
} from '../../src/machinery/kube.ts';
import { startCluster, stopCluster, workerNodeName, type ClusterState } from '../../test/harness/cluster.ts';
import { ClusterClient, kwokNode, nodeIsSchedulable } from '../../test/harness/kube.ts';
import { issueCertificate } from '../../test/harness/pki.ts';
import { repoRoot } from '../../test/harness/tools.ts';
import { done, notYet, waitFor } from '../../test/harness/wait.ts';
import {
  BENCH_USER,
  EVERYNODE_CONTROLLER_USER,
  ProcessSampler,
  UPDATE_MODES,
  cpuTable,
  phaseCpu,
  snapshotCpu,
  WriteTally,
  auditPolicy,
  containerRestarts,
  createdByStatus,
  isControllerRequest,
  mib,
  describeMachine,
  loadAverage,
  podUidsByNode,
  podsKept,
  podsProblem,
  mediansTable,
  resultsTable,
  rolledByStatus,
  statusIsCurrent,
  statusSummary,
  daemonSetQueueSummary,
  writesTable,
  type AuditInfo,
  type PhaseResult,
  type QueueSummary,
  type RunResult,
  type UnmanagedPods,
  type UpdateMode,
  type UpdatePhaseResult,
  type WriteSummary,
} from './measure.ts';

type Implementation = RunResult['implementation'];
const IMPLEMENTATIONS: readonly Implementation[] = ['everynode', 'kube-controller-manager'];
type AuditMode = AuditInfo['mode'];
const AUDIT_MODES: readonly AuditMode[] = ['blocking', 'batch', 'off'];
/** Not imported from src/contract/rollout.ts: the benchmark must also run against a tree without the feature. */
const UPDATE_MODE_ANNOTATION = `${ROLLOUT_PREFIX}update-mode`;

const USAGE = `usage: node bench/controller/run.ts [options]
  --nodes LIST             kwok node counts, comma-separated (default 100,1000)
  --controllers LIST       everynode,kube-controller-manager (default both)
  --update-mode LIST       one rolling-update phase per entry, in order, after the create phase
                           (default Recreate,InPlaceIfPossible): each sets the DaemonSet annotation
                           ${UPDATE_MODE_ANNOTATION} (Recreate: only when another mode was set
                           before) and then the image to the next nginx tag (1.27 → 1.28 → 1.29 ...)
  --unmanaged-pods N       pods neither controller manages, created on the kwok nodes (spec.nodeName
                           set, round-robin) and Running before the controller starts (default 0)
  --unmanaged-concurrency N  their creations in flight at once (default 128)
  --kube-api-qps N         client QPS of everynode's controller and of KCM (default 50)
  --kube-api-burst N       client burst of both (default 100)
  --scheduler-qps N        kube-scheduler's client QPS, the same in every run (default 500)
  --scheduler-burst N      kube-scheduler's client burst (default 1000)
  --node-concurrency N     parallel node creations (default 32)
  --node-lease-seconds N   kwok's node Lease duration (renewed every quarter of it; KCM's
                           --node-monitor-grace-period follows at 1.25x). Default 40 (the harness's:
                           1,000 nodes renew 100 Leases/s) up to 1,000 nodes, nodes/10 above
                           (5,000 nodes: 500 s, 40 renewals/s instead of 500)
  --repeat N               runs per node count and controller, alternating controllers (default 1)
  --phase-timeout SECONDS  give up on a phase after this long (default 600, or 0.2 s per node above 3,000)
  --pod-poll-interval MS   once the status says done, list the pods at most this often
                           (default 250, or nodes/4 above 1,000: 5,000 nodes → 1,250 ms); the
                           DaemonSet's status is polled every 250 ms
  --settle SECONDS         after each phase, wait until the controller has made no write for 3 s,
                           at most this long, before the next phase starts (default 30)
  --audit-mode MODE        kube-apiserver --audit-log-mode: blocking (default), batch, or off (no write counts)
  --dist DIR               everynode's compiled controller and webhook (default dist/, make build), e.g.
                           another commit's build to compare against
  --out FILE               results JSON (default bench/results/controller-<time>.json)
  --keep-logs              keep each run's directory (component logs, audit log) instead of removing it
  --controller-node-options FLAGS  node flags for everynode's controller process (default: the image's,
                           see EVERYNODE_CONTROLLER_NODE_OPTIONS in hack/image-entrypoint.sh)`;

interface Options {
  nodes: number[];
  implementations: Implementation[];
  updateModes: UpdateMode[];
  unmanagedPods: number;
  unmanagedConcurrency: number;
  qps: number;
  burst: number;
  schedulerQps: number;
  schedulerBurst: number;
  nodeConcurrency: number;
  /** Undefined: by node count (nodeLeaseSecondsFor). */
  nodeLeaseSeconds: number | undefined;
  repeat: number;
  /** Undefined: by node count (phaseTimeoutMsFor). */
  phaseTimeoutMs: number | undefined;
  /** Undefined: by node count (podPollMsFor). */
  podPollMs: number | undefined;
  settleMs: number;
  auditMode: AuditMode;
  dist: string;
  out: string;
  keepLogs: boolean;
  controllerNodeOptions: string[];
}

/** The defaults that grow with the node count. */
const nodeLeaseSecondsFor = (o: Options, nodes: number) =>
  o.nodeLeaseSeconds ?? (nodes > 1000 ? Math.round(nodes / 10) : 40);
const phaseTimeoutMsFor = (o: Options, nodes: number) =>
  o.phaseTimeoutMs ?? Math.max(600_000, nodes > 3000 ? nodes * 200 : 0);
const podPollMsFor = (o: Options, nodes: number) => o.podPollMs ?? Math.max(250, Math.round(nodes / 4));

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '100,1000' },
      controllers: { type: 'string', default: IMPLEMENTATIONS.join(',') },
      'update-mode': { type: 'string', default: UPDATE_MODES.join(',') },
      'unmanaged-pods': { type: 'string', default: '0' },
      'unmanaged-concurrency': { type: 'string', default: '128' },
      'kube-api-qps': { type: 'string', default: '50' },
      'kube-api-burst': { type: 'string', default: '100' },
      'scheduler-qps': { type: 'string', default: '500' },
      'scheduler-burst': { type: 'string', default: '1000' },
      'node-concurrency': { type: 'string', default: '32' },
      'node-lease-seconds': { type: 'string' },
      repeat: { type: 'string', default: '1' },
      'phase-timeout': { type: 'string' },
      'pod-poll-interval': { type: 'string' },
      settle: { type: 'string', default: '30' },
      'audit-mode': { type: 'string', default: 'blocking' },
      dist: { type: 'string' },
      out: { type: 'string' },
      'keep-logs': { type: 'boolean', default: false },
      'controller-node-options': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || (min > 0 && n <= 0))
      throw new Error(`--${name} must be a ${min > 0 ? 'positive' : 'non-negative'} number, got "${text}"`);
    return n;
  };
  const positive = (name: string, text: string) => number(name, text, 1e-9);
  const optional = (name: string, text: string | undefined) =>
    text === undefined ? undefined : positive(name, text);
  const oneOf = <T extends string>(name: string, known: readonly T[], text: string): T => {
    if (!known.includes(text as T))
      throw new Error(`--${name}: unknown "${text}" (known: ${known.join(', ')})`);
    return text as T;
  };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const timeout = optional('phase-timeout', values['phase-timeout']);
  return {
    nodes: values.nodes.split(',').map((n) => positive('nodes', n)),
    implementations: values.controllers.split(',').map((c) => oneOf('controllers', IMPLEMENTATIONS, c)),
    updateModes: values['update-mode'].split(',').map((m) => oneOf('update-mode', UPDATE_MODES, m)),
    unmanagedPods: Math.round(number('unmanaged-pods', values['unmanaged-pods'], 0)),
    unmanagedConcurrency: positive('unmanaged-concurrency', values['unmanaged-concurrency']),
    qps: positive('kube-api-qps', values['kube-api-qps']),
    burst: positive('kube-api-burst', values['kube-api-burst']),
    schedulerQps: positive('scheduler-qps', values['scheduler-qps']),
    schedulerBurst: positive('scheduler-burst', values['scheduler-burst']),
    nodeConcurrency: positive('node-concurrency', values['node-concurrency']),
    nodeLeaseSeconds: optional('node-lease-seconds', values['node-lease-seconds']),
    repeat: positive('repeat', values.repeat),
    phaseTimeoutMs: timeout === undefined ? undefined : timeout * 1000,
    podPollMs: optional('pod-poll-interval', values['pod-poll-interval']),
    settleMs: number('settle', values.settle, 0) * 1000,
    auditMode: oneOf('audit-mode', AUDIT_MODES, values['audit-mode']),
    dist: values.dist !== undefined ? resolve(values.dist) : join(repoRoot, 'dist'),
    out: values.out ?? join(repoRoot, 'bench/results', `controller-${stamp}.json`),
    keepLogs: values['keep-logs'],
    controllerNodeOptions: (values['controller-node-options'] ?? imageControllerNodeOptions())
      .split(/\s+/)
      .filter(Boolean),
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

/** The node flags the image gives the controller (hack/image-entrypoint.sh), so the benchmark runs it the same way. */
function imageControllerNodeOptions(): string {
  const script = readFileSync(join(repoRoot, 'hack/image-entrypoint.sh'), 'utf8');
  return /^CONTROLLER_NODE_OPTIONS_DEFAULT='([^']*)'/m.exec(script)?.[1] ?? '';
}

function startNode(
  name: string,
  script: string,
  args: string[],
  dir: string,
  nodeOptions: readonly string[] = [],
): HostProcess {
  const logPath = join(dir, 'logs', `${name}.log`);
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(process.execPath, [...nodeOptions, script, ...args], { stdio: ['ignore', fd, fd] });
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

/** The user a kubeconfig's client certificate names (its CN). */
function kubeconfigUser(path: string): string | undefined {
  const kubeconfig = parseYaml(readFileSync(path, 'utf8')) as { users: { user: Record<string, string> }[] };
  const pem = Buffer.from(kubeconfig.users[0]?.user['client-certificate-data'] ?? '', 'base64').toString();
  return /CN=([^,\n]+)/.exec(new x509.X509Certificate(pem).subject)?.[1];
}

/**
 * A kubeconfig like the admin's (group system:masters, so authorization is the same) but with its
 * own user name, signed by the cluster's CA: the audit log can then tell everynode's controller
 * from the benchmark's own requests by user, and log its GETs too.
 */
async function kubeconfigFor(cluster: ClusterState, commonName: string): Promise<string> {
  const pki = join(cluster.dir, 'pki');
  const caPem = readFileSync(join(pki, 'ca.crt'), 'utf8');
  const keyDer = x509.PemConverter.decode(readFileSync(join(pki, 'ca.key'), 'utf8'))[0]!;
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  const cert = new x509.X509Certificate(caPem);
  const ca = {
    cert,
    certPem: caPem,
    keyPem: '',
    keys: {
      privateKey: await webcrypto.subtle.importKey('pkcs8', keyDer, algorithm, false, ['sign']),
      publicKey: await cert.publicKey.export(algorithm, ['verify'], webcrypto),
    },
  };
  const leaf = await issueCertificate(ca, { commonName, organizations: ['system:masters'] });
  const kubeconfig = parseYaml(readFileSync(cluster.kubeconfig, 'utf8')) as {
    users: { name: string; user: Record<string, string> }[];
    contexts: { context: { user: string } }[];
  };
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  kubeconfig.users = [
    {
      name: commonName,
      user: { 'client-certificate-data': b64(leaf.certPem), 'client-key-data': b64(leaf.keyPem) },
    },
  ];
  for (const c of kubeconfig.contexts) c.context.user = commonName;
  const path = join(cluster.dir, 'kubeconfigs', `${commonName}.yaml`);
  await writeFile(path, stringifyYaml(kubeconfig), { mode: 0o600 });
  return path;
}

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
    join(options.dist, 'webhook/main.js'),
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
  const controllerKubeconfig = await kubeconfigFor(cluster, EVERYNODE_CONTROLLER_USER);
  const controller = startNode(
    'controller',
    join(options.dist, 'controller/main.js'),
    [
      `--kubeconfig=${controllerKubeconfig}`,
      '--leader-elect=false',
      `--kube-api-qps=${options.qps}`,
      `--kube-api-burst=${options.burst}`,
      `--metrics-port=${controllerMetricsPort}`,
    ],
    dir,
    options.controllerNodeOptions,
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
/** The image of the n-th rolling update (1-based): nginx:1.28, nginx:1.29, ... */
const imageOfUpdate = (n: number) => `nginx:1.${27 + n}`;

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

/** A pod no controller owns or selects: no owner, none of the DaemonSet's labels, not everynode.dev/managed. */
function unmanagedPod(i: number, nodeName: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `unmanaged-${i}`,
      labels: { app: 'unmanaged', 'bench.everynode.dev/unmanaged': 'true' },
    },
    spec: {
      nodeName,
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      containers: [
        { name: 'app', image: 'pause:3.10', resources: { requests: { cpu: '1m', memory: '4Mi' } } },
      ],
    },
  };
}

interface Check {
  done: boolean;
  seen: string;
  /** status.numberUnavailable of a status that describes the phase's generation. */
  unavailable?: number;
  /** The pod list that proved it done. */
  pods?: V1Pod[];
}

interface Measured {
  result: PhaseResult;
  /** Wall clock (ms) of the done poll; undefined when it timed out. */
  doneAtMs?: number;
  pods?: V1Pod[];
}

/** Polls `check` every 250 ms until done or the timeout; the time is taken at the done poll. */
async function measurePhase(
  start: number,
  timeoutMs: number,
  check: () => Promise<Check>,
  /** On timeout: what the pods show, next to the last status. */
  describePods: () => Promise<string>,
): Promise<Measured> {
  let maxUnavailable: number | undefined;
  let seen = 'nothing yet';
  let lastReport = performance.now();
  const unavailable = () => (maxUnavailable !== undefined ? { maxUnavailable } : {});
  while (performance.now() - start < timeoutMs) {
    try {
      const result = await check();
      seen = result.seen;
      if (result.unavailable !== undefined)
        maxUnavailable = Math.max(maxUnavailable ?? 0, result.unavailable);
      if (result.done) {
        return {
          result: { seconds: seconds(start), ...unavailable() },
          doneAtMs: Date.now(),
          ...(result.pods ? { pods: result.pods } : {}),
        };
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
  return { result: { lastSeen: seen, ...unavailable() } };
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

/** Reads the audit log as it grows (from where it stopped last time) into a WriteTally. */
class AuditLogReader {
  private offset = 0;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly path: string;
  readonly tally: WriteTally;

  constructor(path: string, tally: WriteTally) {
    this.path = path;
    this.tally = tally;
  }

  async poll(): Promise<void> {
    let file;
    try {
      file = await open(this.path, 'r');
    } catch {
      return; // nothing logged yet
    }
    try {
      const buffer = Buffer.alloc(4 << 20);
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        const lines = (this.partial + this.decoder.write(buffer.subarray(0, bytesRead))).split('\n');
        this.partial = lines.pop()!;
        for (const l of lines) this.tally.addLine(l);
      }
    } finally {
      await file.close();
    }
  }
}

/** Sums a Prometheus counter over its label sets. */
const counterSum = (text: string, metric: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${metric}{`) || l.startsWith(`${metric} `))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

async function listAll<T>(
  client: KubeClient,
  path: string,
  query: Record<string, string> = {},
): Promise<T[]> {
  const items: T[] = [];
  let next: string | undefined;
  do {
    const page: ListResult<T> = await client.list<T>(path, { ...query, limit: 500, continue: next });
    items.push(...page.items);
    next = page.metadata?.continue || undefined;
  } while (next);
  return items;
}

async function runOne(implementation: Implementation, nodes: number, options: Options): Promise<RunResult> {
  const startedAt = new Date().toISOString();
  const loadBefore = loadAverage();
  const dir = await mkdtemp(join(tmpdir(), `everynode-bench-${nodes}-`));
  const leaseSeconds = nodeLeaseSecondsFor(options, nodes);
  const phaseTimeoutMs = phaseTimeoutMsFor(options, nodes);
  const podPollMs = podPollMsFor(options, nodes);
  log(
    `=== ${implementation}, ${nodes} nodes, ${options.unmanagedPods} unmanaged pods (cluster in ${dir}; load ${loadBefore.join(' ')}; ` +
      `node lease ${leaseSeconds}s, phase timeout ${phaseTimeoutMs / 1000}s, pod poll ${podPollMs}ms)`,
  );
  cleanups.push(async () => {
    log(`stopping the cluster in ${dir}`);
    await stopCluster(dir, { keepDir: options.keepLogs });
  });
  const clientFlags = [`--kube-api-qps=${options.qps}`, `--kube-api-burst=${options.burst}`];
  // The harness's kwok renews each node's Lease every 10 s (40 s leases); at thousands of nodes that is
  // hundreds of writes a second on the shared CPUs, so longer leases above 1,000 nodes (the same in both runs).
  const leaseFlags =
    leaseSeconds === 40
      ? { kwok: [], kcm: [] }
      : {
          kwok: [`--node-lease-duration-seconds=${leaseSeconds}`],
          kcm: [`--node-monitor-grace-period=${Math.round(leaseSeconds * 1.25)}s`],
        };
  const cluster = await startCluster({
    dir,
    nodes: 0,
    controlPlane: false,
    builtInDaemonSetController: implementation === 'kube-controller-manager',
    extraArgs: {
      'kube-controller-manager': [...clientFlags, ...leaseFlags.kcm],
      'kube-scheduler': [
        `--kube-api-qps=${options.schedulerQps}`,
        `--kube-api-burst=${options.schedulerBurst}`,
      ],
      kwok: leaseFlags.kwok,
    },
    ...(options.auditMode !== 'off' ? { audit: { policy: auditPolicy(), mode: options.auditMode } } : {}),
    log: (m) => log(`  ${m}`),
  });
  const client = new ClusterClient(cluster.kubeconfig);
  // The benchmark's own bulk and polling requests: one keep-alive connection pool, no client-side limit.
  const api = new KubeClient(loadKubeConfig(cluster.kubeconfig), {
    qps: 0,
    burst: 0,
    userAgent: 'everynode-bench',
  });
  const adminUser = kubeconfigUser(cluster.kubeconfig);
  if (adminUser !== BENCH_USER)
    throw new Error(`the harness's admin user is "${adminUser}", the audit policy expects "${BENCH_USER}"`);
  const tally = new WriteTally((e) => isControllerRequest(implementation, e));
  const audit = cluster.auditLog ? new AuditLogReader(cluster.auditLog, tally) : undefined;

  const nodesStart = performance.now();
  const names = Array.from({ length: nodes }, (_, i) => workerNodeName(i + 1));
  await forEachLimited(names, options.nodeConcurrency, async (name) => {
    await api.create(resourcePath(resources.nodes), kwokNode(name));
  });
  const nodesCreatedSeconds = seconds(nodesStart);
  await waitFor(
    `${nodes} nodes to be schedulable`,
    async () => {
      const schedulable = (await listAll<V1Node>(api, resourcePath(resources.nodes))).filter(
        nodeIsSchedulable,
      ).length;
      return schedulable === nodes ? done(undefined) : notYet(`${schedulable}/${nodes} schedulable`);
    },
    { timeoutMs: Math.max(600_000, nodes * 300), intervalMs: Math.max(2_000, nodes) },
  );
  const nodesReadySeconds = seconds(nodesStart);
  log(`  ${nodes} nodes created in ${nodesCreatedSeconds}s, schedulable in ${nodesReadySeconds}s`);

  const namespace = await client.createNamespace('bench-');
  let unmanagedPods: UnmanagedPods | undefined;
  let unmanagedNamespace: string | undefined;
  const countUnmanaged = async () => {
    const path = resourcePath(resources.pods, { namespace: unmanagedNamespace });
    const all = await api.list<V1Pod>(path, { limit: 1 });
    const count =
      all.items.length +
      ((all.metadata as { remainingItemCount?: number } | undefined)?.remainingItemCount ?? 0);
    const notRunning = await listAll<V1Pod>(api, path, { fieldSelector: 'status.phase!=Running' });
    return { count, notRunning: notRunning.length };
  };
  if (options.unmanagedPods > 0) {
    unmanagedNamespace = await client.createNamespace('bench-unmanaged-');
    const path = resourcePath(resources.pods, { namespace: unmanagedNamespace });
    const count = options.unmanagedPods;
    log(`  creating ${count} unmanaged pods, ${options.unmanagedConcurrency} at a time`);
    const t0 = performance.now();
    let made = 0;
    const progress = setInterval(() => log(`  ... ${made}/${count} unmanaged pods created`), 15_000);
    try {
      await forEachLimited(
        Array.from({ length: count }, (_, i) => i),
        options.unmanagedConcurrency,
        async (i) => {
          const pod = unmanagedPod(i, workerNodeName((i % nodes) + 1));
          // A few tries: under this load a create can time out after the API server stored it.
          for (let attempt = 1; ; attempt++) {
            try {
              await api.create(path, pod);
              break;
            } catch (err) {
              if (isAlreadyExists(err) && attempt > 1) break;
              if (attempt >= 3) throw err;
              await sleep(1_000);
            }
          }
          made++;
        },
      );
    } finally {
      clearInterval(progress);
    }
    const createSeconds = seconds(t0);
    await waitFor(
      `${count} unmanaged pods to be Running`,
      async () => {
        const left = await api.list<V1Pod>(path, { fieldSelector: 'status.phase!=Running', limit: 500 });
        return left.items.length === 0
          ? done(undefined)
          : notYet(`${left.items.length}${left.metadata?.continue ? '+' : ''} not Running yet`);
      },
      { timeoutMs: Math.max(600_000, count * 60), intervalMs: 2_000 },
    );
    unmanagedPods = {
      count,
      concurrency: options.unmanagedConcurrency,
      createSeconds,
      runningSeconds: seconds(t0),
    };
    const counted = await countUnmanaged();
    if (counted.count !== count) throw new Error(`${counted.count} unmanaged pods exist, expected ${count}`);
    log(
      `  ${count} unmanaged pods created in ${createSeconds}s (${Math.round((createSeconds / count) * 1000 * 10) / 10}s per 1,000), Running after ${unmanagedPods.runningSeconds}s`,
    );
  }

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
      `everynode controller (node ${join(options.dist, 'controller/main.js')})`,
    );
    webhookProcess = new ProcessSampler(
      everynode.webhook.child.pid!,
      `everynode webhook (node ${join(options.dist, 'webhook/main.js')})`,
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
  // Every component shares the machine's CPUs: each phase records who used how much of them.
  const cpuWatched = [
    ...cluster.processes.map((p) => ({ name: p.component, pid: p.pid })),
    ...(implementation === 'everynode'
      ? [
          { name: 'everynode controller', pid: controllerProcess.pid },
          ...(webhookProcess ? [{ name: 'everynode webhook', pid: webhookProcess.pid }] : []),
        ]
      : []),
    { name: 'benchmark', pid: process.pid },
  ];
  // Let informers and the node-lifecycle controller settle before the idle figure.
  await sleep(5_000);
  await mark('idle');
  await audit?.poll(); // the backlog (node and unmanaged pod creation) is read before any phase runs

  const result: Omit<RunResult, 'controllerProcess' | 'loadAfter'> = {
    implementation,
    nodes,
    nodesReadySeconds,
    create: {},
    rollout: {},
    ...(unmanagedPods ? { unmanagedPods } : {}),
    loadBefore,
    startedAt,
  };

  const dsPath = resourcePath(resources.daemonSets, { namespace, name: 'nginx' });
  const podsPath = resourcePath(resources.pods, { namespace });
  const listPods = () => listAll<V1Pod>(api, podsPath, { labelSelector: 'app=nginx' });
  const readDs = () => api.get<V1DaemonSet>(dsPath);

  /**
   * The pods agree (podsProblem), listed at most every podPollMs: the status is polled every
   * 250 ms, but a list of thousands of pods costs the API server (and this process) much more.
   */
  const podChecker = () => {
    const stats = { count: 0, totalMs: 0, maxMs: 0 };
    let last = -Infinity;
    return {
      async check(image?: string): Promise<{ problem: string | undefined; pods: V1Pod[] } | undefined> {
        if (performance.now() - last < podPollMs) return undefined;
        const t0 = performance.now();
        last = t0;
        const pods = await listPods();
        const ms = performance.now() - t0;
        stats.count++;
        stats.totalMs += ms;
        stats.maxMs = Math.max(stats.maxMs, ms);
        return { problem: podsProblem(pods, nodes, image), pods };
      },
      stats: (): PhaseResult['podLists'] => ({
        count: stats.count,
        meanMs: stats.count > 0 ? Math.round(stats.totalMs / stats.count) : 0,
        maxMs: Math.round(stats.maxMs),
      }),
    };
  };

  /** Events on the DaemonSet: they share its client's QPS with the pod writes. */
  const daemonSetEventsNow = async (): Promise<PhaseResult['daemonSetEvents']> => {
    try {
      const events = (
        await listAll<{ involvedObject: { kind?: string }; count?: number }>(
          api,
          resourcePath(resources.events, { namespace }),
        )
      ).filter((e) => e.involvedObject.kind === 'DaemonSet');
      return { objects: events.length, count: events.reduce((n, e) => n + (e.count ?? 1), 0) };
    } catch (err) {
      log(`  could not list events: ${(err as Error).message}`);
      return undefined;
    }
  };

  /**
   * After a phase: until the controller has written nothing for 3 s (its Events and status writes
   * trail the pods), at most --settle; so one phase's tail does not take the next one's tokens.
   * Returns the wall clock at which the phase's window closes.
   */
  const settle = async (doneAtMs: number): Promise<number> => {
    const quietMs = 3_000;
    const deadline = Date.now() + options.settleMs;
    if (!audit) {
      await sleep(Math.min(quietMs, options.settleMs));
      return Date.now();
    }
    for (;;) {
      await audit.poll();
      const quietSince = Math.max(doneAtMs, tally.lastControllerWriteMs);
      if (Date.now() - quietSince >= quietMs) return Date.now();
      if (Date.now() >= deadline) {
        log(`  the controller still writes ${options.settleMs / 1000}s after the phase; going on`);
        return Date.now();
      }
      await sleep(500);
    }
  };

  /** Phase windows for the write counts: [from, to), and when the phase was done. */
  const windows: Array<{ phase: PhaseResult; fromMs: number; toMs: number; doneAtMs: number }> = [];
  const closePhase = async (phase: PhaseResult, fromMs: number, measured: Measured) => {
    const doneAtMs = measured.doneAtMs ?? Date.now();
    const toMs = await settle(doneAtMs);
    windows.push({ phase, fromMs, toMs, doneAtMs });
    const events = await daemonSetEventsNow();
    if (events) phase.daemonSetEvents = events;
  };

  log('  creating the DaemonSet');
  const createFromMs = Date.now();
  const createStart = performance.now();
  const createCpu = snapshotCpu(cpuWatched);
  await client.apps.createNamespacedDaemonSet({ namespace, body: nginxDaemonSet(namespace) });
  {
    const pods = podChecker();
    const measured = await measurePhase(
      createStart,
      phaseTimeoutMs,
      async () => {
        const ds = await readDs();
        if (!createdByStatus(ds, nodes)) return { done: false, seen: statusSummary(ds) };
        const got = await pods.check();
        if (!got) return { done: false, seen: 'status done; pods not listed yet' };
        return { done: got.problem === undefined, seen: got.problem ?? 'done', pods: got.pods };
      },
      async () => podsProblem(await listPods(), nodes) ?? 'one Ready pod per node',
    );
    result.create = {
      ...measured.result,
      podLists: pods.stats(),
      cpu: phaseCpu(createCpu, snapshotCpu(cpuWatched)),
    };
    await mark('created');
    log(`  all pods Ready: ${result.create.seconds ?? 'not done'}s`);
    await closePhase(result.create, createFromMs, measured);
  }

  const updates: UpdatePhaseResult[] = [];
  let currentMode: UpdateMode | undefined; // the annotation as set on the DaemonSet; undefined = none
  let failed = result.create.seconds === undefined;
  for (const [index, mode] of options.updateModes.entries()) {
    const fromImage = index === 0 ? IMAGE : imageOfUpdate(index);
    const image = imageOfUpdate(index + 1);
    const phase: UpdatePhaseResult = {
      mode,
      fromImage,
      image,
      mark: index === 0 ? 'rolled' : `rolled-${index + 1}`,
    };
    updates.push(phase);
    if (failed) continue; // skipped: not done
    log(`  rolling update ${fromImage} → ${image}, ${mode}`);
    const podsBefore = await listPods();
    const before = podUidsByNode(podsBefore);
    const fromMs = Date.now();
    // The update mode is a metadata change (no new template, no new generation); Recreate is also
    // what no annotation means, so the first Recreate phase sends nothing (as before the option).
    if (mode !== (currentMode ?? 'Recreate')) {
      await client.objects.patch(
        {
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          metadata: { name: 'nginx', namespace, annotations: { [UPDATE_MODE_ANNOTATION]: mode } },
        },
        undefined,
        undefined,
        'everynode-bench',
        undefined,
        PatchStrategy.StrategicMergePatch,
      );
      currentMode = mode;
    }
    const rolloutStart = performance.now();
    const rolloutCpu = snapshotCpu(cpuWatched);
    // What `kubectl set image` sends: a strategic merge patch of the one container.
    const setImage: KubernetesObject & { spec: unknown } = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'nginx', namespace },
      spec: { template: { spec: { containers: [{ name: 'nginx', image }] } } },
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
    const pods = podChecker();
    const measured = await measurePhase(
      rolloutStart,
      phaseTimeoutMs,
      async () => {
        const ds = await readDs();
        const unavailable = statusIsCurrent(ds, generation) ? (ds.status?.numberUnavailable ?? 0) : undefined;
        const base = { seen: statusSummary(ds), ...(unavailable !== undefined ? { unavailable } : {}) };
        if (!rolledByStatus(ds, nodes, generation)) return { ...base, done: false };
        const got = await pods.check(image);
        if (!got) return { ...base, done: false, seen: 'status done; pods not listed yet' };
        return { ...base, done: got.problem === undefined, seen: got.problem ?? 'done', pods: got.pods };
      },
      async () => podsProblem(await listPods(), nodes, image) ?? 'one updated Ready pod per node',
    );
    Object.assign(phase, measured.result, {
      podLists: pods.stats(),
      cpu: phaseCpu(rolloutCpu, snapshotCpu(cpuWatched)),
    });
    if (measured.pods) {
      phase.podsKept = podsKept(before, podUidsByNode(measured.pods));
      phase.containerRestarts = containerRestarts(podsBefore, measured.pods);
    }
    await mark(phase.mark);
    log(
      `  ${mode} rolling update: ${phase.seconds !== undefined ? `${phase.seconds}s` : 'not done'} (max unavailable seen ${phase.maxUnavailable ?? '-'}` +
        `, pods kept ${phase.podsKept ?? '-'}/${nodes})`,
    );
    await closePhase(phase, fromMs, measured);
    failed = phase.seconds === undefined;
  }
  result.updates = updates;
  result.rollout = updates[0] ?? {};

  // The write counts: each phase's window runs to the next one's start (or the end of its settle).
  let auditInfo: AuditInfo = { mode: 'off', lines: 0, unparsable: 0 };
  if (audit) {
    await audit.poll();
    // Contiguous: a phase's window runs to the next one's start, so no write falls between two.
    for (const [i, w] of windows.entries()) {
      const toMs = windows[i + 1]?.fromMs ?? w.toMs;
      w.phase.writes = tally.summarize(w.fromMs, toMs, nodes, w.doneAtMs);
    }
    result.idleWrites = tally.summarize(0, createFromMs, nodes);
    auditInfo = { mode: options.auditMode, lines: tally.lines, unparsable: tally.unparsable };
    try {
      const metrics = (await client.kubectl(['get', '--raw', '/metrics'])).stdout;
      auditInfo.dropped = counterSum(metrics, 'apiserver_audit_error_total');
    } catch (err) {
      log(`  could not read kube-apiserver's audit metrics: ${(err as Error).message}`);
    }
    if (auditInfo.dropped)
      log(`  WARNING: kube-apiserver dropped ${auditInfo.dropped} audit events: write counts are low`);
  }
  result.audit = auditInfo;
  if (unmanagedPods) {
    unmanagedPods.atEnd = await countUnmanaged();
    if (unmanagedPods.atEnd.count !== unmanagedPods.count || unmanagedPods.atEnd.notRunning > 0)
      log(`  WARNING: unmanaged pods at the end: ${JSON.stringify(unmanagedPods.atEnd)}`);
  }

  const daemonSetEvents = await daemonSetEventsNow();
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
    settings: { nodeLeaseSeconds: leaseSeconds, phaseTimeoutSeconds: phaseTimeoutMs / 1000, podPollMs },
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
  const writes = (name: string, w: WriteSummary | undefined) =>
    w ? `${name} ${w.total} (${w.perPod}/pod, ${w.events} Event writes)` : undefined;
  log(
    `  writes: ${[writes('idle', result.idleWrites), writes('create', result.create.writes), ...updates.map((u) => writes(u.mode, u.writes))].filter(Boolean).join('; ')}`,
  );
  return finished;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  for (const built of ['controller/main.js', 'webhook/main.js'].map((f) => join(options.dist, f))) {
    if (!existsSync(built))
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
  // Written after every run, so a failure late in a long benchmark keeps what was measured.
  const save = async () => {
    const report = {
      command: `node bench/controller/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
      machine,
      options: { ...options, out: undefined },
      results,
    };
    await mkdir(join(options.out, '..'), { recursive: true });
    await writeFile(options.out, JSON.stringify(report, null, 2) + '\n');
  };
  // Repeats alternate the controllers, so a change in the machine's load hits both alike.
  for (const nodes of options.nodes) {
    for (let round = 1; round <= options.repeat; round++) {
      for (const implementation of options.implementations) {
        try {
          results.push(await runOne(implementation, nodes, options));
          await save();
        } catch (err) {
          log(`${implementation} on ${nodes} nodes failed: ${(err as Error).stack ?? String(err)}`);
          if (results.length > 0) log(`results so far: ${options.out}`);
          throw err;
        } finally {
          await cleanUp();
        }
      }
    }
  }

  log(`results: ${options.out}`);
  console.log(resultsTable(results));
  if (options.auditMode !== 'off')
    console.log(`\nAPI writes of the controller, per phase:\n\n${writesTable(results)}`);
  console.log(
    `\nCPU while each phase ran (machine: share of all ${machine.cpus} CPUs busy; components: % of one CPU):\n\n${cpuTable(results)}`,
  );
  console.log(
    `\n${options.repeat > 1 ? `Medians of ${options.repeat} runs` : 'Per controller (one run each)'}:\n\n${mediansTable(results)}`,
  );
}

await main().catch(async (err: unknown) => {
  await cleanUp();
  log(`benchmark failed: ${(err as Error).message}`);
  process.exit(1);
});
