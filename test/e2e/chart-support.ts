// Shared by the chart e2e tests: rendering the chart, reading the objects it
// renders, and cert-manager's CRDs for the cert-manager TLS mode.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { generateCertificateAuthority, generateServingCertificate } from '../../src/lib/certs.ts';
import type { ClusterClient } from '../harness/kube.ts';
import { repoRoot } from '../harness/tools.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';

export const CHART = join(repoRoot, 'charts/everynode');
/** The cluster's version, so `helm template` checks against it rather than Helm's built-in default. */
export const KUBE_VERSION = '1.37.2';
export const CERT_MANAGER_MODULE = 'github.com/cert-manager/cert-manager@v1.21.1';

/** A rendered object, loosely typed: tests read fields by path. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Rendered = Record<string, any>;

export function parseObjects(yamlText: string): Rendered[] {
  return parseAllDocuments(yamlText)
    .map((doc) => {
      if (doc.errors.length > 0)
        throw new Error(`helm rendered bad YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as Rendered | null;
    })
    .filter((o): o is Rendered => o !== null && typeof o === 'object');
}

/** `--set k=v` pairs for helm from a flat map (values containing commas go through --set-json). */
export function setArgs(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]);
}

export async function renderChart(
  cluster: ClusterClient,
  release: string,
  namespace: string,
  values: Record<string, unknown>,
): Promise<{ text: string; objects: Rendered[] }> {
  const { stdout } = await cluster.helm([
    'template',
    release,
    CHART,
    '--namespace',
    namespace,
    '--kube-version',
    KUBE_VERSION,
    ...setArgs(values),
  ]);
  return { text: stdout, objects: parseObjects(stdout) };
}

export const find = (objects: Rendered[], kind: string, name?: string): Rendered => {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  if (!found)
    throw new Error(
      `no ${kind}${name ? ` ${name}` : ''} among ${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`,
    );
  return found;
};

export const kinds = (objects: Rendered[]): string[] => objects.map((o) => String(o.kind)).sort();

/**
 * cert-manager's CRDs, from its Go module (the module cache keeps it, so only
 * the first run downloads), applied server-side and waited for.
 */
export async function installCertManagerCrds(cluster: ClusterClient): Promise<void> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('go', ['mod', 'download', '-json', CERT_MANAGER_MODULE], {
      // Outside any module, so no go.mod is consulted or changed.
      cwd: tmpdir(),
      maxBuffer: 16 * 1024 * 1024,
      timeout: 300_000,
    }));
  } catch (err) {
    throw new Error(
      `downloading ${CERT_MANAGER_MODULE} for its CRDs failed (needs Go): ${(err as Error).message}`,
      { cause: err },
    );
  }
  const { Dir } = JSON.parse(stdout) as { Dir?: string };
  if (!Dir) throw new Error(`go mod download gave no directory for ${CERT_MANAGER_MODULE}: ${stdout}`);
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(Dir, 'deploy/crds')]);
  for (const crd of [
    'certificates.cert-manager.io',
    'issuers.cert-manager.io',
    'clusterissuers.cert-manager.io',
  ]) {
    await cluster.waitForCrdEstablished(crd);
  }
}

export interface HostEverynode {
  release: string;
  namespace: string;
  webhookPort: number;
  webhookMetricsPort: number;
  controllerMetricsPort: number;
  /** Directory with the certificates, the ServiceAccount kubeconfig and both processes' logs. */
  dir: string;
  /** What `helm install` printed (the release summary and NOTES.txt). */
  installOutput: string;
  /** An error naming the process that died (with its log), for waitFor's abortIf. */
  exited(): Error | undefined;
  /** `controller_runtime_webhook_requests_total` for /mutate with HTTP 200, from the webhook's /metrics. */
  admissionsServed(): Promise<number>;
  /** Stops both processes (the release stays installed). */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * everynode as a developer runs it against a local cluster: the chart installed
 * in development mode (the API server calls the webhook at a 127.0.0.1 URL),
 * and the webhook and controller running on the host from source. The
 * controller authenticates as the chart's own ServiceAccount, with leader
 * election on the chart's Lease, so the chart's RBAC is exactly what it gets.
 * The controller Deployment is rendered at 0 replicas: its ServiceAccount and
 * RBAC exist, no in-cluster copy competes. `mode: 'crd'` installs with
 * `--set mode=crd` and runs the controller with `--mode=crd` (default native:
 * neither).
 */
export async function installEverynodeOnHost(
  cluster: ClusterClient,
  options: {
    release: string;
    namespace: string;
    values?: Record<string, unknown>;
    mode?: 'native' | 'crd';
  },
): Promise<HostEverynode> {
  const { release, namespace } = options;
  const crd = options.mode === 'crd';
  const dir = await mkdtemp(join(tmpdir(), `everynode-${release}-`));
  const ca = await generateCertificateAuthority({ commonName: `${release}-dev-ca` });
  const serving = await generateServingCertificate(ca, { hosts: ['127.0.0.1'], validDays: 30 });
  await writeFile(join(dir, 'tls.crt'), serving.certPem);
  await writeFile(join(dir, 'tls.key'), serving.keyPem, { mode: 0o600 });
  const [webhookPort, webhookMetricsPort, controllerMetricsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];

  const { stdout: installOutput } = await cluster.helm([
    'install',
    release,
    CHART,
    '--namespace',
    namespace,
    ...setArgs({
      'webhook.url': `https://127.0.0.1:${webhookPort}/mutate`,
      'webhook.caBundle': Buffer.from(ca.certPem).toString('base64'),
      'webhook.enabled': false,
      'controller.replicas': 0,
      ...options.values,
    }),
    ...(crd ? ['--set', 'mode=crd'] : []),
    '--wait',
  ]);

  const serviceAccount = `${release}-everynode-controller`;
  const { stdout: token } = await cluster.kubectl([
    'create',
    'token',
    serviceAccount,
    '-n',
    namespace,
    '--duration=2h',
  ]);
  const admin = cluster.kubeConfig.getCurrentCluster()!;
  const kubeconfig = join(dir, 'controller.kubeconfig');
  await writeFile(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'e2e',
          cluster: {
            server: admin.server,
            ...(admin.caData
              ? { 'certificate-authority-data': admin.caData }
              : { 'certificate-authority': admin.caFile }),
          },
        },
      ],
      users: [{ name: serviceAccount, user: { token: token.trim() } }],
      contexts: [{ name: 'controller', context: { cluster: 'e2e', user: serviceAccount } }],
      'current-context': 'controller',
    }),
    { mode: 0o600 },
  );

  const start = (name: string, args: string[]): { child: ChildProcess; log: string } => {
    const log = join(dir, `${name}.log`);
    const fd = openSync(log, 'a');
    try {
      return { child: spawn(process.execPath, args, { stdio: ['ignore', fd, fd] }), log };
    } finally {
      closeSync(fd);
    }
  };
  const webhook = start('webhook', [
    join(repoRoot, 'src/webhook/main.ts'),
    `--port=${webhookPort}`,
    `--metrics-port=${webhookMetricsPort}`,
    `--tls-cert-file=${join(dir, 'tls.crt')}`,
    `--tls-private-key-file=${join(dir, 'tls.key')}`,
    '--bind-address=127.0.0.1',
  ]);
  const controller = start('controller', [
    join(repoRoot, 'src/controller/main.ts'),
    `--kubeconfig=${kubeconfig}`,
    `--metrics-port=${controllerMetricsPort}`,
    '--leader-elect=true',
    `--leader-elect-namespace=${namespace}`,
    `--leader-elect-id=${serviceAccount}`,
    ...(crd ? ['--mode=crd'] : []),
  ]);
  const processes = { webhook, controller };

  const exited = (): Error | undefined => {
    for (const [name, p] of Object.entries(processes)) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) {
        return new Error(
          `the ${name} exited (${p.child.exitCode ?? p.child.signalCode}); its log:\n${readFileSync(p.log, 'utf8').slice(-4000)}`,
        );
      }
    }
    return undefined;
  };
  const stop = async () => {
    await Promise.all(
      Object.values(processes).map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
            p.child.once('exit', () => resolve());
            p.child.kill('SIGTERM');
          }),
      ),
    );
  };

  try {
    for (const port of [webhookMetricsPort, controllerMetricsPort]) {
      await waitFor(
        `readiness on port ${port}`,
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`);
          return res.ok ? done(true) : notYet(res.status);
        },
        { abortIf: exited, timeoutMs: 90_000 },
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    release,
    namespace,
    webhookPort,
    webhookMetricsPort,
    controllerMetricsPort,
    dir,
    installOutput,
    exited,
    admissionsServed: async () => {
      const text = await (await fetch(`http://127.0.0.1:${webhookMetricsPort}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('controller_runtime_webhook_requests_total{') &&
            l.includes('code="200"') &&
            l.includes('webhook="/mutate"'),
        );
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
    },
    stop,
  };
}
