// The plain-HTTP side server both processes run: /metrics for Prometheus,
// /healthz (liveness: the event loop answers) and /readyz (readiness: the
// caller's callback). node:http rather than express: three fixed routes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

export interface ProbeServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Readiness: true when the process should receive traffic. */
  isReady: () => boolean;
  logger?: Logger;
}

export interface ProbeServer {
  server: http.Server;
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

export function probeRequestHandler(options: Pick<ProbeServerOptions, 'registry' | 'isReady' | 'logger'>) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    switch (path) {
      case '/healthz':
      case '/livez':
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const ready = options.isReady();
        res
          .writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain' })
          .end(ready ? 'ok\n' : 'not ready\n');
        return;
      }
      case '/metrics':
        options.registry.metrics().then(
          (body) => res.writeHead(200, { 'Content-Type': options.registry.contentType }).end(body),
          (err: unknown) => {
            options.logger?.error({ err }, 'collecting metrics failed');
            res.writeHead(500, { 'Content-Type': 'text/plain' }).end('collecting metrics failed\n');
          },
        );
        return;
      default:
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    }
  };
}

/** Starts the probe server and resolves once it listens. */
export async function startProbeServer(options: ProbeServerOptions): Promise<ProbeServer> {
  const server = http.createServer(probeRequestHandler(options));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
