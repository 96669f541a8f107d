// The admission HTTP shell: the request listener of the webhook's HTTPS server
// (server.ts adds TLS). The unit tests drive this same listener with supertest,
// so tests and production build the server one way.
//
// Shell rules (after controller-runtime pkg/webhook/admission/http.go):
//   empty body → 400; Content-Type not application/json (or a charset other than
//   utf-8, or a Content-Encoding) → 415; body over 7 MiB → 413 at once, connection
//   closed; not JSON → 400; not an admission.k8s.io/v1 AdmissionReview with a
//   request.uid → 400; anything thrown while deciding → HTTP 200 AdmissionReview,
//   allowed:false, code 500. Bad input is answered with a short JSON {error} and
//   logged at warn; nothing here answers 5xx or lets an exception escape.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type Express } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { NetworkUnavailableMode } from '../contract/daemon-pod.ts';
import { silentLogger } from '../lib/logger.ts';
import { newProcessRegistry } from '../lib/metrics.ts';
import { admitPod, type MutateOptions } from './mutate.ts';
import { registerWebhookMetrics } from './metrics.ts';
import { decisionReview, decodeReview, erroredReview } from './review.ts';

export const MUTATE_PATH = '/mutate';
/** controller-runtime's admission body limit. */
export const MAX_BODY_BYTES = 7 * 1024 * 1024;

export interface WebhookAppOptions {
  networkUnavailable: NetworkUnavailableMode;
  logger?: Logger;
  /** Where the webhook metrics go; a fresh registry with process metrics when absent. */
  registry?: Registry;
}

/** A plain node:http request listener. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

interface Shell {
  handleMutate: RequestListener;
  badRequest: (res: ServerResponse, status: number, error: string) => void;
  logger: Logger;
}

function createShell(options: WebhookAppOptions): Shell {
  const logger = options.logger ?? silentLogger();
  const registry = options.registry ?? newProcessRegistry();
  const metrics = registerWebhookMetrics(registry);
  const mutateOptions: MutateOptions = { networkUnavailable: options.networkUnavailable };

  // Label children resolved once: the hot path then only touches numbers.
  const latency = metrics.latency.labels({ webhook: MUTATE_PATH });
  const inFlight = metrics.inFlight.labels({ webhook: MUTATE_PATH });
  inFlight.set(0);
  const requestsByCode = new Map<number, ReturnType<typeof metrics.requests.labels>>();
  const counterFor = (code: number) => {
    let counter = requestsByCode.get(code);
    if (!counter) {
      counter = metrics.requests.labels({ webhook: MUTATE_PATH, code: String(code) });
      requestsByCode.set(code, counter);
    }
    return counter;
  };
  counterFor(200).inc(0); // present at 0 from the first scrape

  const badRequest = (res: ServerResponse, status: number, error: string) => {
    logger.warn({ status, error, remoteAddress: res.req.socket.remoteAddress }, 'rejected admission request');
    sendJson(res, status, JSON.stringify({ error }));
  };

  const decide = (res: ServerResponse, body: unknown) => {
    const decoded = decodeReview(body);
    if (!decoded.ok) {
      badRequest(res, 400, decoded.error);
      return;
    }
    const { request } = decoded;
    let review;
    try {
      const result = admitPod(request, mutateOptions);
      review = decisionReview(request.uid, result);
      if (logger.isLevelEnabled('debug')) {
        logger.debug(
          { uid: request.uid, namespace: request.namespace, name: request.name, result },
          'admission decided',
        );
      }
    } catch (err) {
      metrics.panics.inc();
      logger.error({ err, uid: request.uid }, 'admission failed');
      review = erroredReview(
        request.uid,
        `internal error: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    sendJson(res, 200, JSON.stringify(review));
  };

  // The body is read by hand instead of express.json(): body-parser reads an
  // over-limit body to its end before reporting 413, so an endless body would
  // never be answered, and its charset/inflate machinery is dead weight here.
  const handleMutate: RequestListener = (req, res) => {
    const start = process.hrtime.bigint();
    inFlight.inc();
    // 'close' fires for completed and for aborted responses alike.
    res.once('close', () => {
      inFlight.dec();
      latency.observe(Number(process.hrtime.bigint() - start) / 1e9);
      counterFor(res.statusCode).inc();
    });

    const length = req.headers['content-length'];
    if ((length === undefined && req.headers['transfer-encoding'] === undefined) || length === '0') {
      badRequest(res, 400, 'request body is empty');
      return;
    }
    const typeProblem = contentTypeProblem(req.headers['content-type'], req.headers['content-encoding']);
    if (typeProblem) {
      closeAfterResponse(req, res);
      badRequest(res, 415, typeProblem);
      return;
    }
    if (length !== undefined && Number(length) > MAX_BODY_BYTES) {
      closeAfterResponse(req, res);
      badRequest(res, 413, TOO_LARGE);
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_BODY_BYTES) {
        cleanup();
        closeAfterResponse(req, res);
        badRequest(res, 413, TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (received === 0) {
        badRequest(res, 400, 'request body is empty');
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(
          (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)).toString('utf8'),
        );
      } catch {
        badRequest(res, 400, 'request body is not valid JSON');
        return;
      }
      decide(res, body);
    };
    const onError = (err: Error) => {
      cleanup();
      // The client went away mid-body: there is nobody to answer, only the count.
      logger.debug({ err }, 'admission request aborted');
      res.statusCode = 400;
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  };

  return { handleMutate, badRequest, logger };
}

function expressApp(shell: Shell): Express {
  const { badRequest, logger } = shell;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  app.post(MUTATE_PATH, shell.handleMutate);
  app.all(MUTATE_PATH, (_req, res) => {
    res.setHeader('Allow', 'POST');
    badRequest(res, 405, 'method not allowed: use POST');
  });
  app.use((req, res) => badRequest(res, 404, `no such path: ${req.path}`));
  // Only a bug can get here: still a short 4xx, never express's HTML 500.
  const onError: ErrorRequestHandler = (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    logger.error({ err }, 'unexpected error in the admission shell');
    closeAfterResponse(req, res);
    badRequest(res, 400, 'bad request');
  };
  app.use(onError);
  return app;
}

/**
 * The HTTPS server's listener: POST /mutate goes straight to its handler; every
 * other request goes to an express 5 app that answers JSON 404/405 (express's
 * router also re-prototypes req and res on every request, which the hot path
 * skips; see docs/benchmarks.md).
 */
export function createWebhookListener(options: WebhookAppOptions): RequestListener {
  const shell = createShell(options);
  const app = expressApp(shell);
  return (req, res) => {
    if (req.method === 'POST' && req.url === MUTATE_PATH) shell.handleMutate(req, res);
    else app(req, res);
  };
}

/**
 * node's writeHead/end rather than express's res.json: res.json goes through
 * res.send (charset negotiation, ETag and freshness checks) that an admission
 * answer never needs, on every request.
 */
function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const TOO_LARGE = `request body exceeds ${MAX_BODY_BYTES} bytes`;

/** Why the body cannot be read as JSON, or undefined when it can. */
function contentTypeProblem(
  contentType: string | undefined,
  contentEncoding: string | undefined,
): string | undefined {
  const [mediaType = '', ...params] = (contentType ?? '').split(';');
  if (mediaType.trim().toLowerCase() !== 'application/json') {
    return `Content-Type must be application/json, got ${JSON.stringify(contentType ?? '')}`;
  }
  for (const param of params) {
    const [name = '', value = ''] = param.split('=', 2);
    if (name.trim().toLowerCase() !== 'charset') continue;
    const charset = value
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8')
      return `unsupported charset ${JSON.stringify(charset)}: use utf-8`;
  }
  if (contentEncoding !== undefined && contentEncoding.toLowerCase() !== 'identity') {
    return `unsupported Content-Encoding ${JSON.stringify(contentEncoding)}`;
  }
  return undefined;
}

const LINGER_MILLIS = 1_000;

/**
 * An unread body must not be parsed as the next request, so the connection
 * closes after the response. Closing a socket with unread input makes the kernel
 * send RST, which can destroy the response before the client reads it; like Go's
 * net/http (closeWriteAndWait), send FIN and keep discarding input for a moment.
 */
function closeAfterResponse(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete) return;
  res.setHeader('Connection', 'close');
  const socket = req.socket;
  // node's http server calls destroySoon() once a "Connection: close" response is written.
  socket.destroySoon = function lingeringClose(this: typeof socket) {
    this.end();
    this.resume();
    setTimeout(() => this.destroy(), LINGER_MILLIS).unref();
  };
}
