// The everynode controller process: flags, Kubernetes client, informers,
// leader election, workers, /metrics + /healthz + /readyz, graceful shutdown.
// `startController` is the same process as a library, for tests and benchmarks.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { EventRecorder } from '../machinery/events.ts';
import { FlagError, parseFlagsOrExit, usage, type FlagSpecs } from '../lib/flags.ts';
import { inClusterNamespace, KubeClient, loadKubeConfig } from '../machinery/kube.ts';
import { LeaderElector } from '../machinery/leader-election.ts';
import { createLogger, flushLogger, LOG_LEVELS, type Logger } from '../lib/logger.ts';
import { newProcessRegistry } from '../lib/metrics.ts';
import { startProbeServer, type ProbeServer } from '../lib/probe-server.ts';
import { installShutdown } from '../lib/shutdown.ts';
import { everynodeVersion } from '../lib/version.ts';
import { certRotatorConfigFromFlags, tlsFlagSpecs } from '../tls/flags.ts';
import { startCertRotator, type CertRotator, type CertRotatorConfig } from '../tls/rotator.ts';
import { DaemonSetController, DEFAULT_BURST } from './controller.ts';

/** `source.component` of our Events; `kubectl describe ds` shows it in the From column. */
export const EVENT_COMPONENT = 'everynode-controller';
export const DEFAULT_LEASE_NAME = 'everynode-controller';

export interface StartControllerOptions {
  /** Path of a kubeconfig; in-cluster config (or the default lookup) when absent. */
  kubeconfig?: string;
  /** A loaded config, instead of `kubeconfig`. */
  kubeConfig?: KubeConfig;
  logger: Logger;
  workers?: number;
  burst?: number;
  kubeApiQps?: number;
  kubeApiBurst?: number;
  leaderElect?: boolean;
  leaderElectNamespace?: string;
  leaderElectId?: string;
  /** holderIdentity; hostname_uuid by default, as client-go. */
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Probe/metrics port; 0 picks a free one; undefined runs no server. */
  metricsPort?: number;
  metricsHost?: string;
  registry?: Registry;
  informer?: { relistIntervalMs?: number; silenceTimeoutMs?: number };
  /**
   * Self-managed webhook TLS (--tls-mode=self-managed): the rotator runs only
   * while this process leads, so the Secret and caBundle have a single writer.
   */
  certRotator?: CertRotatorConfig;
  /** Called after leadership was lost and writing stopped (main exits non-zero). */
  onLeadershipLost?: () => void;
}

export interface ControllerHandle {
  controller: DaemonSetController;
  client: KubeClient;
  registry: Registry;
  identity: string;
  elector: LeaderElector | undefined;
  /** The probe server's port, if one runs. */
  probePort: number | undefined;
  isLeader(): boolean;
  /** Caches synced (leader or standby). */
  isReady(): boolean;
  /** Settles when the controller has stopped (stop() or lost leadership). */
  done: Promise<void>;
  /** Graceful: stop taking keys, finish in-flight syncs, release the lease, close servers and connections. */
  stop(): Promise<void>;
}

export async function startController(options: StartControllerOptions): Promise<ControllerHandle> {
  const log = options.logger;
  const kc = options.kubeConfig ?? loadKubeConfig(options.kubeconfig);
  const identity = options.identity ?? `${hostname()}_${randomUUID()}`;
  const client = new KubeClient(kc, {
    qps: options.kubeApiQps ?? 20,
    burst: options.kubeApiBurst ?? 30,
    userAgent: `everynode-controller/${everynodeVersion}`,
  });
  const registry = options.registry ?? newProcessRegistry();
  const events = new EventRecorder({ client, component: EVENT_COMPONENT, instance: identity, logger: log });
  const controller = new DaemonSetController({
    client,
    events,
    logger: log,
    registry,
    workers: options.workers ?? 2,
    burst: options.burst ?? DEFAULT_BURST,
    ...(options.informer ? { informer: options.informer } : {}),
  });
  // Caches run on a standby too, so a takeover starts with warm caches.
  controller.startInformers();

  let probe: ProbeServer | undefined;
  if (options.metricsPort !== undefined) {
    probe = await startProbeServer({
      port: options.metricsPort,
      ...(options.metricsHost ? { host: options.metricsHost } : {}),
      registry,
      isReady: () => controller.hasSynced(),
      logger: log,
    });
    log.info({ port: probe.port }, 'serving /metrics, /healthz and /readyz');
  }

  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  let stopping: Promise<void> | undefined;
  let elector: LeaderElector | undefined;
  let running: Promise<void> | undefined;

  let rotator: CertRotator | undefined;
  const startRotator = () => {
    if (options.certRotator) rotator = startCertRotator({ ...options.certRotator, client, logger: log });
  };
  const stopRotator = async () => {
    await rotator?.stop();
    rotator = undefined;
  };

  const closeAll = async () => {
    await stopRotator();
    await events.flush();
    await probe?.close();
    await client.close();
  };

  if (options.leaderElect ?? true) {
    const namespace = options.leaderElectNamespace ?? inClusterNamespace() ?? 'kube-system';
    elector = new LeaderElector({
      client,
      namespace,
      name: options.leaderElectId ?? DEFAULT_LEASE_NAME,
      identity,
      logger: log,
      registry,
      ...(options.leaseDurationMs ? { leaseDurationMs: options.leaseDurationMs } : {}),
      ...(options.renewDeadlineMs ? { renewDeadlineMs: options.renewDeadlineMs } : {}),
      ...(options.retryPeriodMs ? { retryPeriodMs: options.retryPeriodMs } : {}),
      onStartedLeading: (leading) => {
        startRotator();
        running = controller.run(leading).catch((err: unknown) => {
          if (!leading.aborted) log.error({ err }, 'controller stopped with an error');
        });
      },
      onStoppedLeading: (reason) => {
        if (reason !== 'lost') return;
        // The leading signal already cancelled in-flight writes; no new sync may start.
        log.error('leadership lost, stopping');
        void (async () => {
          await stopRotator();
          controller.queue.shutDown();
          await running;
          await controller.stop();
          await closeAll();
          resolveDone();
          options.onLeadershipLost?.();
        })();
      },
    });
    void elector.start();
  } else {
    startRotator();
    running = controller
      .run()
      .catch((err: unknown) => log.error({ err }, 'controller stopped with an error'));
  }

  const stop = () =>
    (stopping ??= (async () => {
      log.info('stopping: draining in-flight syncs');
      await controller.stop();
      await running;
      await stopRotator();
      // Release only after the last write (syncs and certificate rotation), so the next leader never overlaps with us.
      await elector?.stop();
      await closeAll();
      resolveDone();
    })());

  return {
    controller,
    client,
    registry,
    identity,
    elector,
    probePort: probe?.port,
    isLeader: () => (elector ? elector.isLeader() : true),
    isReady: () => controller.hasSynced(),
    done,
    stop,
  };
}

const FLAGS = {
  kubeconfig: { type: 'string', description: 'Path to a kubeconfig. In-cluster configuration when unset.' },
  workers: { type: 'integer', default: 2, min: 1, description: 'DaemonSets synced concurrently.' },
  burst: {
    type: 'integer',
    default: DEFAULT_BURST,
    min: 1,
    description: 'Pod creations and deletions per DaemonSet sync.',
  },
  'kube-api-qps': {
    type: 'number',
    default: 20,
    min: 0,
    description: 'Requests per second to the API server (0 = unlimited).',
  },
  'kube-api-burst': {
    type: 'integer',
    default: 30,
    min: 1,
    description: 'Burst of requests to the API server.',
  },
  'leader-elect': {
    type: 'boolean',
    default: true,
    description: 'Elect a leader through a Lease before syncing (for running replicas).',
  },
  'leader-elect-namespace': {
    type: 'string',
    description:
      'Namespace of the leader election Lease (default: the pod\'s namespace, else "kube-system").',
  },
  'leader-elect-id': {
    type: 'string',
    default: DEFAULT_LEASE_NAME,
    description: 'Name of the leader election Lease.',
  },
  'metrics-port': {
    type: 'integer',
    default: 8081,
    min: 0,
    max: 65535,
    description: 'Port of /metrics, /healthz and /readyz.',
  },
  'log-level': { type: 'string', default: 'info', choices: LOG_LEVELS, description: 'Log level.' },
  ...tlsFlagSpecs,
} as const satisfies FlagSpecs;

export async function main(argv: readonly string[]): Promise<void> {
  const flags = parseFlagsOrExit(FLAGS, argv, 'everynode-controller');
  let certRotator: CertRotatorConfig | undefined;
  try {
    certRotator = certRotatorConfigFromFlags(flags, inClusterNamespace());
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`Error: ${err.message}\n${usage(FLAGS, 'everynode-controller')}`);
    process.exit(2);
  }
  const logger = createLogger({ name: 'controller', level: flags['log-level'] });
  logger.info({ version: everynodeVersion }, 'starting everynode controller');
  let handle: ControllerHandle;
  try {
    handle = await startController({
      ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
      logger,
      workers: flags.workers,
      burst: flags.burst,
      kubeApiQps: flags['kube-api-qps'],
      kubeApiBurst: flags['kube-api-burst'],
      leaderElect: flags['leader-elect'],
      ...(flags['leader-elect-namespace'] ? { leaderElectNamespace: flags['leader-elect-namespace'] } : {}),
      leaderElectId: flags['leader-elect-id'],
      metricsPort: flags['metrics-port'],
      ...(certRotator ? { certRotator } : {}),
      // controller-runtime exits when it loses the lease; the Deployment restarts us as a standby.
      onLeadershipLost: () => {
        flushLogger(logger);
        process.exit(1);
      },
    });
  } catch (err) {
    logger.fatal({ err }, 'could not start');
    flushLogger(logger);
    process.exit(1);
  }
  installShutdown({ logger, stop: () => handle.stop() });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
}
