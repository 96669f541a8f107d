// The webhook benchmark: builds, starts the HTTPS server pinned to CPU 0, and
// loads it from a separate process pinned to CPU 1, over loopback only:
//   1. max admissions/s: closed loop, kept-alive connections;
//   2. latency at a fixed 1,000 requests/s (open loop): p50/p99.
// A bare node:https server is measured the same way as the ceiling the machine allows.
// Usage: node bench/webhook/run.ts [--max-seconds=15] [--rate-seconds=20] [--connections=32] [--rate=1000] [--baseline=false] [--cpu-prof=DIR]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlagsOrExit } from '../../src/lib/flags.ts';
import { generateCertificateAuthority, generateServingCertificate } from '../../src/lib/certs.ts';

const flags = parseFlagsOrExit(
  {
    'max-seconds': {
      type: 'integer',
      default: 15,
      min: 1,
      max: 120,
      description: 'Measured seconds of the max-throughput run.',
    },
    'rate-seconds': {
      type: 'integer',
      default: 20,
      min: 1,
      max: 120,
      description: 'Measured seconds of the fixed-rate run.',
    },
    connections: {
      type: 'integer',
      default: 32,
      min: 1,
      description: 'Connections of the max-throughput run.',
    },
    rate: {
      type: 'integer',
      default: 1000,
      min: 1,
      description: 'Requests per second of the fixed-rate run.',
    },
    'cpu-prof': { type: 'string', description: 'Write a V8 CPU profile of the server into this directory.' },
    baseline: {
      type: 'boolean',
      default: true,
      description: 'Also measure a bare node:https server (the environment ceiling).',
    },
  } as const,
  process.argv.slice(2),
  'bench/webhook/run.ts',
);

const ROOT = join(import.meta.dirname, '../..');
const node = process.execPath;
// Each side on its own CPU; as root, also ahead of whatever else the machine runs
// (a shared CI or dev box), so the numbers measure the webhook, not the neighbours.
const boost = process.getuid?.() === 0 ? ['nice', '-n', '-10'] : [];
const taskset = (cpu: number, argv: string[]) =>
  cpus().length > 1 ? ['taskset', '-c', String(cpu), ...boost, ...argv] : [...boost, ...argv];

execFileSync(node, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  cwd: ROOT,
  stdio: 'inherit',
});

const dir = mkdtempSync(join(tmpdir(), 'everynode-bench-'));
const ca = await generateCertificateAuthority();
const serving = await generateServingCertificate(ca, { hosts: ['localhost', '127.0.0.1'] });
writeFileSync(join(dir, 'ca.crt'), ca.certPem);
writeFileSync(join(dir, 'tls.crt'), serving.certPem);
writeFileSync(join(dir, 'tls.key'), serving.keyPem);

interface Server {
  port: number;
  /** CPU seconds used so far (utime + stime from /proc, USER_HZ = 100). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

async function startServer(argv: string[]): Promise<Server> {
  const full = taskset(0, argv);
  const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /"port":(\d+),"host":"127\.0\.0\.1","tlsMinVersion"/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return {
    port,
    cpuSeconds: () => {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

function load(server: Server, mode: 'max' | 'rate', seconds: number, knob: number): Record<string, unknown> {
  const argv = taskset(1, [
    node,
    join(ROOT, 'bench/webhook/load.ts'),
    mode,
    String(server.port),
    join(dir, 'ca.crt'),
    String(seconds),
    String(knob),
  ]);
  const cpuBefore = server.cpuSeconds();
  const wallBefore = performance.now();
  const out = execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: (seconds + 60) * 1000 });
  const serverCpuPercent = Math.round(
    ((server.cpuSeconds() - cpuBefore) / ((performance.now() - wallBefore) / 1000)) * 100,
  );
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>;
  // Server CPU per admission, from the measured window's average use (warm-up included in both terms).
  const serverCpuMicrosPerRequest = Math.round(((serverCpuPercent / 100) * 1e6) / result.perSecond!);
  return { ...result, serverCpuPercent, serverCpuMicrosPerRequest };
}

const webhookArgv = [
  node,
  ...(flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${flags['cpu-prof']}`] : []),
  join(ROOT, 'dist/webhook/main.js'),
  '--port=0',
  '--metrics-port=0',
  '--bind-address=127.0.0.1',
  `--tls-cert-file=${join(dir, 'tls.crt')}`,
  `--tls-private-key-file=${join(dir, 'tls.key')}`,
];
const baselineArgv = [
  node,
  join(ROOT, 'bench/webhook/baseline.ts'),
  join(dir, 'tls.crt'),
  join(dir, 'tls.key'),
];

const cpuPressure = () => {
  try {
    return readFileSync('/proc/pressure/cpu', 'utf8').split('\n')[0]!.split(' ')[1]!; // avg10 of "some"
  } catch {
    return 'n/a';
  }
};
const machine = {
  nproc: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  loadavgBefore: loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
  cpuPressureBefore: cpuPressure(),
  priority: boost.length ? 'nice -10' : 'default',
};
try {
  const webhook = await startServer(webhookArgv);
  let max: Record<string, unknown>;
  let rate: Record<string, unknown>;
  try {
    max = load(webhook, 'max', flags['max-seconds'], flags.connections);
    rate = load(webhook, 'rate', flags['rate-seconds'], flags.rate);
  } finally {
    await webhook.stop();
  }
  let baseline: Record<string, unknown> | undefined;
  if (flags.baseline) {
    const bare = await startServer(baselineArgv);
    try {
      baseline = load(bare, 'max', flags['max-seconds'], flags.connections);
    } finally {
      await bare.stop();
    }
  }
  process.stdout.write(JSON.stringify({ machine, max, rate, baseline }, null, 2) + '\n');
  const row = (name: string, r: Record<string, unknown>) =>
    `| ${name} | ${String(r.perSecond)} | ${String(r.p50Millis)} ms | ${String(r.p99Millis)} ms | ${String(r.serverCpuPercent)}% | ${String(r.serverCpuMicrosPerRequest)} µs | ${String(r.failures)} |\n`;
  process.stdout.write(
    `\n| run | req/s | p50 | p99 | server CPU | server CPU per request | failures |\n| --- | --- | --- | --- | --- | --- | --- |\n` +
      row(`webhook, max (${flags.connections} connections)`, max) +
      row(`webhook, fixed ${flags.rate}/s`, rate) +
      (baseline ? row(`bare node:https baseline, max`, baseline) : ''),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (flags['cpu-prof']) process.stdout.write(`server CPU profile written to ${flags['cpu-prof']}\n`);
}
