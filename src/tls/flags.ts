// The controller's self-managed TLS flags, ready to spread into its flag specs,
// and their translation into a CertRotatorConfig. The chart sets them in
// tls.mode=self-managed (templates/controller-deployment.yaml).
import { FlagError, type FlagSpecs, type FlagValues } from '../lib/flags.ts';
import { parseDuration } from './duration.ts';
import { validateCertRotatorConfig, type CertRotatorConfig } from './rotator.ts';

export const tlsFlagSpecs = {
  'tls-mode': {
    type: 'string',
    default: 'none',
    choices: ['none', 'self-managed'],
    description:
      'self-managed: while leader, keep the webhook serving certificate (Secret) and the caBundle valid; none: cert-manager or an operator does it.',
  },
  'tls-secret-namespace': {
    type: 'string',
    default: '',
    description: 'Namespace of the TLS Secret and the webhook Service.',
  },
  'tls-secret-name': {
    type: 'string',
    default: '',
    description: 'Secret holding tls.crt, tls.key, ca.crt and ca.key.',
  },
  'webhook-configuration-name': {
    type: 'string',
    default: '',
    description: 'MutatingWebhookConfiguration whose caBundle is kept in step with the CA.',
  },
  'webhook-service-name': {
    type: 'string',
    default: '',
    description: 'The webhook Service; the certificate covers <service>.<namespace>.svc and variants.',
  },
  'tls-extra-hosts': {
    type: 'string',
    default: '',
    description: 'Comma-separated extra DNS names or IPs for the serving certificate (e.g. 127.0.0.1).',
  },
  'tls-ca-validity': {
    type: 'string',
    default: '8760h',
    description: 'Lifetime of a generated CA (Go duration).',
  },
  'tls-cert-validity': {
    type: 'string',
    default: '2160h',
    description: 'Lifetime of a serving certificate, capped by the CA (Go duration).',
  },
  'tls-renew-before': {
    type: 'string',
    default: '720h',
    description: 'Renew this long before expiry (Go duration).',
  },
  'tls-check-interval': { type: 'string', default: '10m', description: 'How often to check (Go duration).' },
} as const satisfies FlagSpecs;

export type TlsFlagValues = FlagValues<typeof tlsFlagSpecs>;

function duration(name: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new FlagError(`invalid argument "${value}" for "--${name}" flag: ${(err as Error).message}`);
  }
}

/**
 * The rotator configuration the flags ask for, or undefined with --tls-mode=none.
 * `defaultNamespace` fills --tls-secret-namespace when unset (the pod's namespace).
 * Throws FlagError when a required flag is missing, a duration is malformed, or the durations cannot work together.
 */
export function certRotatorConfigFromFlags(
  values: TlsFlagValues,
  defaultNamespace?: string,
): CertRotatorConfig | undefined {
  if (values['tls-mode'] !== 'self-managed') return undefined;
  const namespace = values['tls-secret-namespace'] || defaultNamespace || '';
  const required: [string, string][] = [
    ['tls-secret-namespace', namespace],
    ['tls-secret-name', values['tls-secret-name']],
    ['webhook-configuration-name', values['webhook-configuration-name']],
    ['webhook-service-name', values['webhook-service-name']],
  ];
  for (const [name, value] of required) {
    if (!value) throw new FlagError(`--tls-mode=self-managed needs --${name}`);
  }
  const config: CertRotatorConfig = {
    namespace,
    secretName: values['tls-secret-name'],
    webhookConfigurationName: values['webhook-configuration-name'],
    serviceName: values['webhook-service-name'],
    extraHosts: values['tls-extra-hosts']
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean),
    caValidity: duration('tls-ca-validity', values['tls-ca-validity']),
    certValidity: duration('tls-cert-validity', values['tls-cert-validity']),
    renewBefore: duration('tls-renew-before', values['tls-renew-before']),
    checkInterval: duration('tls-check-interval', values['tls-check-interval']),
  };
  try {
    validateCertRotatorConfig(config);
  } catch (err) {
    throw new FlagError((err as Error).message, { cause: err });
  }
  return config;
}
