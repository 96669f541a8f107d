// Graceful close of the HTTPS server: an in-flight admission is still answered,
// and connections the API server keeps open — one that has served a request and
// one that completed its TLS handshake but never sent a request — do not hold
// close() open (the second kind is not "idle" to node's closeIdleConnections).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, expect, it } from 'vitest';
import { generateCertificateAuthority, generateServingCertificate } from '../../../src/lib/certs.ts';
import { startWebhookServer, type WebhookServer } from '../../../src/webhook/server.ts';
import { admissionReview, nginxPod } from './fixtures.ts';

let server: WebhookServer | undefined;
const sockets: tls.TLSSocket[] = [];

afterEach(() => {
  for (const s of sockets) s.destroy();
  sockets.length = 0;
});

async function start(): Promise<{ server: WebhookServer; ca: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'webhook-close-'));
  const ca = await generateCertificateAuthority();
  const serving = await generateServingCertificate(ca, { hosts: ['127.0.0.1'] });
  await writeFile(join(dir, 'tls.crt'), serving.certPem);
  await writeFile(join(dir, 'tls.key'), serving.keyPem);
  server = await startWebhookServer({
    port: 0,
    host: '127.0.0.1',
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    networkUnavailable: 'hostNetwork',
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
  });
  return { server, ca: ca.certPem };
}

function connect(port: number, ca: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca }, () => resolve(socket));
    socket.once('error', reject);
    sockets.push(socket);
  });
}

/** Sends one keep-alive POST /mutate and resolves with the raw HTTP response once it is complete. */
function mutate(socket: tls.TLSSocket): Promise<string> {
  const body = JSON.stringify(admissionReview(nginxPod('worker-1')));
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const headerEnd = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (headerEnd >= 0 && length && text.length >= headerEnd + 4 + Number(length)) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.write(
      `POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`,
    );
  });
}

const closed = (socket: tls.TLSSocket) =>
  new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));

it('close() ends kept-alive and never-used connections and resolves', async () => {
  const { server: s, ca } = await start();
  const used = await connect(s.port, ca);
  expect(await mutate(used)).toMatch(/^HTTP\/1\.1 200/);
  const neverUsed = await connect(s.port, ca);

  await s.close();
  await Promise.all([closed(used), closed(neverUsed)]);
  expect(used.closed && neverUsed.closed).toBe(true);
});

it('a request in flight when close() starts is still answered', async () => {
  const { server: s, ca } = await start();
  const socket = await connect(s.port, ca);
  const body = JSON.stringify(admissionReview(nginxPod('worker-1')));
  // Headers and half the body: the request is in flight.
  socket.write(
    `POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 100)}`,
  );
  await new Promise((r) => setTimeout(r, 100));
  let response = '';
  socket.on('data', (chunk: Buffer) => (response += chunk.toString()));
  const closing = s.close();
  socket.write(body.slice(100));
  await closing;
  await closed(socket);
  expect(response).toMatch(/^HTTP\/1\.1 200/);
  const json = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as {
    response: { allowed: boolean; patch?: string };
  };
  expect(json.response.allowed).toBe(true);
});
