// Load generator for the webhook benchmark, run as its own process (on its own
// core) so it never competes with the server. undici Pool: kept-alive TLS
// connections, no pipelining (one request at a time per connection, as the API
// server's client does).
//
//   node bench/webhook/load.ts max  <port> <ca-file> <seconds> <connections>
//   node bench/webhook/load.ts rate <port> <ca-file> <seconds> <requests-per-second>
//
// Prints one JSON line with the results.
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { benchmarkReview } from './review.ts';

const [mode, portArg, caFile, secondsArg, knob] = process.argv.slice(2);
if ((mode !== 'max' && mode !== 'rate') || !portArg || !caFile || !secondsArg || !knob) {
  process.stderr.write('usage: load.ts max|rate <port> <ca-file> <seconds> <connections|rate>\n');
  process.exit(2);
}
const seconds = Number(secondsArg);
const WARMUP_MILLIS = 3_000;

// A few distinct uids, pre-serialised: the client's own cost stays tiny.
const bodies = Array.from({ length: 64 }, (_, i) =>
  JSON.stringify(benchmarkReview(`b1d3c9e0-0000-4000-8000-${String(i).padStart(12, '0')}`)),
);
const pool = new Pool(`https://127.0.0.1:${portArg}`, {
  connections: mode === 'max' ? Number(knob) : 32,
  pipelining: 1,
  connect: { ca: readFileSync(caFile, 'utf8'), servername: 'localhost' },
});

let sent = 0;
let failures = 0;
let measuring = false;
let completed = 0;
const latencies: number[] = [];

async function once(): Promise<void> {
  const body = bodies[sent++ % bodies.length]!;
  const start = process.hrtime.bigint();
  try {
    const res = await pool.request({
      path: '/mutate',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200 || !text.includes('"allowed":true')) failures++;
  } catch {
    failures++;
  }
  if (measuring) {
    completed++;
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function closedLoop(connections: number, until: () => boolean): Promise<void> {
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (!until()) await once();
    }),
  );
}

async function openLoop(rate: number, until: () => boolean): Promise<{ lateSends: number }> {
  // Requests are due at fixed times whatever the responses do (no coordinated
  // omission). The loop yields with setImmediate rather than a 1 ms timer: timers
  // fire late by a millisecond or more, which would send bursts of catch-up
  // requests; spinning is fine, the load generator has its own core.
  const t0 = performance.now();
  let due = 0;
  let lateSends = 0;
  const inFlight = new Set<Promise<void>>();
  while (!until()) {
    const now = performance.now();
    while (t0 + (due * 1000) / rate <= now) {
      if (now - (t0 + (due * 1000) / rate) > 2) lateSends++;
      const p = once().finally(() => inFlight.delete(p));
      inFlight.add(p);
      due++;
    }
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(inFlight);
  return { lateSends };
}

const startCpu = process.cpuUsage();
const begin = performance.now();
setTimeout(() => {
  measuring = true;
}, WARMUP_MILLIS);
const end = begin + WARMUP_MILLIS + seconds * 1000;
const until = () => performance.now() >= end;
let extra: Record<string, number> = {};
if (mode === 'max') await closedLoop(Number(knob), until);
else extra = await openLoop(Number(knob), until);
const measuredSeconds = (performance.now() - begin - WARMUP_MILLIS) / 1000;
const cpu = process.cpuUsage(startCpu);
await pool.close();

latencies.sort((a, b) => a - b);
process.stdout.write(
  JSON.stringify({
    mode,
    knob: Number(knob),
    bodyBytes: Buffer.byteLength(bodies[0]!),
    seconds: Number(measuredSeconds.toFixed(2)),
    completed,
    failures,
    perSecond: Math.round(completed / measuredSeconds),
    p50Millis: Number(percentile(latencies, 50).toFixed(3)),
    p90Millis: Number(percentile(latencies, 90).toFixed(3)),
    p99Millis: Number(percentile(latencies, 99).toFixed(3)),
    maxMillis: Number((latencies.at(-1) ?? NaN).toFixed(3)),
    clientCpuPercent: Math.round(
      ((cpu.user + cpu.system) / 1e6 / ((performance.now() - begin) / 1000)) * 100,
    ),
    ...extra,
  }) + '\n',
);
