import { X509Certificate, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAuthority, createSigningKeyPair, issueCertificate } from '../../harness/pki.ts';

describe('the test control plane PKI', () => {
  it('issues serving certificates for IP and DNS names, signed by the CA', async () => {
    const ca = await createAuthority('test-ca');
    const serving = await issueCertificate(ca, {
      commonName: 'kube-apiserver',
      hosts: ['127.0.0.1', 'localhost'],
    });
    const cert = new X509Certificate(serving.certPem);
    const caCert = new X509Certificate(ca.certPem);

    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth
    expect(cert.checkPrivateKey(createPrivateKey(serving.keyPem))).toBe(true);
  });

  it('issues client certificates whose subject carries the groups', async () => {
    const ca = await createAuthority('test-ca');
    const admin = await issueCertificate(ca, {
      commonName: 'everynode-admin',
      organizations: ['system:masters'],
    });
    const cert = new X509Certificate(admin.certPem);

    expect(cert.subject.split('\n')).toEqual(
      expect.arrayContaining(['CN=everynode-admin', 'O=system:masters']),
    );
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth
    expect(cert.subjectAltName).toBeUndefined();
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
  });

  it('makes a matching service-account signing key pair in PEM', async () => {
    const pair = await createSigningKeyPair();
    const data = Buffer.from('token');
    const signature = sign('sha256', data, createPrivateKey(pair.privateKeyPem));
    expect(verify('sha256', data, createPublicKey(pair.publicKeyPem), signature)).toBe(true);
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(pair.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });
});
