// Bad input on POST /mutate (after controller-runtime's http_test.go): each gets
// a 4xx with a short JSON error, is logged at warn, and the app keeps serving.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import request from 'supertest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createWebhookListener, MAX_BODY_BYTES } from '../../../src/webhook/app.ts';
import { admissionReview, admit, nginxPod } from './fixtures.ts';

function recordingLogger() {
  const lines: { level: string; msg: string; status?: number; error?: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, stream);
  return { logger, lines };
}

const { logger, lines } = recordingLogger();
const registry = new Registry();
type Target = Parameters<typeof request>[0];
// The HTTPS server's own listener (createWebhookListener, what startWebhookServer serves): the
// tests and production build the server one way.
const targets: [string, Target][] = [
  ['server listener', createWebhookListener({ networkUnavailable: 'hostNetwork', logger, registry })],
];
const validBody = () => JSON.stringify(admissionReview(nginxPod()));

const cases: { name: string; send: (app: Target) => request.Test; status: number; error: RegExp }[] = [
  {
    name: 'an empty JSON body',
    send: (app) => request(app).post('/mutate').set('Content-Type', 'application/json').send(''),
    status: 400,
    error: /empty/,
  },
  {
    name: 'no body and no Content-Type',
    send: (app) => request(app).post('/mutate'),
    status: 400,
    error: /empty/,
  },
  {
    name: 'a text/plain body',
    send: (app) => request(app).post('/mutate').set('Content-Type', 'text/plain').send(validBody()),
    status: 415,
    error: /Content-Type must be application\/json/,
  },
  {
    name: 'a YAML body',
    send: (app) =>
      request(app)
        .post('/mutate')
        .set('Content-Type', 'application/yaml')
        .send('apiVersion: admission.k8s.io/v1'),
    status: 415,
    error: /Content-Type/,
  },
  {
    name: 'a body that is not JSON',
    send: (app) =>
      request(app).post('/mutate').set('Content-Type', 'application/json').send('{"apiVersion": "admission'),
    status: 400,
    error: /not valid JSON/,
  },
  {
    name: 'a JSON string',
    send: (app) =>
      request(app).post('/mutate').set('Content-Type', 'application/json').send('"AdmissionReview"'),
    status: 400,
    error: /not a JSON object/,
  },
  {
    name: 'a JSON array',
    send: (app) => request(app).post('/mutate').set('Content-Type', 'application/json').send('[]'),
    status: 400,
    error: /not a JSON object/,
  },
  {
    name: 'an empty object',
    send: (app) => request(app).post('/mutate').send({}),
    status: 400,
    error: /expected apiVersion/,
  },
  {
    name: 'apiVersion admission.k8s.io/v1beta1',
    send: (app) =>
      request(app)
        .post('/mutate')
        .send({ ...admissionReview(nginxPod()), apiVersion: 'admission.k8s.io/v1beta1' }),
    status: 400,
    error: /admission.k8s.io\/v1beta1/,
  },
  {
    name: 'kind Pod',
    send: (app) =>
      request(app)
        .post('/mutate')
        .send({ ...admissionReview(nginxPod()), kind: 'Pod' }),
    status: 400,
    error: /kind "Pod"/,
  },
  {
    name: 'no request',
    send: (app) =>
      request(app).post('/mutate').send({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
    status: 400,
    error: /no request/,
  },
  {
    name: 'a request without uid',
    send: (app) =>
      request(app)
        .post('/mutate')
        .send(admissionReview(nginxPod(), { uid: undefined })),
    status: 400,
    error: /no uid/,
  },
  {
    name: 'an empty uid',
    send: (app) =>
      request(app)
        .post('/mutate')
        .send(admissionReview(nginxPod(), { uid: '' })),
    status: 400,
    error: /no uid/,
  },
  {
    name: 'a numeric uid',
    send: (app) =>
      request(app)
        .post('/mutate')
        .send(admissionReview(nginxPod(), { uid: 42 })),
    status: 400,
    error: /no uid/,
  },
  {
    name: 'a body over 7 MiB',
    send: (app) =>
      request(app)
        .post('/mutate')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ ...admissionReview(nginxPod()), padding: 'x'.repeat(MAX_BODY_BYTES) })),
    status: 413,
    error: /exceeds 7340032 bytes/,
  },
  {
    name: 'an unsupported charset',
    send: (app) =>
      request(app).post('/mutate').set('Content-Type', 'application/json; charset=latin1').send(validBody()),
    status: 415,
    error: /charset/,
  },
  {
    name: 'a gzip Content-Encoding',
    send: (app) =>
      request(app)
        .post('/mutate')
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'gzip')
        .send(validBody()),
    status: 415,
    error: /Content-Encoding/,
  },
  {
    name: 'a declared Content-Length over 7 MiB',
    send: (app) =>
      request(app)
        .post('/mutate')
        .set('Content-Type', 'application/json')
        .set('Content-Length', String(MAX_BODY_BYTES + 1))
        .send('{}'),
    status: 413,
    error: /exceeds/,
  },
  { name: 'GET /mutate', send: (app) => request(app).get('/mutate'), status: 405, error: /use POST/ },
  {
    name: 'POST to another path',
    send: (app) => request(app).post('/validate').send(validBody()),
    status: 404,
    error: /no such path/,
  },
];

describe.each(targets)('bad input (%s)', (_target, app) => {
  it.each(cases)('$name → $status with a JSON error, logged at warn', async ({ send, status, error }) => {
    const before = lines.length;
    const res = await send(app);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(res.body)).toEqual(['error']);
    expect(res.body.error).toMatch(error);
    expect(lines.slice(before)).toContainEqual(
      expect.objectContaining({ level: 'warn', status, error: res.body.error }),
    );
    // and the app still admits
    const { response } = await admit(app, nginxPod());
    expect(response.allowed).toBe(true);
  });

  it('answers 413 to a body that never ends, and closes the connection', async () => {
    const server = http.createServer(app as http.RequestListener).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      // A raw socket: node's http client reports the EPIPE of its unfinished upload
      // instead of the response the server sent first.
      const result = await new Promise<{ status: number; body: string; connection: string | undefined }>(
        (resolve) => {
          const socket = net.connect(port, '127.0.0.1');
          let received = '';
          let answered = false;
          const chunk = Buffer.concat([
            Buffer.from(`10000\r\n`),
            Buffer.alloc(0x10000, 0x20),
            Buffer.from('\r\n'),
          ]); // JSON whitespace, forever
          const pump = () => {
            while (!answered && socket.write(chunk));
            if (!answered) socket.once('drain', pump);
          };
          socket.on('data', (d: Buffer) => {
            answered = true;
            received += d.toString('latin1');
          });
          socket.on('error', () => undefined); // EPIPE/ECONNRESET once the server closes: expected
          socket.on('close', () => {
            const [head = '', body = ''] = received.split('\r\n\r\n', 2);
            const [statusLine = '', ...headerLines] = head.split('\r\n');
            const headers = new Map(
              headerLines.map((l) => [
                l.slice(0, l.indexOf(':')).toLowerCase(),
                l.slice(l.indexOf(':') + 1).trim(),
              ]),
            );
            resolve({
              status: Number(statusLine.split(' ')[1]),
              body,
              connection: headers.get('connection'),
            });
          });
          socket.write(
            'POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
          );
          pump();
        },
      );
      expect(result.status).toBe(413);
      expect(JSON.parse(result.body)).toEqual({ error: `request body exceeds ${MAX_BODY_BYTES} bytes` });
      expect(result.connection).toBe('close');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('accepts application/json with a utf-8 charset', async () => {
    const res = await request(app)
      .post('/mutate')
      .set('Content-Type', 'application/json; charset=utf-8')
      .send(validBody());
    expect(res.status).toBe(200);
    expect(res.body.response.allowed).toBe(true);
  });
});

describe('metrics', () => {
  it('counts requests by code, observes latency, and returns in-flight to zero', async () => {
    const reg = new Registry();
    const counted = createWebhookListener({ networkUnavailable: 'hostNetwork', registry: reg });
    await admit(counted, nginxPod());
    await admit(counted, nginxPod());
    await request(counted).post('/mutate').set('Content-Type', 'application/json').send('nope');
    await request(counted).post('/mutate').set('Content-Type', 'text/plain').send('nope');
    const text = await reg.metrics();
    expect(text).toContain('controller_runtime_webhook_requests_total{webhook="/mutate",code="200"} 2');
    expect(text).toContain('controller_runtime_webhook_requests_total{webhook="/mutate",code="400"} 1');
    expect(text).toContain('controller_runtime_webhook_requests_total{webhook="/mutate",code="415"} 1');
    expect(text).toContain('controller_runtime_webhook_latency_seconds_count{webhook="/mutate"} 4');
    expect(text).toContain('controller_runtime_webhook_requests_in_flight{webhook="/mutate"} 0');
    expect(text).toContain('controller_runtime_webhook_panics_total 0');
  });

  it('counts a throwing decision as a panic while answering 200', async () => {
    const reg = new Registry();
    const counted = createWebhookListener({ networkUnavailable: 'hostNetwork', registry: reg });
    const pod = nginxPod();
    pod.spec!.tolerations = [null as never];
    const { response } = await admit(counted, pod);
    expect(response.status!.code).toBe(500);
    const text = await reg.metrics();
    expect(text).toContain('controller_runtime_webhook_panics_total 1');
    expect(text).toContain('controller_runtime_webhook_requests_total{webhook="/mutate",code="200"} 1');
  });

  it('registers process metrics on a default registry', async () => {
    const { newProcessRegistry } = await import('../../../src/lib/metrics.ts');
    const reg = newProcessRegistry();
    createWebhookListener({ networkUnavailable: 'hostNetwork', registry: reg });
    const text = await reg.metrics();
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });
});
