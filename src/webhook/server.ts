// The HTTPS admission server: the webhook listener (app.ts) behind TLS 1.2+, with the
// serving certificate hot-reloaded through setSecureContext.
import type { ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { NetworkUnavailableMode } from '../contract/daemon-pod.ts';
import { createWebhookListener } from './app.ts';
import { watchCertificate, type KeyPair } from './cert-watcher.ts';
import { registerCertWatcherMetrics } from './metrics.ts';

export interface WebhookServerOptions {
  port: number;
  host: string;
  certFile: string;
  keyFile: string;
  networkUnavailable: NetworkUnavailableMode;
  logger: Logger;
  registry: Registry;
  certPollMillis?: number;
}

export interface WebhookServer {
  server: https.Server;
  port: number;
  /** Stops accepting connections and resolves when in-flight requests are done. */
  close(): Promise<void>;
}

const TLS_MIN_VERSION = 'TLSv1.2';
// Longer than the API server's idle-connection timeout (Go's 90 s), so the server
// never closes a kept-alive connection the client is about to reuse.
const KEEP_ALIVE_MILLIS = 120_000;

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const { logger } = options;
  const listener = createWebhookListener({
    networkUnavailable: options.networkUnavailable,
    logger,
    registry: options.registry,
  });
  const tlsOptions = (pair: KeyPair): https.ServerOptions => ({
    cert: pair.cert,
    key: pair.key,
    minVersion: TLS_MIN_VERSION,
  });

  // The watcher exists before the server (it supplies the first pair), so it reaches the server through this holder.
  const holder: { server?: https.Server } = {};
  const certs = await watchCertificate({
    certFile: options.certFile,
    keyFile: options.keyFile,
    logger,
    metrics: registerCertWatcherMetrics(options.registry),
    pollMillis: options.certPollMillis,
    onChange: (pair) => holder.server?.setSecureContext(tlsOptions(pair)),
  });

  const listening = https.createServer(
    { ...tlsOptions(certs.current()), keepAliveTimeout: KEEP_ALIVE_MILLIS },
    listener,
  );
  holder.server = listening;
  // close() stops accepting and waits for open connections. Node's
  // closeIdleConnections()/closeAllConnections() miss a TLS connection on which
  // the API server has not sent a request yet, which then holds close() open
  // until the grace period ends; so the TCP sockets are tracked here, and every one
  // is ended as soon as no request is in flight.
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let closing = false;
  const endAllIfDrained = () => {
    if (closing && inFlight === 0) for (const socket of sockets) socket.destroy();
  };
  listening.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  listening.on('request', (_req, res: ServerResponse) => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
      endAllIfDrained();
    });
  });
  listening.on('tlsClientError', (err) => logger.debug({ err }, 'TLS handshake failed'));
  try {
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(options.port, options.host, () => {
        listening.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    certs.close();
    throw err;
  }
  const port = (listening.address() as AddressInfo).port;
  logger.info({ port, host: options.host, tlsMinVersion: TLS_MIN_VERSION }, 'webhook serving HTTPS');

  return {
    server: listening,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        certs.close();
        closing = true;
        listening.close(() => resolve());
        endAllIfDrained();
      }),
  };
}
