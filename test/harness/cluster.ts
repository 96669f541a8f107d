// A real Kubernetes control plane on loopback for tests and the local demo:
// etcd, kube-apiserver, kube-controller-manager (built-in DaemonSet controller
// off), kube-scheduler and kwok (fake kubelets), built from Go modules into
// bin/ by `make tools`. Everything lives in one state directory:
//
//   <dir>/kubeconfig                admin (system:masters) kubeconfig
//   <dir>/state.json                ports, pids and binaries of the running components
//   <dir>/logs/<component>.log      each component's output
//   <dir>/pki/, <dir>/kubeconfigs/  certificates and keys minted at start, per-component kubeconfigs
//   <dir>/etcd/                     etcd's data
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { ClusterClient, CONTROL_PLANE_ROLE } from './kube.ts';
import {
  createAuthority,
  createSigningKeyPair,
  issueCertificate,
  type Authority,
  type KeyPairPem,
} from './pki.ts';
import {
  isRunning,
  startDetached,
  stopProcesses,
  tailOf,
  type Running,
  type StartedProcess,
} from './processes.ts';
import { binDir as defaultBinDir, requireTools, toolPath, type Tool } from './tools.ts';
import { done, notYet, waitFor } from './wait.ts';

export const KWOK_CONFIG = fileURLToPath(new URL('./kwok.yaml', import.meta.url));
export const SERVICE_CIDR = '10.0.0.0/24';
/** kwok's pod IP pool: large (kwok keeps counting) and apart from the service range. */
export const POD_CIDR = '10.64.0.0/10';
export const CONTROL_PLANE_NODE = 'kwok-control-plane';
export const workerNodeName = (i: number) => `kwok-worker-${i}`;

export interface ClusterOptions {
  /** State directory; created, and must not hold a running cluster. */
  dir: string;
  /** kwok worker nodes (default 4). */
  nodes?: number;
  /** Also a `kwok-control-plane` node tainted node-role.kubernetes.io/control-plane:NoSchedule (default true). */
  controlPlane?: boolean;
  binDir?: string;
  /**
   * Run kube-controller-manager's own DaemonSet controller (default false:
   * everynode replaces it). For the benchmark's comparison run.
   */
  builtInDaemonSetController?: boolean;
  /** Flags appended after the defaults (a repeated scalar flag takes the last value), e.g. client QPS. */
  extraArgs?: Partial<
    Record<'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok', string[]>
  >;
  /**
   * kube-apiserver's audit log (default: none): the policy is written to `<dir>/audit-policy.yaml`, the
   * log (JSON lines, audit.k8s.io/v1, never rotated) goes to `<dir>/logs/audit.log` (ClusterState.auditLog).
   */
  audit?: AuditOptions;
  /** Progress messages (default: none). */
  log?: (message: string) => void;
}

export interface AuditOptions {
  /** An audit.k8s.io/v1 Policy (apiVersion and kind may be left out). */
  policy: Record<string, unknown>;
  /**
   * `--audit-log-mode`: `blocking` (the default) writes each event on the request's goroutine; `batch`
   * buffers them and writes asynchronously (a full buffer drops events: apiserver_audit_error_total).
   */
  mode?: 'blocking' | 'batch' | 'blocking-strict';
}

export interface ClusterPorts {
  etcdClient: number;
  etcdPeer: number;
  apiServer: number;
  controllerManager: number;
  scheduler: number;
  kwok: number;
}

/** A component as recorded in state.json: also its flags, so it can be started again (startComponent). */
export interface ComponentProcess extends StartedProcess {
  /** Absent in a state.json written before the flags were recorded. */
  args?: string[];
}

export interface ClusterState {
  dir: string;
  kubeconfig: string;
  server: string;
  ports: ClusterPorts;
  processes: ComponentProcess[];
  nodes: string[];
  startedAt: string;
  /** The audit log, when started with `audit`. */
  auditLog?: string;
}

const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
] as const satisfies Tool[];

/** A component did not come up; the message names it and quotes its log. */
export class ComponentStartError extends Error {
  readonly component: string;
  readonly log: string;
  constructor(component: string, log: string, reason: string) {
    super(
      `${component} failed to start: ${reason}\n--- last lines of ${log} ---\n${tailOf(log)}\n--- end of ${log} ---`,
    );
    this.name = 'ComponentStartError';
    this.component = component;
    this.log = log;
  }
}

export class ClusterRunningError extends Error {
  readonly state: ClusterState;
  constructor(state: ClusterState) {
    super(`a cluster is already running from ${state.dir} (kubeconfig ${state.kubeconfig})`);
    this.name = 'ClusterRunningError';
    this.state = state;
  }
}

const statePath = (dir: string) => join(dir, 'state.json');

export function readClusterState(dir: string): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(dir), 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

export interface ClusterStatus {
  state: ClusterState | undefined;
  /** Component name → its process is alive. */
  components: Record<string, boolean>;
  /** Every recorded component is alive. */
  running: boolean;
}

export function clusterStatus(dir: string): ClusterStatus {
  const state = readClusterState(dir);
  const components: Record<string, boolean> = {};
  for (const p of state?.processes ?? []) components[p.component] = isRunning(p.pid, p.binary);
  const alive = Object.values(components);
  return { state, components, running: alive.length === COMPONENTS.length && alive.every(Boolean) };
}

/** Stops every process recorded in `dir` (by pid) and removes the directory. */
export async function stopCluster(dir: string, options: { keepDir?: boolean } = {}): Promise<void> {
  const state = readClusterState(dir);
  if (state) await stopProcesses([...state.processes].reverse());
  if (!options.keepDir) await rm(dir, { recursive: true, force: true });
}

export type Component = (typeof COMPONENTS)[number];

function recordedComponent(
  dir: string,
  component: Component,
): { state: ClusterState; proc: ComponentProcess } {
  const state = readClusterState(dir);
  if (!state) throw new Error(`no cluster state in ${dir}`);
  const proc = state.processes.find((p) => p.component === component);
  if (!proc) throw new Error(`${component} is not part of the cluster in ${dir}`);
  return { state, proc };
}

/**
 * Stops one component of a running cluster (SIGTERM, then SIGKILL), e.g. kube-apiserver to
 * make an outage; `startComponent` starts it again. state.json keeps its flags.
 */
export async function stopComponent(dir: string, component: Component): Promise<void> {
  await stopProcesses([recordedComponent(dir, component).proc]);
}

/**
 * Starts a stopped component again with the flags it was first started with, records its new
 * pid in state.json (so `stopCluster` stops it) and waits until it is healthy. A component
 * that still runs is left alone.
 */
export async function startComponent(
  dir: string,
  component: Component,
  options: { timeoutMs?: number } = {},
): Promise<ComponentProcess> {
  const { state, proc: previous } = recordedComponent(dir, component);
  if (isRunning(previous.pid, previous.binary)) return previous;
  if (!previous.args?.length)
    throw new Error(`${dir}/state.json has no flags for ${component}; restart the cluster`);
  const p = startDetached(component, previous.binary, previous.args, previous.log);
  const next: ComponentProcess = { ...previous, pid: p.pid };
  const processes = state.processes.map((q) => (q.component === component ? next : q));
  await writeFile(statePath(dir), JSON.stringify({ ...state, processes }, null, 2) + '\n');

  const caPath = join(dir, 'pki', 'ca.crt');
  const ca = readFileSync(caPath, 'utf8');
  const probes: Record<Component, () => Promise<Probe>> = {
    etcd: () => get(`http://127.0.0.1:${state.ports.etcdClient}/health`),
    'kube-apiserver': () => {
      const kubeconfig = parse(readFileSync(state.kubeconfig, 'utf8')) as {
        users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
      };
      const user = kubeconfig.users[0]!.user;
      const pem = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
      return get(`${state.server}/readyz`, {
        ca,
        cert: pem(user['client-certificate-data']),
        key: pem(user['client-key-data']),
      });
    },
    'kube-controller-manager': () =>
      get(`https://127.0.0.1:${state.ports.controllerManager}/healthz`, { ca }),
    'kube-scheduler': () => get(`https://127.0.0.1:${state.ports.scheduler}/healthz`, { ca }),
    kwok: () => get(`http://127.0.0.1:${state.ports.kwok}/healthz`),
  };
  try {
    await waitFor(
      `${component} to be healthy`,
      async () => {
        const r = await probes[component]();
        return r.status === 200 ? done(undefined) : notYet(`HTTP ${r.status}: ${r.body.slice(0, 500)}`);
      },
      {
        timeoutMs: options.timeoutMs ?? 90_000,
        intervalMs: 200,
        abortIf: () =>
          p.exited
            ? new ComponentStartError(
                component,
                p.log,
                `exited with ${p.exited.signal ?? `code ${String(p.exited.code)}`}`,
              )
            : undefined,
      },
    );
  } catch (err) {
    if (err instanceof ComponentStartError) throw err;
    throw new ComponentStartError(component, p.log, (err as Error).message);
  }
  return next;
}

/** Distinct free loopback ports: all listeners stay open until every port is known. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected listener address');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

interface Probe {
  status: number;
  body: string;
}

/** One GET with a short deadline; TLS material as for https.request. */
function get(url: string, tls: { ca?: string; cert?: string; key?: string } = {}): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { ...tls, timeout: 3_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 3 s`)));
    req.on('error', reject);
    req.end();
  });
}

function kubeconfigYaml(server: string, ca: string, client: KeyPairPem, user: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'everynode', cluster: { server, 'certificate-authority-data': b64(ca) } }],
    users: [
      {
        name: user,
        user: { 'client-certificate-data': b64(client.certPem), 'client-key-data': b64(client.keyPem) },
      },
    ],
    contexts: [{ name: 'everynode', context: { cluster: 'everynode', user, namespace: 'default' } }],
    'current-context': 'everynode',
    preferences: {},
  });
}

interface Pki {
  ca: Authority;
  /** The admin client certificate (system:masters), for the harness's own probes. */
  admin: KeyPairPem;
  files: Record<
    | 'caCert'
    | 'caKey'
    | 'apiServerCert'
    | 'apiServerKey'
    | 'controllerManagerCert'
    | 'controllerManagerKey'
    | 'schedulerCert'
    | 'schedulerKey'
    | 'frontProxyCert'
    | 'frontProxyKey'
    | 'serviceAccountKey'
    | 'serviceAccountPub',
    string
  >;
  kubeconfigs: Record<'admin' | 'controllerManager' | 'scheduler' | 'kwok', string>;
}

async function writePki(dir: string, server: string): Promise<Pki> {
  const pki = join(dir, 'pki');
  const kcDir = join(dir, 'kubeconfigs');
  await mkdir(pki, { recursive: true, mode: 0o700 });
  await mkdir(kcDir, { recursive: true, mode: 0o700 });
  const ca = await createAuthority('everynode-test-ca');
  const loopback = ['127.0.0.1', 'localhost'];
  const [
    apiServer,
    controllerManagerServing,
    schedulerServing,
    admin,
    controllerManager,
    scheduler,
    kwok,
    frontProxy,
    sa,
  ] = await Promise.all([
    issueCertificate(ca, {
      commonName: 'kube-apiserver',
      // 10.0.0.1 is the `kubernetes` Service's ClusterIP in SERVICE_CIDR.
      hosts: [
        ...loopback,
        '10.0.0.1',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
    }),
    issueCertificate(ca, { commonName: 'kube-controller-manager', hosts: loopback }),
    issueCertificate(ca, { commonName: 'kube-scheduler', hosts: loopback }),
    issueCertificate(ca, { commonName: 'everynode-admin', organizations: ['system:masters'] }),
    // The controller-manager and scheduler run as the users the default RBAC
    // policy grants their permissions to, as kubeadm sets them up.
    issueCertificate(ca, { commonName: 'system:kube-controller-manager' }),
    issueCertificate(ca, { commonName: 'system:kube-scheduler' }),
    issueCertificate(ca, { commonName: 'kwok-controller', organizations: ['system:masters'] }),
    // The API server's client identity towards aggregated API servers (request-header authentication).
    issueCertificate(ca, { commonName: 'front-proxy-client' }),
    createSigningKeyPair(),
  ]);
  const files: Pki['files'] = {
    caCert: join(pki, 'ca.crt'),
    caKey: join(pki, 'ca.key'),
    apiServerCert: join(pki, 'apiserver.crt'),
    apiServerKey: join(pki, 'apiserver.key'),
    controllerManagerCert: join(pki, 'controller-manager.crt'),
    controllerManagerKey: join(pki, 'controller-manager.key'),
    schedulerCert: join(pki, 'scheduler.crt'),
    schedulerKey: join(pki, 'scheduler.key'),
    frontProxyCert: join(pki, 'front-proxy-client.crt'),
    frontProxyKey: join(pki, 'front-proxy-client.key'),
    serviceAccountKey: join(pki, 'sa.key'),
    serviceAccountPub: join(pki, 'sa.pub'),
  };
  const kubeconfigs: Pki['kubeconfigs'] = {
    admin: join(dir, 'kubeconfig'),
    controllerManager: join(kcDir, 'kube-controller-manager.yaml'),
    scheduler: join(kcDir, 'kube-scheduler.yaml'),
    kwok: join(kcDir, 'kwok.yaml'),
  };
  const writes: [string, string][] = [
    [files.caCert, ca.certPem],
    [files.caKey, ca.keyPem],
    [files.apiServerCert, apiServer.certPem],
    [files.apiServerKey, apiServer.keyPem],
    [files.controllerManagerCert, controllerManagerServing.certPem],
    [files.controllerManagerKey, controllerManagerServing.keyPem],
    [files.schedulerCert, schedulerServing.certPem],
    [files.schedulerKey, schedulerServing.keyPem],
    [files.frontProxyCert, frontProxy.certPem],
    [files.frontProxyKey, frontProxy.keyPem],
    [files.serviceAccountKey, sa.privateKeyPem],
    [files.serviceAccountPub, sa.publicKeyPem],
    [kubeconfigs.admin, kubeconfigYaml(server, ca.certPem, admin, 'everynode-admin')],
    [
      kubeconfigs.controllerManager,
      kubeconfigYaml(server, ca.certPem, controllerManager, 'kube-controller-manager'),
    ],
    [kubeconfigs.scheduler, kubeconfigYaml(server, ca.certPem, scheduler, 'kube-scheduler')],
    [kubeconfigs.kwok, kubeconfigYaml(server, ca.certPem, kwok, 'kwok-controller')],
  ];
  await Promise.all(writes.map(([path, text]) => writeFile(path, text, { mode: 0o600 })));
  return { ca, admin, files, kubeconfigs };
}

/**
 * Starts a cluster in `options.dir` and returns when every node is Ready and
 * schedulable. On failure, stops what it started (logs stay in the directory)
 * and throws, a ComponentStartError naming the component when one failed.
 */
export async function startCluster(options: ClusterOptions): Promise<ClusterState> {
  const { dir } = options;
  const workers = options.nodes ?? 4;
  const withControlPlane = options.controlPlane ?? true;
  const bin = options.binDir ?? defaultBinDir;
  const log = options.log ?? (() => {});
  const began = Date.now();
  const elapsed = () => `${((Date.now() - began) / 1000).toFixed(1)}s`;

  requireTools(COMPONENTS, bin);
  const existing = clusterStatus(dir);
  if (existing.state && Object.values(existing.components).some(Boolean)) {
    if (existing.running) throw new ClusterRunningError(existing.state);
    // Half alive: a crashed component. Stop the rest before starting afresh.
    await stopCluster(dir);
  }
  // A previous run's leftovers (dead processes, old certificates and etcd data) would only confuse.
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  await mkdir(join(dir, 'etcd'), { recursive: true, mode: 0o700 });

  const [etcdClient, etcdPeer, apiServer, controllerManager, scheduler, kwokPort] = await freePorts(6);
  const ports: ClusterPorts = {
    etcdClient: etcdClient!,
    etcdPeer: etcdPeer!,
    apiServer: apiServer!,
    controllerManager: controllerManager!,
    scheduler: scheduler!,
    kwok: kwokPort!,
  };
  const server = `https://127.0.0.1:${ports.apiServer}`;
  const pki = await writePki(dir, server);
  const state: ClusterState = {
    dir,
    kubeconfig: pki.kubeconfigs.admin,
    server,
    ports,
    processes: [],
    nodes: [],
    startedAt: new Date().toISOString(),
  };
  const auditArgs: string[] = [];
  if (options.audit) {
    const policyFile = join(dir, 'audit-policy.yaml');
    state.auditLog = join(dir, 'logs', 'audit.log');
    await writeFile(
      policyFile,
      stringify({ apiVersion: 'audit.k8s.io/v1', kind: 'Policy', ...options.audit.policy }),
    );
    auditArgs.push(
      `--audit-policy-file=${policyFile}`,
      `--audit-log-path=${state.auditLog}`,
      '--audit-log-format=json',
      `--audit-log-mode=${options.audit.mode ?? 'blocking'}`,
      // One file for the whole run: no rotation, no clean-up by age or count.
      '--audit-log-maxsize=0',
      '--audit-log-maxage=0',
      '--audit-log-maxbackup=0',
    );
  }
  const running: Running[] = [];
  const argsOf = new Map<Running, string[]>();
  const recorded = (p: Running): ComponentProcess => {
    const { component, pid, binary, log } = p;
    return { component, pid, binary, log, args: argsOf.get(p) ?? [] };
  };
  const saveState = () =>
    writeFile(
      statePath(dir),
      JSON.stringify(
        {
          ...state,
          processes: running.map(recorded),
        },
        null,
        2,
      ) + '\n',
    );

  const start = async (component: Tool, args: string[]): Promise<Running> => {
    const p = startDetached(component, toolPath(component, bin), args, join(dir, 'logs', `${component}.log`));
    running.push(p);
    argsOf.set(p, args);
    await saveState(); // at once, so a crash of this process still leaves the pids for `down`
    return p;
  };
  /** Waits for `probe` to succeed while the process lives; a death or timeout names the component. */
  const awaitHealthy = async (p: Running, probe: () => Promise<boolean | string>, timeoutMs = 60_000) => {
    try {
      await waitFor(
        `${p.component} to be healthy`,
        async () => {
          const result = await probe();
          return result === true ? done(undefined) : notYet(result);
        },
        {
          timeoutMs,
          intervalMs: 200,
          abortIf: () =>
            p.exited
              ? new ComponentStartError(
                  p.component,
                  p.log,
                  `exited with ${p.exited.signal ?? `code ${String(p.exited.code)}`}`,
                )
              : undefined,
        },
      );
    } catch (err) {
      if (err instanceof ComponentStartError) throw err;
      throw new ComponentStartError(p.component, p.log, (err as Error).message);
    }
    log(`${p.component} is healthy (${elapsed()})`);
  };
  const healthy =
    (url: string, tls: { ca?: string; cert?: string; key?: string } = {}) =>
    async () => {
      const r = await get(url, tls);
      return r.status === 200 ? true : `HTTP ${r.status}: ${r.body.slice(0, 500)}`;
    };

  try {
    const etcd = await start('etcd', [
      '--name=everynode',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${ports.etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${ports.etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
      `--initial-cluster=everynode=http://127.0.0.1:${ports.etcdPeer}`,
      // A throwaway store: no fsync (much faster on slow disks), compact often.
      '--unsafe-no-fsync=true',
      '--auto-compaction-retention=1',
      '--quota-backend-bytes=8589934592',
    ]);
    await awaitHealthy(etcd, healthy(`http://127.0.0.1:${ports.etcdClient}/health`));

    const apiserver = await start('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${ports.apiServer}`,
      `--tls-cert-file=${pki.files.apiServerCert}`,
      `--tls-private-key-file=${pki.files.apiServerKey}`,
      `--client-ca-file=${pki.files.caCert}`,
      `--cert-dir=${join(dir, 'pki')}`,
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=true',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.files.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.files.serviceAccountKey}`,
      // Request-header authentication, which the controller-manager and scheduler read from
      // kube-system/extension-apiserver-authentication (and complain about when it is missing).
      `--requestheader-client-ca-file=${pki.files.caCert}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${pki.files.frontProxyCert}`,
      `--proxy-client-key-file=${pki.files.frontProxyKey}`,
      // Nothing can reach a loopback IP through the `kubernetes` Service; keep it out of the Endpoints.
      '--endpoint-reconciler-type=none',
      // A test cluster under bursts of controller traffic: no server-side throttling.
      '--enable-priority-and-fairness=false',
      '--max-requests-inflight=0',
      '--max-mutating-requests-inflight=0',
      ...auditArgs,
      ...(options.extraArgs?.['kube-apiserver'] ?? []),
    ]);
    const admin = { ca: pki.ca.certPem, cert: pki.admin.certPem, key: pki.admin.keyPem };
    await awaitHealthy(apiserver, healthy(`${server}/readyz`, admin), 90_000);

    const [kcm, sched, kwok] = await Promise.all([
      start('kube-controller-manager', [
        `--kubeconfig=${pki.kubeconfigs.controllerManager}`,
        `--authentication-kubeconfig=${pki.kubeconfigs.controllerManager}`,
        `--authorization-kubeconfig=${pki.kubeconfigs.controllerManager}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.controllerManager}`,
        `--tls-cert-file=${pki.files.controllerManagerCert}`,
        `--tls-private-key-file=${pki.files.controllerManagerKey}`,
        '--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics',
        // everynode replaces the built-in DaemonSet controller; everything else stays on.
        options.builtInDaemonSetController ? '--controllers=*' : '--controllers=*,-daemonset',
        `--root-ca-file=${pki.files.caCert}`,
        `--service-account-private-key-file=${pki.files.serviceAccountKey}`,
        '--use-service-account-credentials=true',
        `--cluster-signing-cert-file=${pki.files.caCert}`,
        `--cluster-signing-key-file=${pki.files.caKey}`,
        '--leader-elect=false',
        '--kube-api-qps=100',
        '--kube-api-burst=200',
        ...(options.extraArgs?.['kube-controller-manager'] ?? []),
      ]),
      start('kube-scheduler', [
        `--kubeconfig=${pki.kubeconfigs.scheduler}`,
        `--authentication-kubeconfig=${pki.kubeconfigs.scheduler}`,
        `--authorization-kubeconfig=${pki.kubeconfigs.scheduler}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.scheduler}`,
        `--tls-cert-file=${pki.files.schedulerCert}`,
        `--tls-private-key-file=${pki.files.schedulerKey}`,
        '--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics',
        '--leader-elect=false',
        ...(options.extraArgs?.['kube-scheduler'] ?? []),
      ]),
      start('kwok', [
        `--kubeconfig=${pki.kubeconfigs.kwok}`,
        `--config=${KWOK_CONFIG}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        `--cidr=${POD_CIDR}`,
        '--node-ip=127.0.0.1',
        `--node-port=${ports.kwok}`,
        `--server-address=127.0.0.1:${ports.kwok}`,
        // Liveness through node Leases, as kubelets do (the heartbeat stage updates status rarely).
        '--node-lease-duration-seconds=40',
        ...(options.extraArgs?.kwok ?? []),
      ]),
    ]);
    const serving = { ca: pki.ca.certPem };
    await Promise.all([
      awaitHealthy(kcm, healthy(`https://127.0.0.1:${ports.controllerManager}/healthz`, serving)),
      awaitHealthy(sched, healthy(`https://127.0.0.1:${ports.scheduler}/healthz`, serving)),
      awaitHealthy(kwok, healthy(`http://127.0.0.1:${ports.kwok}/healthz`)),
    ]);

    const client = new ClusterClient(pki.kubeconfigs.admin);
    const nodes: string[] = [];
    if (withControlPlane) {
      await client.addNode(
        CONTROL_PLANE_NODE,
        { [CONTROL_PLANE_ROLE]: '' },
        [{ key: CONTROL_PLANE_ROLE, effect: 'NoSchedule' }],
        {
          wait: false,
        },
      );
      nodes.push(CONTROL_PLANE_NODE);
    }
    for (let i = 1; i <= workers; i++) {
      await client.addNode(workerNodeName(i), {}, [], { wait: false });
      nodes.push(workerNodeName(i));
    }
    state.nodes = nodes;
    await saveState();
    // Ready comes from kwok; lifting the not-ready taint from KCM's node-lifecycle controller.
    await waitFor(
      'the nodes to be schedulable',
      async () => done(await client.waitForNodesSchedulable(nodes, { timeoutMs: 90_000 })),
      {
        timeoutMs: 90_000,
        abortIf: () => {
          const dead = running.find((p) => p.exited);
          return dead
            ? new ComponentStartError(dead.component, dead.log, 'exited while nodes were starting')
            : undefined;
        },
      },
    );
    log(`${nodes.length} nodes are Ready (${elapsed()})`);
    // The ServiceAccount admission plugin rejects pods until this exists.
    await waitFor('ServiceAccount default/default', async () => {
      await client.core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      return done(undefined);
    });
    log(`cluster is up (${elapsed()}): KUBECONFIG=${state.kubeconfig}`);
    return {
      ...state,
      processes: running.map(recorded),
    };
  } catch (err) {
    await stopProcesses([...running].reverse());
    throw err;
  }
}
