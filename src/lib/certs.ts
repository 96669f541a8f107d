// Certificate generation for the webhook's serving certificate: a CA and a
// server certificate signed by it, as PEM. Used by the TLS tests and by the
// chart's self-managed TLS mode. ECDSA P-256: small keys, fast handshakes, and
// accepted by every Kubernetes API server.
import { webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect
// metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto);

const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MILLIS = 86_400_000;

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  /** For signing; not serialisable. */
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

export interface ServingCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 fingerprint of the DER certificate, as colon-separated upper-case hex (node's X509Certificate.fingerprint256 format). */
  fingerprint256: string;
}

export interface CaOptions {
  commonName?: string;
  validDays?: number;
}

export interface ServingOptions {
  /** DNS names and IP addresses for the subjectAltName; the first one is also the common name. */
  hosts: readonly string[];
  validDays?: number;
}

async function keyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

function validity(validDays: number): { notBefore: Date; notAfter: Date } {
  // Back-date a little so clocks slightly behind ours accept the certificate at once.
  const now = Date.now();
  return { notBefore: new Date(now - 5 * 60_000), notAfter: new Date(now + validDays * DAY_MILLIS) };
}

function serialNumber(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f; // positive
  return Buffer.from(bytes).toString('hex');
}

function fingerprint256(cert: x509.X509Certificate): string {
  // node's X509Certificate gives the fingerprint in the format TLS peers report it.
  return new NodeX509Certificate(Buffer.from(cert.rawData)).fingerprint256;
}

export async function generateCertificateAuthority(options: CaOptions = {}): Promise<CertificateAuthority> {
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${options.commonName ?? 'everynode-webhook-ca'}`,
    ...validity(options.validDays ?? 3650),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey), cert, keys };
}

export async function generateServingCertificate(
  ca: CertificateAuthority,
  options: ServingOptions,
): Promise<ServingCertificate> {
  if (options.hosts.length === 0) throw new Error('a serving certificate needs at least one host');
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const names = options.hosts.map((h) => ({ type: isIP(h) ? ('ip' as const) : ('dns' as const), value: h }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${options.hosts[0]}`,
    issuer: ca.cert.subject,
    ...validity(options.validDays ?? 365),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return {
    certPem: cert.toString('pem'),
    keyPem: await keyPem(keys.privateKey),
    fingerprint256: fingerprint256(cert),
  };
}
