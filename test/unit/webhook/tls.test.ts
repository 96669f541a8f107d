// The built binary over real TLS: serve with a generated certificate laid out
// like a Kubernetes Secret volume, rotate it (new CA) while requests keep
// flowing, survive an invalid pair, and exit 0 on SIGTERM after finishing the
// request in flight.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateCertificateAuthority,
  generateServingCertificate,
  type ServingCertificate,
} from '../../../src/lib/certs.ts';
import { admissionReview, nginxPod } from './fixtures.ts';

const ROOT = join(import.meta.dirname, '../../..');

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMillis = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

/** A Secret volume as the kubelet writes it: files behind a `..data` symlink swapped atomically. */
async function writeSecretVolume(
  dir: string,
  serving: ServingCertificate,
  generation: number,
): Promise<void> {
  const version = `..2026_01_01_00_00_0${generation}.000000${generation}`;
  await mkdir(join(dir, version));
  await writeFile(join(dir, version, 'tls.crt'), serving.certPem);
  await writeFile(join(dir, version, 'tls.key'), serving.keyPem);
  await symlink(version, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  if (generation === 1) {
    await symlink('..data/tls.crt', join(dir, 'tls.crt'));
    await symlink('..data/tls.key', join(dir, 'tls.key'));
  }
}

interface Answer {
  status: number;
  body: { response?: { uid: string; allowed: boolean } };
  fingerprint256: string;
}

function post(port: number, ca: string[], body: string, agent: https.Agent | false = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/mutate',
        ca,
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const fingerprint256 = (res.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text), fingerprint256 }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('webhook binary over TLS', () => {
  let dir: string;
  let child: ChildProcess;
  let logs = '';
  let port = 0;
  let metricsPort = 0;
  const exited = new Promise<number | null>((resolve) => {
    const wait = setInterval(() => {
      if (child) {
        clearInterval(wait);
        child.once('exit', (code) => resolve(code));
      }
    }, 10);
  });
  let ca1: string;
  let first: ServingCertificate;

  beforeAll(async () => {
    await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: ROOT,
      },
    );
    dir = await mkdtemp(join(tmpdir(), 'everynode-webhook-tls-'));
    const ca = await generateCertificateAuthority();
    ca1 = ca.certPem;
    first = await generateServingCertificate(ca, { hosts: ['127.0.0.1', 'localhost'] });
    await writeSecretVolume(dir, first, 1);
    child = spawn(
      process.execPath,
      [
        join(ROOT, 'dist/webhook/main.js'),
        '--port=0',
        '--metrics-port=0',
        '--bind-address=127.0.0.1',
        `--tls-cert-file=${join(dir, 'tls.crt')}`,
        `--tls-private-key-file=${join(dir, 'tls.key')}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
    const lines = (): { msg?: string; port?: number }[] =>
      logs
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg?: string; port?: number });
    port = await waitFor(
      'the HTTPS port in the logs',
      () => lines().find((l) => l.msg === 'webhook serving HTTPS')?.port,
    );
    metricsPort = await waitFor(
      'the metrics port in the logs',
      () => lines().find((l) => l.msg?.startsWith('serving /metrics'))?.port,
    );
    await waitFor('readiness', async () =>
      (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).ok ? true : undefined,
    );
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('admits over HTTPS with the first certificate', async () => {
    const review = admissionReview(nginxPod());
    const answer = await post(port, [ca1], JSON.stringify(review));
    expect(answer.status).toBe(200);
    expect(answer.body.response).toMatchObject({ uid: review.request.uid, allowed: true });
    expect(answer.fingerprint256).toBe(first.fingerprint256);
  });

  it('refuses TLS below 1.2 and plain HTTP', async () => {
    const handshake = new Promise<void>((resolve, reject) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port, ca: [ca1], minVersion: 'TLSv1', maxVersion: 'TLSv1.1' },
        () => {
          socket.destroy();
          reject(new Error('TLS 1.1 handshake succeeded'));
        },
      );
      socket.on('error', () => resolve());
    });
    await handshake;
    const plain = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () =>
        socket.write('POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'),
      );
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(got));
    });
    expect(plain).not.toMatch(/^HTTP\/1\.1 200/);
  });

  it('serves a rotated certificate (new CA) without a restart, every request succeeding meanwhile', async () => {
    const ca2 = await generateCertificateAuthority({ commonName: 'rotated-ca' });
    const second = await generateServingCertificate(ca2, { hosts: ['127.0.0.1'] });
    const keptAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const body = JSON.stringify(admissionReview(nginxPod()));
    expect((await post(port, [ca1], body, keptAlive)).status).toBe(200);

    await writeSecretVolume(dir, second, 2);
    const seen = await waitFor('the new certificate', async () => {
      const answer = await post(port, [ca1, ca2.certPem], body);
      expect(answer.status).toBe(200); // old or new certificate: never a failure
      return answer.fingerprint256 === second.fingerprint256 ? answer : undefined;
    });
    expect(seen.body.response!.allowed).toBe(true);
    // trusting only the new CA works now
    expect((await post(port, [ca2.certPem], body)).fingerprint256).toBe(second.fingerprint256);
    // a connection opened before the rotation keeps working
    expect((await post(port, [ca1], body, keptAlive)).status).toBe(200);
    keptAlive.destroy();

    // an invalid pair (key of another certificate) is rejected: the second keeps serving
    const third = await generateServingCertificate(ca2, { hosts: ['127.0.0.1'] });
    await writeSecretVolume(dir, { ...third, keyPem: first.keyPem }, 3);
    await waitFor('the read error to be counted', async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const errors = Number(/^certwatcher_read_certificate_errors_total (\d+)/m.exec(text)?.[1] ?? 0);
      return errors >= 1 ? true : undefined;
    });
    expect((await post(port, [ca2.certPem], body)).fingerprint256).toBe(second.fingerprint256);
    expect(logs).toContain('new serving certificate is invalid, keeping the previous one');
  });

  it('on SIGTERM finishes the request in flight, then exits 0', async () => {
    const body = JSON.stringify(admissionReview(nginxPod()));
    const half = Math.floor(body.length / 2);
    const answer = new Promise<number>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/mutate',
          rejectUnauthorized: false,
          agent: false,
          headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, half));
      // Once the server has the request's start, stop the process, then send the rest.
      req.on('socket', (socket) =>
        socket.once('secureConnect', () =>
          setTimeout(() => {
            child.kill('SIGTERM');
            setTimeout(() => req.end(body.slice(half)), 300);
          }, 300),
        ),
      );
    });
    expect(await answer).toBe(200);
    expect(await exited).toBe(0);
    expect(logs).toContain('shut down cleanly');
  });
}, 120_000);
