// Self-managed TLS for the webhook (the chart's tls.mode=self-managed): the
// leader controller keeps a CA and a serving certificate in a Secret and the CA
// in the webhook configuration's caBundle, renewing both well before expiry.
//
// One writer: call startCertRotator when this process becomes leader and stop()
// the returned rotator when it stops being leader. Order matters during a CA
// rotation: the caBundle gains the new CA (keeping the old one) before the Secret
// changes, so whichever certificate a webhook replica serves, the API server
// trusts it; the webhook hot-reloads the files once the kubelet syncs the Secret.
// Events on the Secret (CertificateIssued, CARotated, CertificateRenewed,
// CertificateRenewalFailed) go through the process's shared EventRecorder
// (src/machinery/events.ts); being core/v1 Events, they are also listed
// through events.k8s.io/v1 with `regarding` and `note`.
import { createPrivateKey, createPublicKey, webcrypto, X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
// tsyringe, behind @peculiar/x509, needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import {
  generateCertificateAuthority,
  generateServingCertificate,
  type CertificateAuthority,
} from '../lib/certs.ts';
import { EventRecorder, type EventType } from '../machinery/events.ts';
import { isNotFound, resourcePath, type KubeClient, type Resource } from '../machinery/kube.ts';
import type { Logger } from '../lib/logger.ts';
import { formatDuration } from './duration.ts';
import {
  decideRenewal,
  decodeSecretData,
  encodeSecretData,
  mergeCaBundle,
  SECRET_KEYS,
  type RenewalDecision,
} from './renewal.ts';

export { decideRenewal, mergeCaBundle, SECRET_KEYS, type RenewalDecision } from './renewal.ts';

const SECRETS: Resource = { group: '', version: 'v1', plural: 'secrets' };
const MUTATING_WEBHOOK_CONFIGURATIONS: Resource = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  plural: 'mutatingwebhookconfigurations',
};
/** The reporting component when no EventRecorder is passed in (the controller's own, src/controller/main.ts). */
const EVENT_COMPONENT = 'everynode-controller';

const DAY_MILLIS = 86_400_000;
/** setTimeout's largest delay (about 24.8 days). */
const MAX_TIMER_MILLIS = 2 ** 31 - 1;
const FIRST_RETRY_MILLIS = 1000;

/** Where the certificate lives and how long things last (durations in milliseconds). */
export interface CertRotatorConfig {
  /** Namespace of the Secret and of the webhook Service. */
  namespace: string;
  secretName: string;
  webhookConfigurationName: string;
  /** The webhook Service; the serving certificate covers <service>.<namespace>.svc and its variants. */
  serviceName: string;
  /** Extra DNS names or IP addresses for the serving certificate (e.g. 127.0.0.1 for a webhook on the host). */
  extraHosts?: readonly string[];
  caValidity: number;
  certValidity: number;
  renewBefore: number;
  checkInterval: number;
}

/** One Event the rotator records on the Secret. */
interface RotatorEvent {
  type: EventType;
  reason: string;
  /** A short verb for the Event's `action`. */
  action: string;
  message: string;
}

export interface CertRotatorOptions extends CertRotatorConfig {
  client: KubeClient;
  logger: Logger;
  /** Where Events go: the process's shared recorder. By default the rotator makes its own on `client`. */
  events?: EventRecorder;
}

export interface ReconcileOutcome {
  decision: RenewalDecision;
  /** Whether the caBundle was written. */
  caBundleUpdated: boolean;
  /** When the next check is due (epoch milliseconds). */
  nextCheckAt: number;
}

export interface CertRotator {
  /** Runs one check now, serialised with the periodic ones. */
  reconcile(): Promise<ReconcileOutcome>;
  /** Stops the periodic checks and waits for a running one. */
  stop(): Promise<void>;
}

interface WireSecret {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  type?: string;
  data?: Record<string, string>;
}

interface WireWebhookConfiguration {
  metadata: { name: string; resourceVersion?: string };
  webhooks?: { name: string; clientConfig?: { caBundle?: string } }[];
}

/** The names the serving certificate must cover: every way a client in the cluster may address the Service. */
export function servingHosts(
  serviceName: string,
  namespace: string,
  extra: readonly string[] = [],
): string[] {
  const base = [
    `${serviceName}.${namespace}.svc`,
    `${serviceName}.${namespace}.svc.cluster.local`,
    `${serviceName}.${namespace}`,
    serviceName,
  ];
  return [...new Set([...base, ...extra])];
}

/** A CA from PEM, ready to sign (the inverse of generateCertificateAuthority's output). */
export async function loadCertificateAuthority(
  certPem: string,
  keyPem: string,
): Promise<CertificateAuthority> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  const cert = new x509.X509Certificate(certPem);
  // Through node:crypto so SEC1 ("EC PRIVATE KEY") PEM loads as well as PKCS#8.
  const pkcs8 = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, true, ['sign']);
  const spki = createPublicKey(certPem).export({ format: 'der', type: 'spki' });
  const publicKey = await webcrypto.subtle.importKey('spki', spki, algorithm, true, ['verify']);
  return { certPem, keyPem, cert, keys: { privateKey, publicKey } };
}

/** Throws when the configuration cannot work (e.g. renewBefore not shorter than a validity). */
export function validateCertRotatorConfig(config: CertRotatorConfig): void {
  for (const key of ['caValidity', 'certValidity', 'renewBefore', 'checkInterval'] as const) {
    if (!(config[key] > 0)) throw new Error(`self-managed TLS: ${key} must be positive`);
  }
  // Otherwise every check would find a certificate "about to expire" and renew it again.
  if (config.caValidity <= config.renewBefore || config.certValidity <= config.renewBefore) {
    throw new Error(
      `self-managed TLS: the CA validity (${formatDuration(config.caValidity)}) and the certificate validity ` +
        `(${formatDuration(config.certValidity)}) must both exceed renew-before (${formatDuration(config.renewBefore)})`,
    );
  }
  for (const key of ['namespace', 'secretName', 'webhookConfigurationName', 'serviceName'] as const) {
    if (!config[key]) throw new Error(`self-managed TLS: ${key} is required`);
  }
}

/**
 * Starts keeping the webhook's certificate valid: one check at once, then one
 * every checkInterval (sooner when a renewal falls due; with backoff after a
 * failure). Throws at once on an inconsistent configuration.
 */
export function startCertRotator(options: CertRotatorOptions): CertRotator {
  validateCertRotatorConfig(options);
  const { client, logger, namespace, secretName, webhookConfigurationName } = options;
  const log = logger.child({ component: 'cert-rotator', secret: `${namespace}/${secretName}` });
  const events =
    options.events ??
    new EventRecorder({
      client,
      component: EVENT_COMPONENT,
      instance: hostname().slice(0, 128),
      logger: log,
    });
  const ownsEvents = options.events === undefined;
  const hosts = servingHosts(options.serviceName, namespace, options.extraHosts);
  const secretPath = resourcePath(SECRETS, { namespace, name: secretName });
  const configPath = resourcePath(MUTATING_WEBHOOK_CONFIGURATIONS, { name: webhookConfigurationName });

  // Fire-and-forget: the recorder writes in the background and logs a failed write.
  const emit = (event: RotatorEvent, secret: WireSecret | undefined) => {
    const regarding = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        namespace,
        name: secretName,
        ...(secret?.metadata.uid ? { uid: secret.metadata.uid } : {}),
      },
    };
    // events.k8s.io caps `note` at 1024 bytes; keep the message readable through either API.
    events.event(regarding, event.type, event.reason, event.message.slice(0, 1024), { action: event.action });
  };

  const readSecret = async (): Promise<WireSecret | undefined> => {
    try {
      return await client.get<WireSecret>(secretPath);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };

  /** Makes every webhook's caBundle hold `required` (plus unexpired old CAs). Returns whether it wrote. */
  const ensureCaBundle = async (required: readonly string[], now: number): Promise<boolean> => {
    const config = await client.get<WireWebhookConfiguration>(configPath);
    // Guarded by resourceVersion and each webhook's name, so a concurrent edit fails the patch instead of being lost.
    const ops: unknown[] = [
      { op: 'test', path: '/metadata/resourceVersion', value: config.metadata.resourceVersion },
    ];
    (config.webhooks ?? []).forEach((webhook, i) => {
      const current = Buffer.from(webhook.clientConfig?.caBundle ?? '', 'base64').toString('utf8');
      const merged = mergeCaBundle(current, required, now);
      if (merged === current) return;
      ops.push(
        { op: 'test', path: `/webhooks/${i}/name`, value: webhook.name },
        {
          op: 'add',
          path: `/webhooks/${i}/clientConfig/caBundle`,
          value: Buffer.from(merged).toString('base64'),
        },
      );
    });
    if (ops.length === 1) return false;
    await client.patch(configPath, 'json', ops);
    log.info(
      { webhookConfiguration: webhookConfigurationName },
      'wrote the CA bundle into the webhook configuration',
    );
    return true;
  };

  const writeSecret = async (
    existing: WireSecret | undefined,
    data: Record<string, string>,
  ): Promise<WireSecret> => {
    if (existing)
      return client.replace<WireSecret>(secretPath, { ...existing, data: encodeSecretData(data) });
    return client.create<WireSecret>(resourcePath(SECRETS, { namespace }), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secretName, namespace, labels: { 'app.kubernetes.io/part-of': 'everynode' } },
      type: 'Opaque',
      data: encodeSecretData(data),
    });
  };

  const reconcileOnce = async (): Promise<ReconcileOutcome> => {
    const now = Date.now();
    const secret = await readSecret();
    const decision = decideRenewal(secret?.data, now, { renewBefore: options.renewBefore, hosts });
    const current = decodeSecretData(secret?.data);

    if (decision.action === 'keep') {
      // Also repairs a caBundle that was reset (e.g. the configuration was re-created).
      const caBundleUpdated = await ensureCaBundle([current[SECRET_KEYS.caCert]!], now);
      return {
        decision,
        caBundleUpdated,
        nextCheckAt: Math.min(now + options.checkInterval, decision.renewAt),
      };
    }

    const rotateCa = decision.action === 'rotate-ca';
    const ca = rotateCa
      ? await generateCertificateAuthority({
          commonName: `${options.serviceName}.${namespace}.svc-ca`,
          validDays: options.caValidity / DAY_MILLIS,
        })
      : await loadCertificateAuthority(current[SECRET_KEYS.caCert]!, current[SECRET_KEYS.caKey]!);
    // A serving certificate never outlives its CA; when capped, both fall due together and the CA rotates.
    const caRemaining = ca.cert.notAfter.getTime() - Date.now();
    const serving = await generateServingCertificate(ca, {
      hosts,
      validDays: Math.min(options.certValidity, caRemaining) / DAY_MILLIS,
    });

    // Trust first: the old CA stays in the bundle while replicas may still serve a certificate it signed.
    const oldCa = current[SECRET_KEYS.caCert];
    const previousCa = rotateCa && oldCa ? [oldCa] : [];
    const caBundleUpdated = await ensureCaBundle([ca.certPem, ...previousCa], now);
    const written = await writeSecret(secret, {
      [SECRET_KEYS.cert]: serving.certPem,
      [SECRET_KEYS.key]: serving.keyPem,
      [SECRET_KEYS.caCert]: ca.certPem,
      [SECRET_KEYS.caKey]: ca.keyPem,
    });

    const first = !secret?.data?.[SECRET_KEYS.caCert];
    const certNotAfter = new X509Certificate(serving.certPem).validToDate;
    const what = rotateCa
      ? first
        ? 'issued a new CA and serving certificate'
        : 'rotated the CA and renewed the serving certificate'
      : 'renewed the serving certificate';
    const message = `${what} for ${hosts[0]} (${decision.reason}); valid until ${certNotAfter.toISOString()}`;
    log.info(
      {
        action: decision.action,
        reason: decision.reason,
        notAfter: certNotAfter.toISOString(),
        fingerprint256: serving.fingerprint256,
      },
      message,
    );
    emit(
      {
        type: 'Normal',
        reason: first ? 'CertificateIssued' : rotateCa ? 'CARotated' : 'CertificateRenewed',
        action: first ? 'Issue' : 'Renew',
        message,
      },
      written,
    );
    return { decision, caBundleUpdated, nextCheckAt: now + options.checkInterval };
  };

  // One check at a time, whether from the timer or from reconcile().
  let chain: Promise<unknown> = Promise.resolve();
  const reconcile = (): Promise<ReconcileOutcome> => {
    const run = chain.then(reconcileOnce);
    chain = run.catch(() => undefined);
    return run;
  };

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(
      () => void tick(),
      Math.max(0, Math.min(delay, options.checkInterval, MAX_TIMER_MILLIS)),
    );
  };
  const tick = async () => {
    timer = undefined;
    if (stopped) return;
    try {
      const outcome = await reconcile();
      failures = 0;
      schedule(Math.max(FIRST_RETRY_MILLIS, outcome.nextCheckAt - Date.now()));
    } catch (err) {
      failures++;
      log.error({ err, failures }, 'checking the webhook certificate failed; retrying');
      // One Warning per failure streak, so a persistent problem is visible without flooding events.
      if (failures === 1) {
        emit(
          {
            type: 'Warning',
            reason: 'CertificateRenewalFailed',
            action: 'Renew',
            message: String((err as Error).message ?? err),
          },
          undefined,
        );
      }
      schedule(FIRST_RETRY_MILLIS * 2 ** Math.min(failures - 1, 20));
    }
  };
  schedule(0);

  return {
    reconcile,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await chain;
      // A shared recorder is flushed by its owner; our own, here.
      if (ownsEvents) await events.flush();
    },
  };
}
