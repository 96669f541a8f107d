// `node dist/webhook/main.js`: the everynode mutating admission webhook.
import '../lib/node-version.ts';
import { everynodeVersion } from '../lib/version.ts';
import { parseFlagsOrExit, type FlagSpecs } from '../lib/flags.ts';
import { createLogger, flushLogger, LOG_LEVELS } from '../lib/logger.ts';
import { newProcessRegistry } from '../lib/metrics.ts';
import { startProbeServer } from '../lib/probe-server.ts';
import { installShutdown } from '../lib/shutdown.ts';
import { startWebhookServer } from './server.ts';

export const WEBHOOK_FLAGS = {
  port: {
    type: 'integer',
    default: 9443,
    min: 0,
    max: 65535,
    description: 'HTTPS port of the admission endpoint POST /mutate.',
  },
  'bind-address': { type: 'string', default: '0.0.0.0', description: 'Address both servers listen on.' },
  'tls-cert-file': {
    type: 'string',
    required: true,
    description: 'PEM serving certificate (chain); reloaded when it changes.',
  },
  'tls-private-key-file': {
    type: 'string',
    required: true,
    description: 'PEM private key of the serving certificate; reloaded when it changes.',
  },
  'metrics-port': {
    type: 'integer',
    default: 8080,
    min: 0,
    max: 65535,
    description: 'Plain-HTTP port for /metrics, /healthz and /readyz.',
  },
  'network-unavailable': {
    type: 'string',
    default: 'hostNetwork',
    choices: ['hostNetwork', 'always', 'never'],
    description:
      'When daemon pods get the node.kubernetes.io/network-unavailable toleration (upstream: hostNetwork pods only).',
  },
  'log-level': {
    type: 'string',
    default: 'info',
    choices: LOG_LEVELS,
    description: 'Least severe level logged.',
  },
} as const satisfies FlagSpecs;

async function main(): Promise<void> {
  const flags = parseFlagsOrExit(WEBHOOK_FLAGS, process.argv.slice(2), 'everynode-webhook');
  const logger = createLogger({ name: 'webhook', level: flags['log-level'] });
  logger.info({ version: everynodeVersion, flags }, 'starting everynode webhook');

  const registry = newProcessRegistry();
  let serving = false;
  let stopping = false;
  const probes = await startProbeServer({
    port: flags['metrics-port'],
    host: flags['bind-address'],
    registry,
    isReady: () => serving && !stopping,
    logger,
  });
  logger.info({ port: probes.port }, 'serving /metrics, /healthz, /readyz over HTTP');

  const webhook = await startWebhookServer({
    port: flags.port,
    host: flags['bind-address'],
    certFile: flags['tls-cert-file'],
    keyFile: flags['tls-private-key-file'],
    networkUnavailable: flags['network-unavailable'],
    logger,
    registry,
  });
  serving = true;

  installShutdown({
    logger,
    graceMillis: 25_000,
    stop: async () => {
      stopping = true;
      await webhook.close();
      await probes.close();
    },
  });
}

main().catch((err: unknown) => {
  const logger = createLogger({ name: 'webhook' });
  logger.fatal({ err }, 'webhook failed to start');
  flushLogger(logger);
  process.exit(1);
});
