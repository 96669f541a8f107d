import { afterAll, describe, expect, it } from 'vitest';
import { Counter, Registry } from 'prom-client';
import { startProbeServer } from '../../../src/lib/probe-server.ts';

describe('probe server', async () => {
  const registry = new Registry();
  new Counter({ name: 'probe_test_total', help: 'test', registers: [registry] }).inc(3);
  let ready = false;
  const probes = await startProbeServer({ port: 0, host: '127.0.0.1', registry, isReady: () => ready });
  const base = `http://127.0.0.1:${probes.port}`;
  afterAll(() => probes.close());

  it('serves /healthz always and /readyz from the callback', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('serves the registry at /metrics in the Prometheus text format', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(registry.contentType);
    expect(await res.text()).toContain('probe_test_total 3');
  });

  it('answers 404 elsewhere and 405 to other methods', async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});
