// The controller PROCESS in self-managed TLS mode (the chart's tls.mode=self-managed
// passes these flags): while it leads, it creates the serving certificate Secret
// and writes the CA into the webhook configuration's caBundle. The rotator's own
// behaviour (renewal, CA rotation) is covered by chart-self-managed-tls.test.ts;
// this file proves the flags reach it and that it runs only under the Lease.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eCluster } from '../harness/e2e.ts';
import { isApiError } from '../harness/kube.ts';
import { repoRoot } from '../harness/tools.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import { freePort } from './chart-support.ts';
import { EverynodeProcess } from './support/everynode.ts';

const cluster = e2eCluster();
const WEBHOOK_CONFIG = 'e2e-controller-tls-flags';
let namespace: string;
let controller: EverynodeProcess | undefined;

beforeAll(async () => {
  namespace = await cluster.createNamespace('tls-flags-');
  // failurePolicy Ignore and a namespaceSelector that matches nothing: this
  // configuration only carries a caBundle and must never affect other tests.
  await cluster.applyManifest({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: WEBHOOK_CONFIG },
    webhooks: [
      {
        name: 'pods.everynode.dev',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Ignore',
        clientConfig: { url: 'https://127.0.0.1:1/mutate' },
        namespaceSelector: { matchLabels: { 'everynode.dev/e2e-never': 'true' } },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
      },
    ],
  });
});

afterAll(async () => {
  await controller?.kill('SIGTERM');
  await cluster.deleteManifest({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: WEBHOOK_CONFIG },
  });
  await cluster.deleteNamespace(namespace);
});

describe('controller --tls-mode=self-managed', () => {
  it('rejects the mode without the names it needs', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(repoRoot, 'src/controller/main.ts'), '--tls-mode=self-managed'],
        (err, _stdout, stderr) => resolve({ code: err ? (err.code as number) : 0, stderr }),
      );
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--tls-mode=self-managed needs --tls-secret-namespace');
  });

  it('as leader, creates the serving Secret and writes its CA into the caBundle', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tls-flags-'));
    const metricsPort = await freePort();
    controller = new EverynodeProcess(
      'controller',
      [
        join(repoRoot, 'src/controller/main.ts'),
        `--kubeconfig=${cluster.kubeconfigPath}`,
        `--metrics-port=${metricsPort}`,
        '--leader-elect=true',
        `--leader-elect-namespace=${namespace}`,
        '--leader-elect-id=tls-flags',
        '--tls-mode=self-managed',
        `--tls-secret-namespace=${namespace}`,
        '--tls-secret-name=webhook-tls',
        `--webhook-configuration-name=${WEBHOOK_CONFIG}`,
        '--webhook-service-name=everynode-webhook',
      ],
      join(dir, 'controller.log'),
      metricsPort,
    );

    const secret = await waitFor(
      `Secret ${namespace}/webhook-tls with tls.crt, tls.key and ca.crt`,
      async () => {
        try {
          const s = await cluster.core.readNamespacedSecret({ name: 'webhook-tls', namespace });
          const keys = Object.keys(s.data ?? {}).sort();
          return ['ca.crt', 'tls.crt', 'tls.key'].every((k) => keys.includes(k))
            ? done(s)
            : notYet(`keys ${keys.join(',')}`);
        } catch (err) {
          if (isApiError(err, 404)) return notYet('no Secret yet');
          throw err;
        }
      },
      { timeoutMs: 60_000, abortIf: () => controller?.unexpectedExit() },
    );
    const lease = await cluster.kubeConfig
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: 'tls-flags', namespace });
    expect(lease.spec?.holderIdentity).toBeTruthy();

    const ca = Buffer.from(secret.data!['ca.crt']!, 'base64').toString();
    const serving = new X509Certificate(Buffer.from(secret.data!['tls.crt']!, 'base64'));
    expect(serving.subjectAltName).toContain(`DNS:everynode-webhook.${namespace}.svc`);
    expect(serving.verify(new X509Certificate(ca).publicKey)).toBe(true);

    const bundle = await waitFor(
      `caBundle of ${WEBHOOK_CONFIG} holding the Secret's CA`,
      async () => {
        const config = await cluster.objects.read({
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'MutatingWebhookConfiguration',
          metadata: { name: WEBHOOK_CONFIG },
        });
        const encoded = (config as { webhooks?: { clientConfig?: { caBundle?: string } }[] }).webhooks?.[0]
          ?.clientConfig?.caBundle;
        const text = encoded ? Buffer.from(encoded, 'base64').toString() : '';
        return text.includes(ca.trim()) ? done(text) : notYet(text ? 'another CA' : 'no caBundle');
      },
      { timeoutMs: 30_000 },
    );
    expect(bundle).toContain('BEGIN CERTIFICATE');
  });
});
