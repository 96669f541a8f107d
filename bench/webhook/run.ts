// The webhook benchmark: builds, starts the HTTPS server pinned to CPU 0, and
// loads it from a separate process pinned to CPU 1, over loopback only:
//   1. max admissions/s: closed loop, kept-alive connections;
//   2. latency at a fixed 1,000 requests/s (open loop): p50/p99.
// Usage: node bench/webhook/run.ts [--max-seconds=15] [--rate-seconds=20] [--connections=32] [--rate=1000] [--cpu-prof=DIR]
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

const serverArgv = taskset(0, [
  node,
  ...(flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${flags['cpu-prof']}`] : []),
  join(ROOT, 'dist/webhook/main.js'),
  '--port=0',
  '--metrics-port=0',
  '--bind-address=127.0.0.1',
  `--tls-cert-file=${join(dir, 'tls.crt')}`,
  `--tls-private-key-file=${join(dir, 'tls.key')}`,
]);
const server = spawn(serverArgv[0]!, serverArgv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
let serverLog = '';
server.stdout.on('data', (d: Buffer) => (serverLog += d.toString()));
const port = await new Promise<number>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`server did not start:\n${serverLog}`)), 30_000);
  server.stdout.on('data', () => {
    const m = /"port":(\d+),"host":"127\.0\.0\.1","tlsMinVersion"/.exec(serverLog);
    if (m) {
      clearTimeout(timer);
      resolve(Number(m[1]));
    }
  });
});

/** CPU seconds the server process has used (utime + stime from /proc). */
function serverCpuSeconds(): number {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
}

function load(mode: 'max' | 'rate', seconds: number, knob: number): Record<string, unknown> {
  const argv = taskset(1, [
    node,
    join(ROOT, 'bench/webhook/load.ts'),
    mode,
    String(port),
    join(dir, 'ca.crt'),
    String(seconds),
    String(knob),
  ]);
  const cpuBefore = serverCpuSeconds();
  const wallBefore = performance.now();
  const out = execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: (seconds + 60) * 1000 });
  const serverCpuPercent = Math.round(
    ((serverCpuSeconds() - cpuBefore) / ((performance.now() - wallBefore) / 1000)) * 100,
  );
  return { ...(JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>), serverCpuPercent };
}

try {
  const machine = {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadavgBefore: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
  const max = load('max', flags['max-seconds'], flags.connections);
  const rate = load('rate', flags['rate-seconds'], flags.rate);
  const result = { machine, max, rate };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(
    `\n| run | admissions/s | p50 | p99 | failures |\n| --- | --- | --- | --- | --- |\n` +
      `| max, ${flags.connections} connections | **${String(max.perSecond)}** | ${String(max.p50Millis)} ms | ${String(max.p99Millis)} ms | ${String(max.failures)} |\n` +
      `| fixed ${flags.rate}/s | ${String(rate.perSecond)} | **${String(rate.p50Millis)} ms** | **${String(rate.p99Millis)} ms** | ${String(rate.failures)} |\n`,
  );
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  if (flags['cpu-prof']) process.stdout.write(`server CPU profile written to ${flags['cpu-prof']}\n`);
}
