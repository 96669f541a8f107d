// The pure half of self-managed TLS: given what the Secret holds and the time,
// decide whether to keep it, re-sign the serving certificate with the same CA,
// or rotate the CA; and compute the caBundle the API server must trust.
//
// node:crypto's X509Certificate is used for inspection because it is synchronous
// (checkIssued, verify, checkHost, checkPrivateKey); generation lives in
// src/lib/certs.ts (@peculiar/x509 over WebCrypto).
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

/** Keys of the self-managed TLS Secret. The webhook mounts only tls.crt and tls.key. */
export const SECRET_KEYS = {
  cert: 'tls.crt',
  key: 'tls.key',
  caCert: 'ca.crt',
  /** Kept so the serving certificate can be re-signed without changing the CA the API server trusts. */
  caKey: 'ca.key',
} as const;

export interface RenewalPolicy {
  /** Renew a certificate (CA or serving) once it expires within this many milliseconds. */
  renewBefore: number;
  /** DNS names and IP addresses the serving certificate must cover. */
  hosts: readonly string[];
}

export type RenewalDecision =
  /** Everything is valid; check again by renewAt at the latest. */
  | { action: 'keep'; renewAt: number; caNotAfter: number; certNotAfter: number }
  /** The CA is fine: sign a new serving certificate with it (the caBundle does not change). */
  | { action: 'renew-certificate'; reason: string }
  /** A new CA and a new serving certificate (the caBundle gains the new CA first). */
  | { action: 'rotate-ca'; reason: string };

/** Decodes a Secret's wire `data` (base64 values) into strings. */
export function decodeSecretData(data: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

export function encodeSecretData(data: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) out[k] = Buffer.from(v, 'utf8').toString('base64');
  return out;
}

function parseCertificate(pem: string | undefined): X509Certificate | undefined {
  if (!pem) return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function parsePrivateKey(pem: string | undefined): KeyObject | undefined {
  if (!pem) return undefined;
  try {
    return createPrivateKey(pem);
  } catch {
    return undefined;
  }
}

/** The generator (src/lib/certs.ts) signs with ECDSA P-256 only, so a CA key must be one to be reusable. */
const isP256 = (key: KeyObject): boolean =>
  key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';

const iso = (millis: number): string => new Date(millis).toISOString();

/**
 * What to do with the self-managed TLS Secret. `secretData` is the Secret's wire
 * `data` (base64 values; undefined when the Secret does not exist).
 */
export function decideRenewal(
  secretData: Record<string, string> | undefined,
  now: number,
  policy: RenewalPolicy,
): RenewalDecision {
  const data = decodeSecretData(secretData);

  const ca = parseCertificate(data[SECRET_KEYS.caCert]);
  const caKey = parsePrivateKey(data[SECRET_KEYS.caKey]);
  if (!data[SECRET_KEYS.caCert] || !data[SECRET_KEYS.caKey])
    return { action: 'rotate-ca', reason: 'no CA yet' };
  if (!ca || !caKey) return { action: 'rotate-ca', reason: 'the CA certificate or key is unreadable' };
  if (!ca.ca) return { action: 'rotate-ca', reason: 'ca.crt is not a CA certificate' };
  if (!isP256(caKey) || !ca.checkPrivateKey(caKey)) {
    return { action: 'rotate-ca', reason: 'ca.key is not the ECDSA P-256 key of ca.crt' };
  }
  const caNotAfter = ca.validToDate.getTime();
  if (now >= caNotAfter - policy.renewBefore) {
    return { action: 'rotate-ca', reason: `the CA expires at ${iso(caNotAfter)}` };
  }

  const cert = parseCertificate(data[SECRET_KEYS.cert]);
  const key = parsePrivateKey(data[SECRET_KEYS.key]);
  if (!data[SECRET_KEYS.cert] || !data[SECRET_KEYS.key]) {
    return { action: 'renew-certificate', reason: 'no serving certificate yet' };
  }
  if (!cert || !key)
    return { action: 'renew-certificate', reason: 'the serving certificate or key is unreadable' };
  if (!cert.checkPrivateKey(key))
    return { action: 'renew-certificate', reason: 'tls.key does not match tls.crt' };
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    return { action: 'renew-certificate', reason: 'the serving certificate is not signed by the CA' };
  }
  const missing = policy.hosts.filter((h) =>
    isIP(h) ? cert.checkIP(h) === undefined : cert.checkHost(h, { subject: 'never' }) === undefined,
  );
  if (missing.length > 0) {
    return {
      action: 'renew-certificate',
      reason: `the serving certificate does not cover ${missing.join(', ')}`,
    };
  }
  const certNotAfter = cert.validToDate.getTime();
  if (now >= certNotAfter - policy.renewBefore) {
    return { action: 'renew-certificate', reason: `the serving certificate expires at ${iso(certNotAfter)}` };
  }
  return {
    action: 'keep',
    renewAt: Math.min(caNotAfter, certNotAfter) - policy.renewBefore,
    caNotAfter,
    certNotAfter,
  };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, skipping blocks that do not parse. */
export function splitPemBundle(bundle: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const block of bundle.match(PEM_CERTIFICATE) ?? []) {
    const cert = parseCertificate(block);
    if (cert) out.push(cert);
  }
  return out;
}

/**
 * The caBundle to write: the `required` CAs first (the current CA, then the one
 * the webhook may still be serving from), then every other certificate of the
 * existing bundle; expired certificates are dropped. Keeping old CAs until they expire means
 * a webhook replica still serving a certificate from the previous CA (the
 * kubelet syncs Secret volumes with a delay) is trusted throughout a rotation.
 * Duplicates are dropped; the result is PEM, one certificate after another.
 */
export function mergeCaBundle(existingBundle: string, required: readonly string[], now: number): string {
  const seen = new Set<string>();
  const out: string[] = [];
  const add = (cert: X509Certificate) => {
    if (seen.has(cert.fingerprint256)) return;
    seen.add(cert.fingerprint256);
    out.push(cert.toString());
  };
  const unexpired = (cert: X509Certificate) => cert.validToDate.getTime() > now;
  for (const pem of required) splitPemBundle(pem).filter(unexpired).forEach(add);
  splitPemBundle(existingBundle).filter(unexpired).forEach(add);
  return out.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join('');
}
