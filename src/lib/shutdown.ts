// Graceful shutdown on SIGTERM/SIGINT: run the stop function once, then exit 0.
// A second signal while stopping, or a stop that outlives the grace period,
// exits 1 so a stuck process never hangs a rollout.
import type { Logger } from 'pino';
import { flushLogger } from './logger.ts';

export interface ShutdownOptions {
  logger: Logger;
  /** Stops the process's servers and loops; exit follows when it settles. */
  stop: () => Promise<void>;
  /** Longest the stop may take before a forced exit, in milliseconds. */
  graceMillis?: number;
  signals?: readonly NodeJS.Signals[];
}

export function installShutdown(options: ShutdownOptions): void {
  const { logger, stop } = options;
  const graceMillis = options.graceMillis ?? 30_000;
  let stopping = false;
  const exit = (code: number) => {
    flushLogger(logger);
    process.exit(code);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal while shutting down, exiting now');
      exit(1);
      return;
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const forced = setTimeout(() => {
      logger.error({ graceMillis }, 'shutdown did not finish within the grace period');
      exit(1);
    }, graceMillis);
    forced.unref();
    stop().then(
      () => {
        logger.info('shut down cleanly');
        exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) process.on(signal, onSignal);
}
