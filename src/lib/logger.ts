// pino JSON logs for both processes. Writes go through an asynchronous
// sonic-boom destination so a log line never blocks a request; flushLogger()
// drains it before the process exits.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = [
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
  'silent',
];

export interface LoggerOptions {
  /** The component name carried on every line (e.g. "webhook"). */
  name: string;
  level?: LevelWithSilent;
  /** File descriptor to write to; stdout by default. */
  fd?: number;
}

const destinations = new WeakMap<Logger, ReturnType<typeof pino.destination>>();

export function createLogger(options: LoggerOptions): Logger {
  const destination = pino.destination({ dest: options.fd ?? 1, sync: false });
  const logger = pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      // Kubernetes log tooling expects ISO timestamps and a textual level.
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  destinations.set(logger, destination);
  return logger;
}

/** A logger that drops everything: for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Writes out whatever the logger still buffers; call before process.exit. */
export function flushLogger(logger: Logger): void {
  const destination = destinations.get(logger);
  if (!destination) return;
  try {
    destination.flushSync();
  } catch {
    // flushSync throws when the destination is not ready yet (nothing written): nothing to flush.
  }
}
