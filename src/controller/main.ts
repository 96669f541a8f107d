// The everynode controller process, and where its parts are wired together:
// flags, Kubernetes client, informer caches (caches.ts), event handlers that
// enqueue DaemonSet keys (handlers.ts), the work queue and reconcile loop
// (src/machinery) running syncDaemonSet (sync.ts: snapshot → plan.ts →
// executor.ts), leader election, /metrics + /healthz + /readyz, graceful
// shutdown. `startController` is the same process as a library, for tests and
// benchmarks.
import '../lib/node-version.ts';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import {
  APPS_V1_DAEMONSET,
  EVERYNODE_DAEMONSET,
  type DaemonOwnerKind,
  type NetworkUnavailableMode,
} from '../contract/daemon-pod.ts';
import type { RolloutSettings } from '../contract/rollout.ts';
import { EventRecorder } from '../machinery/events.ts';
import { FlagError, parseFlagsOrExit, usage, type FlagSpecs } from '../lib/flags.ts';
import { inClusterNamespace, KubeClient, loadKubeConfig } from '../machinery/kube.ts';
import { LeaderElector } from '../machinery/leader-election.ts';
import { ReconcileLoop } from '../machinery/reconcile-loop.ts';
import { WorkQueue } from '../machinery/workqueue.ts';
import { objectKey } from '../machinery/informer-logic.ts';
import { createLogger, flushLogger, LOG_LEVELS, type Logger } from '../lib/logger.ts';
import { newProcessRegistry } from '../lib/metrics.ts';
import { startProbeServer, type ProbeServer } from '../lib/probe-server.ts';
import { installShutdown } from '../lib/shutdown.ts';
import { everynodeVersion } from '../lib/version.ts';
import { certRotatorConfigFromFlags, tlsFlagSpecs } from '../tls/flags.ts';
import { startCertRotator, type CertRotator, type CertRotatorConfig } from '../tls/rotator.ts';
import { FailedPodBackoff } from './backoff.ts';
import { allInformers, createCaches, type DaemonSetCaches } from './caches.ts';
import { ControllerExpectations } from './expectations.ts';
import { DetachedWrites, InPlaceRefusals, StatusWrites } from './executor.ts';
import { registerEventHandlers } from './handlers.ts';
import { syncDaemonSet } from './sync.ts';

export const CONTROLLER_NAME = 'daemonset';
/** upstream burstReplicas. */
export const DEFAULT_BURST = 250;
/** upstream runs failedPodsBackoff.GC every minute. */
const FAILED_POD_BACKOFF_GC_INTERVAL_MS = 60_000;

/** `source.component` of our Events; `kubectl describe ds` shows it in the From column. */
export const EVENT_COMPONENT = 'everynode-controller';
export const DEFAULT_LEASE_NAME = 'everynode-controller';
/** Shortest time between two syncs of one DaemonSet (see WorkQueue's minIntervalMs). */
const MIN_SYNC_INTERVAL_MS = 100;
/**
 * The Event writer's budget: the kubelet's --event-qps / --event-burst defaults. The spam filter
 * already bounds the volume (25 Events per DaemonSet, then one per 5 minutes), and one write is in
 * flight at a time; this is the ceiling for many DaemonSets at once, apart from --kube-api-qps.
 */
const DEFAULT_EVENT_QPS = 50;
const DEFAULT_EVENT_BURST = 100;

export interface StartControllerOptions {
  /** Path of a kubeconfig; in-cluster config (or the default lookup) when absent. */
  kubeconfig?: string;
  /** A loaded config, instead of `kubeconfig`. */
  kubeConfig?: KubeConfig;
  logger: Logger;
  workers?: number;
  burst?: number;
  /** `--network-unavailable`: the same value the webhook is given (default hostNetwork, as upstream). */
  networkUnavailable?: NetworkUnavailableMode;
  /** `--mode`: native manages apps/v1 DaemonSets; crd manages everynode.dev DaemonSets only. */
  mode?: ControllerMode;
  kubeApiQps?: number;
  kubeApiBurst?: number;
  /** `--event-qps` / `--event-burst`: the Event writer's own client-side limit. */
  eventQps?: number;
  eventBurst?: number;
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

/** The DaemonSet controller's parts, wired: caches → handlers → queue → reconcile loop → sync. */
export interface DaemonSetController {
  caches: DaemonSetCaches;
  queue: WorkQueue<string>;
  expectations: ControllerExpectations;
  failedPodBackoff: FailedPodBackoff;
  /** Starts the caches (also on a standby, so a takeover starts warm). */
  startInformers(): void;
  hasSynced(): boolean;
  /** Runs the workers until stop(); `leading` aborts when this process must stop writing. */
  run(leading?: AbortSignal): Promise<void>;
  /** Graceful stop: no new syncs, in-flight syncs finish, informers stop. */
  stop(): Promise<void>;
}

export type ControllerMode = 'native' | 'crd';
export const ownerKindOfMode = (mode: ControllerMode): DaemonOwnerKind =>
  mode === 'crd' ? EVERYNODE_DAEMONSET : APPS_V1_DAEMONSET;

export function newDaemonSetController(options: {
  /** The DaemonSet kind this controller manages (default apps/v1). */
  ownerKind?: DaemonOwnerKind;
  client: KubeClient;
  events: EventRecorder;
  logger: Logger;
  registry?: Registry;
  workers: number;
  burst: number;
  networkUnavailable: NetworkUnavailableMode;
  informer?: StartControllerOptions['informer'];
}): DaemonSetController {
  const logger = options.logger.child({ controller: CONTROLLER_NAME });
  const ownerKind = options.ownerKind ?? APPS_V1_DAEMONSET;
  const caches = createCaches({
    client: options.client,
    ownerKind,
    logger,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.informer ? { informer: options.informer } : {}),
  });
  const queue = new WorkQueue<string>({
    name: CONTROLLER_NAME,
    controller: CONTROLLER_NAME,
    // At most ten passes a second per DaemonSet: during a rollout every pod event re-queues it,
    // and one pass that sees a burst of them does the work of many that each see one.
    minIntervalMs: MIN_SYNC_INTERVAL_MS,
    ...(options.registry ? { registry: options.registry } : {}),
  });
  const expectations = new ControllerExpectations();
  const failedPodBackoff = new FailedPodBackoff();
  const rolloutSettings = new Map<string, RolloutSettings>();
  const statusWrites = new StatusWrites();
  const detached = new DetachedWrites((key) => queue.add(key));
  registerEventHandlers({
    caches,
    queue,
    expectations,
    networkUnavailable: options.networkUnavailable,
    ownerKind,
    forget: (ds) => {
      rolloutSettings.delete(ds.metadata?.uid ?? '');
      statusWrites.forget(ds.metadata?.uid ?? '');
      detached.forget(objectKey(ds));
    },
  });
  const syncDeps = {
    client: options.client,
    caches,
    expectations,
    failedPodBackoff,
    rolloutSettings,
    events: options.events,
    logger,
    burst: options.burst,
    networkUnavailable: options.networkUnavailable,
    ownerKind,
    inPlaceRefused: new InPlaceRefusals(),
    statusWrites,
    detached,
  };
  const loop = new ReconcileLoop<string>({
    name: CONTROLLER_NAME,
    queue,
    workers: options.workers,
    logger,
    ...(options.registry ? { registry: options.registry } : {}),
    reconcile: (key, signal) => syncDaemonSet(syncDeps, key, signal),
  });
  const informers = allInformers(caches);
  let workers: Promise<void> | undefined;
  let gc: NodeJS.Timeout | undefined;
  return {
    caches,
    queue,
    expectations,
    failedPodBackoff,
    startInformers: () => {
      for (const i of informers) i.start();
    },
    hasSynced: () => informers.every((i) => i.hasSynced()),
    run: async (leading) => {
      for (const i of informers) i.start();
      await Promise.all(informers.map((i) => i.waitForSync(leading)));
      logger.info({ workers: options.workers }, 'caches synced, starting workers');
      gc = setInterval(() => failedPodBackoff.gc(Date.now()), FAILED_POD_BACKOFF_GC_INTERVAL_MS);
      gc.unref();
      workers = loop.run(leading);
      await workers;
    },
    stop: async () => {
      await queue.shutDownWithDrain();
      await workers;
      clearInterval(gc);
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
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
  // Events go through a client of their own, so they never take tokens from pod writes.
  const eventClient = new KubeClient(kc, {
    qps: options.eventQps ?? DEFAULT_EVENT_QPS,
    burst: options.eventBurst ?? DEFAULT_EVENT_BURST,
    userAgent: `everynode-controller/${everynodeVersion}`,
  });
  const events = new EventRecorder({
    client: eventClient,
    component: EVENT_COMPONENT,
    instance: identity,
    logger: log,
    registry,
  });
  const controller = newDaemonSetController({
    client,
    events,
    logger: log,
    registry,
    workers: options.workers ?? 2,
    burst: options.burst ?? DEFAULT_BURST,
    networkUnavailable: options.networkUnavailable ?? 'hostNetwork',
    ownerKind: ownerKindOfMode(options.mode ?? 'native'),
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
    if (options.certRotator)
      rotator = startCertRotator({ ...options.certRotator, client, logger: log, events });
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
    await eventClient.close();
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
  mode: {
    type: 'string',
    default: 'native',
    choices: ['native', 'crd'],
    description:
      "native: manage apps/v1 DaemonSets (turn kube-controller-manager's own DaemonSet controller off); crd: manage everynode.dev/v1alpha1 DaemonSets only, beside kube-controller-manager's.",
  },
  'network-unavailable': {
    type: 'string',
    default: 'hostNetwork',
    choices: ['hostNetwork', 'always', 'never'],
    description:
      'When daemon pods tolerate node.kubernetes.io/network-unavailable (upstream: hostNetwork pods only). Give the webhook the same value.',
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
  'event-qps': {
    type: 'number',
    default: DEFAULT_EVENT_QPS,
    min: 0,
    description: 'Event writes per second, a budget apart from --kube-api-qps (0 = unlimited).',
  },
  'event-burst': {
    type: 'integer',
    default: DEFAULT_EVENT_BURST,
    min: 1,
    description: 'Burst of Event writes.',
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
  'metrics-bind-address': {
    type: 'string',
    default: '0.0.0.0',
    description: 'Address the /metrics, /healthz and /readyz server listens on.',
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
      networkUnavailable: flags['network-unavailable'],
      mode: flags.mode,
      kubeApiQps: flags['kube-api-qps'],
      kubeApiBurst: flags['kube-api-burst'],
      eventQps: flags['event-qps'],
      eventBurst: flags['event-burst'],
      leaderElect: flags['leader-elect'],
      ...(flags['leader-elect-namespace'] ? { leaderElectNamespace: flags['leader-elect-namespace'] } : {}),
      leaderElectId: flags['leader-elect-id'],
      metricsPort: flags['metrics-port'],
      metricsHost: flags['metrics-bind-address'],
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
