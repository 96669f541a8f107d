// Hot reload of the serving certificate, after controller-runtime's
// pkg/certwatcher: watch the files' directories (a Kubernetes Secret volume
// swaps a `..data` symlink, so the files themselves never fire events) plus a
// poll as a fallback for file systems where fs.watch is silent. A pair that
// does not load (unreadable, not PEM, key not matching the certificate) is
// logged and counted, and the previous certificate keeps serving.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { CertWatcherMetrics } from './metrics.ts';

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

export interface CertWatcherOptions {
  certFile: string;
  keyFile: string;
  logger: Logger;
  metrics: CertWatcherMetrics;
  /** Called with each new valid pair (not with the initial one). */
  onChange: (pair: KeyPair) => void;
  pollMillis?: number;
  /** Events arrive in bursts during a swap; wait this long for it to settle. */
  debounceMillis?: number;
}

export interface CertWatcher {
  /** The pair currently in use. */
  current(): KeyPair;
  close(): void;
}

/** Throws when the pair cannot serve TLS. */
function checkPair(pair: KeyPair): void {
  tls.createSecureContext({ cert: pair.cert, key: pair.key });
}

function fingerprint(cert: Buffer): string | undefined {
  try {
    return new X509Certificate(cert).fingerprint256;
  } catch {
    return undefined;
  }
}

/** Reads and checks the initial pair (throws when it is unusable), then watches for changes. */
export async function watchCertificate(options: CertWatcherOptions): Promise<CertWatcher> {
  const { certFile, keyFile, logger, metrics } = options;
  const read = async (): Promise<KeyPair> => {
    const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
    return { cert, key };
  };

  metrics.reads.inc();
  let current: KeyPair;
  try {
    current = await read();
    checkPair(current);
  } catch (err) {
    metrics.readErrors.inc();
    throw err;
  }
  logger.info({ certFile, fingerprint256: fingerprint(current.cert) }, 'loaded serving certificate');

  let rejected: KeyPair | undefined; // the last bad pair, so a poll does not log it again and again
  let running = false;
  let again = false;
  let closed = false;

  const same = (a: KeyPair | undefined, b: KeyPair) =>
    a !== undefined && a.cert.equals(b.cert) && a.key.equals(b.key);

  const check = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        let next: KeyPair;
        try {
          next = await read();
        } catch (err) {
          // Mid-swap a file can be briefly missing; the next event or poll retries.
          metrics.readErrors.inc();
          logger.warn(
            { err, certFile, keyFile },
            'reading the serving certificate failed, keeping the previous one',
          );
          continue;
        }
        if (closed || same(current, next) || same(rejected, next)) continue;
        metrics.reads.inc();
        try {
          checkPair(next);
        } catch (err) {
          metrics.readErrors.inc();
          rejected = next;
          logger.error(
            { err, certFile, keyFile },
            'new serving certificate is invalid, keeping the previous one',
          );
          continue;
        }
        current = next;
        rejected = undefined;
        options.onChange(next);
        logger.info({ certFile, fingerprint256: fingerprint(next.cert) }, 'reloaded serving certificate');
      } while (again && !closed);
    } finally {
      running = false;
    }
  };

  let debounce: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (closed || debounce) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      void check();
    }, options.debounceMillis ?? 100);
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(certFile), dirname(keyFile)])) {
    try {
      const w = watch(dir, { persistent: false }, schedule);
      w.on('error', (err) =>
        logger.warn({ err, dir }, 'watching the certificate directory failed, polling only'),
      );
      watchers.push(w);
    } catch (err) {
      logger.warn({ err, dir }, 'cannot watch the certificate directory, polling only');
    }
  }
  const poll = setInterval(schedule, options.pollMillis ?? 10_000);
  poll.unref();

  return {
    current: () => current,
    close: () => {
      closed = true;
      clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      for (const w of watchers) w.close();
    },
  };
}
