// The admission HTTP shell: an express 5 app with POST /mutate. TLS is added by
// server.ts; tests drive this app directly with supertest.
//
// Shell rules (after controller-runtime pkg/webhook/admission/http.go):
//   body over 7 MiB → 413; empty body → 400; Content-Type not application/json → 415;
//   not JSON → 400; not an admission.k8s.io/v1 AdmissionReview with request.uid → 400;
//   anything thrown while deciding → HTTP 200 AdmissionReview, allowed:false, code 500.
// Bad input is answered with a short JSON {error} and logged at warn; nothing here
// answers 5xx or lets an exception escape.
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { NetworkUnavailableMode } from '../lib/daemon-pod.ts';
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

export function createWebhookApp(options: WebhookAppOptions): Express {
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
    if (!counter)
      requestsByCode.set(
        code,
        (counter = metrics.requests.labels({ webhook: MUTATE_PATH, code: String(code) })),
      );
    return counter;
  };
  const countRequest = (code: number) => counterFor(code).inc();
  counterFor(200).inc(0); // present at 0 from the first scrape

  const instrument: RequestHandler = (_req, res, next) => {
    const start = process.hrtime.bigint();
    inFlight.inc();
    // 'close' fires for completed and for aborted responses alike.
    res.once('close', () => {
      inFlight.dec();
      latency.observe(Number(process.hrtime.bigint() - start) / 1e9);
      countRequest(res.statusCode);
    });
    next();
  };

  const parseJson = express.json({ limit: MAX_BODY_BYTES, type: 'application/json', strict: true });

  const mutate: RequestHandler = (req, res) => {
    const body: unknown = req.body;
    if (body === undefined) {
      // express.json leaves the body unset when there is none or its type is not JSON.
      if (!req.is('application/json') && hasBody(req.headers)) {
        badRequest(
          res,
          415,
          `Content-Type must be application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`,
        );
      } else {
        badRequest(res, 400, 'request body is empty');
      }
      return;
    }
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
    res.status(200).json(review);
  };

  const badRequest = (res: express.Response, status: number, error: string) => {
    logger.warn({ status, error, remoteAddress: res.req.socket.remoteAddress }, 'rejected admission request');
    res.status(status).json({ error });
  };

  const onError: ErrorRequestHandler = (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const e = err as { status?: number; statusCode?: number; type?: string; message?: string };
    const given = e.status ?? e.statusCode;
    const status = typeof given === 'number' && given >= 400 && given < 500 ? given : 400;
    const error =
      e.type === 'entity.too.large'
        ? `request body exceeds ${MAX_BODY_BYTES} bytes`
        : e.type === 'entity.parse.failed'
          ? 'request body is not valid JSON'
          : (e.message ?? 'bad request');
    // An unread remainder (e.g. an over-long body) must not be parsed as the next request.
    if (!req.complete) res.set('Connection', 'close');
    badRequest(res, status, error);
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  app.post(MUTATE_PATH, instrument, parseJson, mutate);
  app.all(MUTATE_PATH, (_req, res) => {
    res.set('Allow', 'POST');
    badRequest(res, 405, 'method not allowed: use POST');
  });
  app.use((req, res) => badRequest(res, 404, `no such path: ${req.path}`));
  app.use(onError);
  return app;
}

function hasBody(headers: { 'transfer-encoding'?: string; 'content-length'?: string }): boolean {
  return (
    headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0')
  );
}
