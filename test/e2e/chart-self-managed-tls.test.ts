// Self-managed TLS for real: the chart installed with tls.mode=self-managed, the
// certificate rotator running with the controller ServiceAccount's own token
// (so the chart's RBAC is what authorises it), and the real webhook process
// serving from files laid out the way the kubelet projects a Secret volume.
// Proves: the Secret is filled and the caBundle written; the API server calls
// the webhook with that trust; a forced renewal (and a CA rotation) is picked up
// by the running webhook without a restart and without a failed admission;
// helm upgrade keeps what was written at runtime; helm uninstall removes it all.
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificateAuthority, generateServingCertificate } from '../../src/lib/certs.ts';
import { KubeClient } from '../../src/machinery/kube.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { decideRenewal, encodeSecretData, decodeSecretData, splitPemBundle } from '../../src/tls/renewal.ts';
import {
  loadCertificateAuthority,
  servingHosts,
  startCertRotator,
  type CertRotator,
} from '../../src/tls/rotator.ts';
import { e2eCluster } from '../harness/e2e.ts';
import { repoRoot } from '../harness/tools.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import { CHART } from './chart-support.ts';

const cluster = e2eCluster();
const RELEASE = 'tls';
const DAY = 86_400_000;
const webhookName = `${RELEASE}-everynode-webhook`;
const secretName = `${webhookName}-tls`;
const controllerSa = `${RELEASE}-everynode-controller`;

let namespace: string;
let configName: string;
let rotator: CertRotator | undefined;
let webhook: ChildProcess | undefined;
let webhookLog: string;
let webhookPort: number;
let filesDir: string;
let ownerRef: { apiVersion: string; kind: string; name: string; uid: string; controller: boolean };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const readSecret = async (): Promise<Record<string, string>> =>
  decodeSecretData((await cluster.core.readNamespacedSecret({ name: secretName, namespace })).data);

async function readCaBundle(): Promise<string> {
  const { stdout } = await cluster.kubectl([
    'get',
    'mutatingwebhookconfiguration',
    configName,
    '-o',
    'jsonpath={.webhooks[0].clientConfig.caBundle}',
  ]);
  return Buffer.from(stdout, 'base64').toString('utf8');
}

const fingerprints = (bundle: string) => splitPemBundle(bundle).map((c) => c.fingerprint256);
const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

/**
 * Projects the Secret's serving pair into `filesDir` the way the kubelet's
 * atomic writer does: a timestamped directory, a `..data` symlink swapped by
 * rename, and stable `tls.crt`/`tls.key` symlinks through `..data`.
 */
let generation = 0;
async function projectSecret(data: Record<string, string>): Promise<void> {
  const version = `..${Date.now()}_${++generation}`;
  await mkdir(join(filesDir, version));
  await writeFile(join(filesDir, version, 'tls.crt'), data['tls.crt']!);
  await writeFile(join(filesDir, version, 'tls.key'), data['tls.key']!);
  await symlink(version, join(filesDir, '..data_tmp'));
  await rename(join(filesDir, '..data_tmp'), join(filesDir, '..data'));
  for (const file of ['tls.crt', 'tls.key']) {
    await symlink(join('..data', file), join(filesDir, file)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

/** The certificate the webhook presents, checked against `bundle` exactly as the API server checks it. */
function servedFingerprint(bundle: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: webhookPort, ca: bundle }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.once('error', reject);
  });
}

/** A daemon pod as the controller creates it, sent through admission (dry-run: the response is the admitted object). */
async function admitDaemonPod(node: string): Promise<V1Pod> {
  const { stdout } = await cluster.kubectl(
    ['create', '--dry-run=server', '-o', 'json', '-n', namespace, '-f', '-'],
    {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: 'probe-',
          labels: { 'everynode.dev/managed': 'true' },
          annotations: { 'everynode.dev/target-node': node },
          ownerReferences: [ownerRef],
        },
        spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
      }),
    },
  );
  return JSON.parse(stdout) as V1Pod;
}

const pinnedNode = (pod: V1Pod) =>
  pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.[0]
    ?.matchFields?.[0]?.values?.[0];

function webhookExited(): Error | undefined {
  if (webhook && webhook.exitCode !== null) {
    return new Error(
      `the webhook exited (${webhook.exitCode}); log:\n${readFileSync(webhookLog, 'utf8').slice(-3000)}`,
    );
  }
  return undefined;
}

beforeAll(async () => {
  namespace = await cluster.createNamespace('tls-');
  configName = `${namespace}-${RELEASE}-everynode`;
  filesDir = await mkdtemp(join(tmpdir(), 'everynode-tls-files-'));
  webhookPort = await freePort();

  // Deployments at 0 replicas: RBAC, Secret and webhook configuration are real, while the
  // processes run here. The namespaceSelector keeps this configuration away from other tests.
  await cluster.helm([
    'install',
    RELEASE,
    CHART,
    '--namespace',
    namespace,
    '--set',
    'tls.mode=self-managed',
    '--set',
    'controller.replicas=0',
    '--set',
    'webhook.replicas=0',
    '--set-json',
    `webhook.namespaceSelector={"matchLabels":{"kubernetes.io/metadata.name":"${namespace}"}}`,
  ]);
  // The API server cannot reach a Service here (no kube-proxy): call the host process by URL instead.
  await cluster.kubectl([
    'patch',
    'mutatingwebhookconfiguration',
    configName,
    '--type=json',
    '-p',
    JSON.stringify([
      { op: 'remove', path: '/webhooks/0/clientConfig/service' },
      { op: 'add', path: '/webhooks/0/clientConfig/url', value: `https://127.0.0.1:${webhookPort}/mutate` },
    ]),
  ]);

  // A DaemonSet to own the probe pods (the webhook pins only daemon pods); no controller runs here.
  const ds = await cluster.apps.createNamespacedDaemonSet({
    namespace,
    body: {
      metadata: { name: 'owner' },
      spec: {
        selector: { matchLabels: { app: 'owner' } },
        template: {
          metadata: { labels: { app: 'owner' } },
          spec: { containers: [{ name: 'c', image: 'pause' }] },
        },
      },
    },
  });
  ownerRef = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    name: 'owner',
    uid: ds.metadata!.uid!,
    controller: true,
  };
});

afterAll(async () => {
  await rotator?.stop();
  if (webhook && webhook.exitCode === null) webhook.kill('SIGTERM');
  await cluster.helm(['uninstall', RELEASE, '--namespace', namespace, '--wait'], { allowFailure: true });
  await cluster.deleteNamespace(namespace);
  await rm(filesDir, { recursive: true, force: true });
});

/** A kubeconfig that authenticates as the chart's controller ServiceAccount. */
async function controllerServiceAccountClient(): Promise<KubeClient> {
  const { stdout: token } = await cluster.kubectl([
    'create',
    'token',
    controllerSa,
    '-n',
    namespace,
    '--duration=1h',
  ]);
  const admin = cluster.kubeConfig.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: 'e2e', server: admin.server, caData: admin.caData, caFile: admin.caFile, skipTLSVerify: false },
    ],
    users: [{ name: controllerSa, token: token.trim() }],
    contexts: [{ name: 'sa', cluster: 'e2e', user: controllerSa }],
    currentContext: 'sa',
  });
  return new KubeClient(kc, { qps: 50, burst: 100 });
}

describe('self-managed TLS', () => {
  it('issues a CA and serving certificate into the Secret, writes the caBundle, and records an Event, with only the chart’s RBAC', async () => {
    const client = await controllerServiceAccountClient();
    rotator = startCertRotator({
      client,
      logger: silentLogger(),
      namespace,
      secretName,
      webhookConfigurationName: configName,
      serviceName: webhookName,
      extraHosts: ['127.0.0.1'],
      caValidity: 365 * DAY,
      certValidity: 90 * DAY,
      renewBefore: 30 * DAY,
      checkInterval: 10 * 60_000,
    });

    const data = await waitFor('the rotator to fill the Secret', async () => {
      const d = await readSecret();
      return d['tls.crt'] ? done(d) : notYet(Object.keys(d));
    });
    expect(Object.keys(data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    const hosts = [...servingHosts(webhookName, namespace), '127.0.0.1'];
    expect(decideRenewal(encodeSecretData(data), Date.now(), { renewBefore: 30 * DAY, hosts })).toMatchObject(
      {
        action: 'keep',
      },
    );
    // The Secret is still the release's own object (so helm uninstall removes it).
    const secret = await cluster.core.readNamespacedSecret({ name: secretName, namespace });
    expect(secret.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');

    expect(fingerprints(await readCaBundle())).toEqual([fingerprintOf(data['ca.crt']!)]);

    const events = await waitFor('the CertificateIssued event', async () => {
      const list = await cluster.kubectl(['get', 'events.events.k8s.io', '-n', namespace, '-o', 'json']);
      const items = (
        JSON.parse(list.stdout) as { items: { reason: string; regarding: { name: string }; note: string }[] }
      ).items;
      const issued = items.filter((e) => e.reason === 'CertificateIssued' && e.regarding.name === secretName);
      return issued.length > 0 ? done(issued) : notYet(items.map((e) => e.reason));
    });
    expect(events[0]!.note).toMatch(/issued a new CA and serving certificate/);

    // The grant is narrow: other Secrets stay out of reach.
    const canI = await cluster.kubectl(
      [
        'auth',
        'can-i',
        'get',
        'secrets/some-other',
        '-n',
        namespace,
        `--as=system:serviceaccount:${namespace}:${controllerSa}`,
      ],
      { allowFailure: true },
    );
    expect(canI.stdout.trim()).toBe('no');
  });

  it('the webhook serves that certificate and the API server, trusting the caBundle, gets pods pinned through it', async () => {
    await projectSecret(await readSecret());
    webhookLog = join(filesDir, 'webhook.log');
    const fd = openSync(webhookLog, 'a');
    webhook = spawn(
      process.execPath,
      [
        join(repoRoot, 'src/webhook/main.ts'),
        `--port=${webhookPort}`,
        `--metrics-port=${await freePort()}`,
        `--tls-cert-file=${join(filesDir, 'tls.crt')}`,
        `--tls-private-key-file=${join(filesDir, 'tls.key')}`,
        '--log-level=debug',
      ],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);

    const bundle = await readCaBundle();
    const served = await waitFor('the webhook to serve TLS', () => servedFingerprint(bundle).then(done), {
      abortIf: webhookExited,
    });
    expect(served).toBe(fingerprintOf((await readSecret())['tls.crt']!));
    expect(pinnedNode(await admitDaemonPod('kwok-worker-1'))).toBe('kwok-worker-1');
  });

  it('replaces a serving certificate near expiry, and the running webhook picks it up without a restart', async () => {
    const before = await readSecret();
    const bundleBefore = await readCaBundle();
    // Force a renewal: a certificate from the same CA that expires within renewBefore.
    const ca = await loadCertificateAuthority(before['ca.crt']!, before['ca.key']!);
    const nearExpiry = await generateServingCertificate(ca, {
      hosts: [...servingHosts(webhookName, namespace), '127.0.0.1'],
      validDays: 1,
    });
    await cluster.core.patchNamespacedSecret({
      name: secretName,
      namespace,
      body: [
        {
          op: 'replace',
          path: '/data',
          value: encodeSecretData({ ...before, 'tls.crt': nearExpiry.certPem, 'tls.key': nearExpiry.keyPem }),
        },
      ],
    });

    const outcome = await rotator!.reconcile();
    expect(outcome.decision).toMatchObject({ action: 'renew-certificate', reason: /expires at/ });
    expect(outcome.caBundleUpdated).toBe(false);

    const after = await readSecret();
    expect(after['ca.crt']).toBe(before['ca.crt']);
    expect(after['tls.crt']).not.toBe(nearExpiry.certPem);
    expect(after['tls.crt']).not.toBe(before['tls.crt']);
    expect(new X509Certificate(after['tls.crt']!).validToDate.getTime()).toBeGreaterThan(
      Date.now() + 80 * DAY,
    );
    expect(await readCaBundle()).toBe(bundleBefore);

    const pid = webhook!.pid;
    await projectSecret(after);
    await waitFor(
      'the webhook to serve the renewed certificate',
      async () => {
        const served = await servedFingerprint(bundleBefore);
        return served === fingerprintOf(after['tls.crt']!) ? done(served) : notYet(served);
      },
      { abortIf: webhookExited, timeoutMs: 90_000 },
    );
    expect(webhook!.pid).toBe(pid);
    expect(webhook!.exitCode).toBeNull();
    expect(pinnedNode(await admitDaemonPod('kwok-worker-2'))).toBe('kwok-worker-2');
  });

  it('rotates a CA near expiry keeping the old CA trusted, so admission works before and after the webhook reloads', async () => {
    const hosts = [...servingHosts(webhookName, namespace), '127.0.0.1'];
    // A CA within renewBefore of expiry, already trusted and served (as after an earlier rotation).
    const oldCa = await generateCertificateAuthority({ validDays: 10 });
    const oldServing = await generateServingCertificate(oldCa, { hosts, validDays: 10 });
    const oldData = {
      'ca.crt': oldCa.certPem,
      'ca.key': oldCa.keyPem,
      'tls.crt': oldServing.certPem,
      'tls.key': oldServing.keyPem,
    };
    await cluster.core.patchNamespacedSecret({
      name: secretName,
      namespace,
      body: [{ op: 'replace', path: '/data', value: encodeSecretData(oldData) }],
    });
    const firstCa = fingerprints(await readCaBundle())[0]!;

    const outcome = await rotator!.reconcile();
    expect(outcome.decision).toMatchObject({ action: 'rotate-ca', reason: /the CA expires at/ });
    expect(outcome.caBundleUpdated).toBe(true);
    const rotated = await readSecret();
    expect(rotated['ca.crt']).not.toBe(oldCa.certPem);

    // New CA first, then the CA the Secret held, then the still-valid first CA.
    const bundle = await readCaBundle();
    expect(fingerprints(bundle)).toEqual([
      fingerprintOf(rotated['ca.crt']!),
      fingerprintOf(oldCa.certPem),
      firstCa,
    ]);

    // A replica still serving from the old CA is trusted...
    await projectSecret(oldData);
    await waitFor(
      'the webhook to serve the old-CA certificate',
      async () => {
        const served = await servedFingerprint(bundle);
        return served === fingerprintOf(oldServing.certPem) ? done(served) : notYet(served);
      },
      { abortIf: webhookExited, timeoutMs: 90_000 },
    );
    expect(pinnedNode(await admitDaemonPod('kwok-worker-3'))).toBe('kwok-worker-3');

    // ...and so is the same replica once it reloads the new files.
    await projectSecret(rotated);
    await waitFor(
      'the webhook to serve the new-CA certificate',
      async () => {
        const served = await servedFingerprint(bundle);
        return served === fingerprintOf(rotated['tls.crt']!) ? done(served) : notYet(served);
      },
      { abortIf: webhookExited, timeoutMs: 90_000 },
    );
    expect(pinnedNode(await admitDaemonPod('kwok-worker-4'))).toBe('kwok-worker-4');
  });

  it('helm upgrade keeps the certificate and caBundle written at runtime', async () => {
    // Put back the Service reference the chart renders (this file swapped it for a URL), so the
    // upgrade meets the release's own configuration plus what the rotator wrote.
    await cluster.kubectl([
      'patch',
      'mutatingwebhookconfiguration',
      configName,
      '--type=json',
      '-p',
      JSON.stringify([
        { op: 'remove', path: '/webhooks/0/clientConfig/url' },
        {
          op: 'add',
          path: '/webhooks/0/clientConfig/service',
          value: { name: webhookName, namespace, port: 443, path: '/mutate' },
        },
      ]),
    ]);
    const secretBefore = await readSecret();
    const bundleBefore = await readCaBundle();
    await cluster.helm([
      'upgrade',
      RELEASE,
      CHART,
      '--namespace',
      namespace,
      '--reuse-values',
      '--set',
      'logLevel=debug',
    ]);
    expect(await readSecret()).toEqual(secretBefore);
    expect(await readCaBundle()).toBe(bundleBefore);
  });

  it('helm uninstall removes the Secret, the webhook configuration and the RBAC', async () => {
    await rotator?.stop();
    rotator = undefined;
    await cluster.helm(['uninstall', RELEASE, '--namespace', namespace, '--wait']);
    const left = await cluster.kubectl([
      'get',
      'secret,sa,role,rolebinding,deploy,svc',
      '-n',
      namespace,
      '-l',
      `app.kubernetes.io/instance=${RELEASE}`,
      '-o',
      'name',
    ]);
    expect(left.stdout.trim()).toBe('');
    const clusterScoped = await cluster.kubectl([
      'get',
      'mutatingwebhookconfiguration,clusterrole,clusterrolebinding',
      '-l',
      `app.kubernetes.io/instance=${RELEASE}`,
      '-o',
      'name',
    ]);
    expect(clusterScoped.stdout.trim()).toBe('');
  });
});
