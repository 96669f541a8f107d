import { describe, expect, it } from 'vitest';
import { FlagError, parseFlags } from '../../../src/lib/flags.ts';
import { certRotatorConfigFromFlags, tlsFlagSpecs } from '../../../src/tls/flags.ts';

const parse = (argv: string[]) => {
  const result = parseFlags(tlsFlagSpecs, argv, 'controller');
  if (result.help) throw new Error('unexpected help');
  return result.values;
};

describe('certRotatorConfigFromFlags', () => {
  it('is off by default', () => {
    expect(certRotatorConfigFromFlags(parse([]))).toBeUndefined();
  });

  it('builds the configuration the chart asks for', () => {
    const values = parse([
      '--tls-mode=self-managed',
      '--tls-secret-namespace=everynode-system',
      '--tls-secret-name=everynode-webhook-tls',
      '--webhook-configuration-name=everynode-system-everynode',
      '--webhook-service-name=everynode-webhook',
      '--tls-extra-hosts=127.0.0.1, localhost',
      '--tls-ca-validity=8760h',
      '--tls-cert-validity=2160h',
      '--tls-renew-before=720h',
      '--tls-check-interval=10m',
    ]);
    expect(certRotatorConfigFromFlags(values)).toEqual({
      namespace: 'everynode-system',
      secretName: 'everynode-webhook-tls',
      webhookConfigurationName: 'everynode-system-everynode',
      serviceName: 'everynode-webhook',
      extraHosts: ['127.0.0.1', 'localhost'],
      caValidity: 8760 * 3_600_000,
      certValidity: 2160 * 3_600_000,
      renewBefore: 720 * 3_600_000,
      checkInterval: 600_000,
    });
  });

  it('takes the namespace from the pod when the flag is unset', () => {
    const values = parse([
      '--tls-mode=self-managed',
      '--tls-secret-name=s',
      '--webhook-configuration-name=c',
      '--webhook-service-name=svc',
    ]);
    expect(certRotatorConfigFromFlags(values, 'from-pod')?.namespace).toBe('from-pod');
  });

  it('names a missing flag', () => {
    const values = parse(['--tls-mode=self-managed', '--tls-secret-namespace=ns', '--tls-secret-name=s']);
    expect(() => certRotatorConfigFromFlags(values)).toThrow(
      new FlagError('--tls-mode=self-managed needs --webhook-configuration-name'),
    );
  });

  it('rejects a malformed duration as a usage error', () => {
    const values = parse([
      '--tls-mode=self-managed',
      '--tls-secret-namespace=ns',
      '--tls-secret-name=s',
      '--webhook-configuration-name=c',
      '--webhook-service-name=svc',
      '--tls-renew-before=30d',
    ]);
    expect(() => certRotatorConfigFromFlags(values)).toThrow(FlagError);
    expect(() => certRotatorConfigFromFlags(values)).toThrow(/--tls-renew-before/);
  });

  it('refuses a renew-before that is not shorter than the certificate validity', () => {
    const values = parse([
      '--tls-mode=self-managed',
      '--tls-secret-namespace=ns',
      '--tls-secret-name=s',
      '--webhook-configuration-name=c',
      '--webhook-service-name=svc',
      '--tls-cert-validity=720h',
      '--tls-renew-before=720h',
    ]);
    expect(() => certRotatorConfigFromFlags(values)).toThrow(FlagError);
    expect(() => certRotatorConfigFromFlags(values)).toThrow(/must both exceed renew-before/);
  });
});
