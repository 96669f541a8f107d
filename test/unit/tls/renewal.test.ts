import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  generateCertificateAuthority,
  generateServingCertificate,
  type CertificateAuthority,
  type ServingCertificate,
} from '../../../src/lib/certs.ts';
import { decideRenewal, encodeSecretData, mergeCaBundle, splitPemBundle } from '../../../src/tls/renewal.ts';
import { loadCertificateAuthority, servingHosts } from '../../../src/tls/rotator.ts';

const DAY = 86_400_000;
const hosts = servingHosts('everynode-webhook', 'everynode-system');
const policy = { renewBefore: 30 * DAY, hosts };

const secretData = (parts: {
  ca?: CertificateAuthority;
  caKeyPem?: string;
  serving?: ServingCertificate;
  keyPem?: string;
}) => {
  const data: Record<string, string> = {};
  if (parts.ca) data['ca.crt'] = parts.ca.certPem;
  if (parts.ca || parts.caKeyPem) data['ca.key'] = parts.caKeyPem ?? parts.ca!.keyPem;
  if (parts.serving) data['tls.crt'] = parts.serving.certPem;
  if (parts.serving || parts.keyPem) data['tls.key'] = parts.keyPem ?? parts.serving!.keyPem;
  return encodeSecretData(data);
};
const notAfter = (pem: string) => new X509Certificate(pem).validToDate.getTime();

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let shortLivedCa: CertificateAuthority;
let serving: ServingCertificate;
let servingFromOtherCa: ServingCertificate;
let servingWithoutLocalName: ServingCertificate;

beforeAll(async () => {
  ca = await generateCertificateAuthority({ validDays: 365 });
  otherCa = await generateCertificateAuthority({ validDays: 365 });
  shortLivedCa = await generateCertificateAuthority({ validDays: 10 });
  serving = await generateServingCertificate(ca, { hosts: [...hosts, '127.0.0.1'], validDays: 90 });
  servingFromOtherCa = await generateServingCertificate(otherCa, { hosts, validDays: 90 });
  servingWithoutLocalName = await generateServingCertificate(ca, { hosts: hosts.slice(0, 1), validDays: 90 });
});

describe('decideRenewal', () => {
  it('issues a CA when the Secret does not exist or is empty', () => {
    expect(decideRenewal(undefined, Date.now(), policy)).toEqual({
      action: 'rotate-ca',
      reason: 'no CA yet',
    });
    expect(decideRenewal({}, Date.now(), policy)).toEqual({ action: 'rotate-ca', reason: 'no CA yet' });
  });

  it('rotates the CA when it is unreadable, not a CA, or its key does not match', () => {
    const garbage = encodeSecretData({ 'ca.crt': 'not a certificate', 'ca.key': 'not a key' });
    expect(decideRenewal(garbage, Date.now(), policy).action).toBe('rotate-ca');
    const leafAsCa = secretData({ ca: { ...ca, certPem: serving.certPem, keyPem: serving.keyPem } });
    expect(decideRenewal(leafAsCa, Date.now(), policy)).toMatchObject({
      action: 'rotate-ca',
      reason: 'ca.crt is not a CA certificate',
    });
    const wrongKey = secretData({ ca, caKeyPem: otherCa.keyPem, serving });
    expect(decideRenewal(wrongKey, Date.now(), policy)).toMatchObject({
      action: 'rotate-ca',
      reason: /ca.key/,
    });
  });

  it('keeps a valid pair and says when to look again', () => {
    const decision = decideRenewal(secretData({ ca, serving }), Date.now(), policy);
    expect(decision).toEqual({
      action: 'keep',
      renewAt: notAfter(serving.certPem) - 30 * DAY,
      caNotAfter: notAfter(ca.certPem),
      certNotAfter: notAfter(serving.certPem),
    });
  });

  it('covers IP addresses asked for', () => {
    const withIp = { ...policy, hosts: [...hosts, '127.0.0.1'] };
    expect(decideRenewal(secretData({ ca, serving }), Date.now(), withIp).action).toBe('keep');
    const withOtherIp = { ...policy, hosts: [...hosts, '10.0.0.1'] };
    expect(decideRenewal(secretData({ ca, serving }), Date.now(), withOtherIp)).toEqual({
      action: 'renew-certificate',
      reason: 'the serving certificate does not cover 10.0.0.1',
    });
  });

  it('renews the serving certificate with the same CA when it is missing, foreign, mismatched or short of a name', () => {
    const now = Date.now();
    expect(decideRenewal(secretData({ ca }), now, policy)).toEqual({
      action: 'renew-certificate',
      reason: 'no serving certificate yet',
    });
    expect(decideRenewal(secretData({ ca, serving: servingFromOtherCa }), now, policy)).toEqual({
      action: 'renew-certificate',
      reason: 'the serving certificate is not signed by the CA',
    });
    expect(
      decideRenewal(secretData({ ca, serving, keyPem: servingFromOtherCa.keyPem }), now, policy),
    ).toEqual({
      action: 'renew-certificate',
      reason: 'tls.key does not match tls.crt',
    });
    expect(decideRenewal(secretData({ ca, serving: servingWithoutLocalName }), now, policy)).toMatchObject({
      action: 'renew-certificate',
      reason: expect.stringContaining('everynode-webhook.everynode-system.svc.cluster.local'),
    });
  });

  it('renews the serving certificate once it is within renewBefore of expiry, and not a moment sooner', () => {
    const data = secretData({ ca, serving });
    const due = notAfter(serving.certPem) - 30 * DAY;
    expect(decideRenewal(data, due - 1, policy).action).toBe('keep');
    expect(decideRenewal(data, due, policy)).toMatchObject({
      action: 'renew-certificate',
      reason: /expires at/,
    });
  });

  it('rotates the CA once it is within renewBefore of expiry, before looking at the serving certificate', () => {
    const data = secretData({ ca, serving });
    const due = notAfter(ca.certPem) - 30 * DAY;
    expect(decideRenewal(data, due, policy)).toMatchObject({
      action: 'rotate-ca',
      reason: /the CA expires at/,
    });
  });
});

describe('loadCertificateAuthority', () => {
  it('signs serving certificates that chain to the stored CA', async () => {
    const loaded = await loadCertificateAuthority(ca.certPem, ca.keyPem);
    const renewed = await generateServingCertificate(loaded, { hosts, validDays: 90 });
    expect(decideRenewal(secretData({ ca, serving: renewed }), Date.now(), policy).action).toBe('keep');
  });
});

describe('mergeCaBundle', () => {
  it('puts the required CAs first and keeps unexpired old ones', () => {
    const bundle = mergeCaBundle(otherCa.certPem, [ca.certPem], Date.now());
    expect(splitPemBundle(bundle).map((c) => c.fingerprint256)).toEqual([
      new X509Certificate(ca.certPem).fingerprint256,
      new X509Certificate(otherCa.certPem).fingerprint256,
    ]);
  });

  it('drops expired certificates, duplicates and garbage', () => {
    const existing = `junk\n${ca.certPem}${shortLivedCa.certPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`;
    const bundle = mergeCaBundle(existing, [ca.certPem], notAfter(shortLivedCa.certPem) + 1);
    expect(splitPemBundle(bundle)).toHaveLength(1);
    expect(bundle).toBe(new X509Certificate(ca.certPem).toString());
  });

  it('is empty for an empty bundle and nothing required', () => {
    expect(mergeCaBundle('', [], Date.now())).toBe('');
  });

  it('is idempotent, duplicate-free and always starts with the required CAs', () => {
    const pool = () => [ca.certPem, otherCa.certPem, serving.certPem];
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 6 }),
        fc.subarray([0, 1, 2]),
        (existingIdx, requiredIdx) => {
          const existing = existingIdx.map((i) => pool()[i]!).join('');
          const required = requiredIdx.map((i) => pool()[i]!);
          const now = Date.now();
          const once = mergeCaBundle(existing, required, now);
          expect(mergeCaBundle(once, required, now)).toBe(once);
          const prints = splitPemBundle(once).map((c) => c.fingerprint256);
          expect(new Set(prints).size).toBe(prints.length);
          expect(prints.slice(0, required.length)).toEqual(
            required.map((p) => new X509Certificate(p).fingerprint256),
          );
        },
      ),
    );
  });
});
