// What the controller benchmark measures, as small pieces the runner composes:
// resident memory from /proc, the "done" predicates over DaemonSet status and
// pods (wire JSON), the machine description, and the results table.
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';
import type { V1DaemonSet, V1Pod } from '@kubernetes/client-node';

export interface ProcessMemory {
  /** VmRSS: resident now. */
  rssKiB: number;
  /** VmHWM: the kernel's peak resident size of the process's whole life. */
  hwmKiB: number;
}

/** VmRSS and VmHWM of a live process, or undefined once it is gone. */
export function readProcessMemory(pid: number): ProcessMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
    return match ? Number(match[1]) : NaN;
  };
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

export const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU seconds the process has used, or undefined once it is gone. */
export function readCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Samples one process's memory (and CPU time at marks) every `intervalMs` between start() and stop(),
 * and records named marks (RSS at a moment of the run). The kernel's VmHWM
 * catches peaks between samples.
 */
export class ProcessSampler {
  readonly pid: number;
  readonly process: string;
  private timer: NodeJS.Timeout | undefined;
  private maxRssKiB = 0;
  private last: ProcessMemory | undefined;
  readonly marks: Record<string, number> = {};
  /** CPU seconds used at each mark. */
  readonly cpuMarks: Record<string, number> = {};

  constructor(pid: number, process: string) {
    this.pid = pid;
    this.process = process;
  }

  sample(): ProcessMemory | undefined {
    const memory = readProcessMemory(this.pid);
    if (memory) {
      this.last = memory;
      this.maxRssKiB = Math.max(this.maxRssKiB, memory.rssKiB);
    }
    return memory;
  }

  start(intervalMs = 500): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  mark(name: string): void {
    const memory = this.sample();
    if (memory) this.marks[name] = memory.rssKiB;
    const cpu = readCpuSeconds(this.pid);
    if (cpu !== undefined) this.cpuMarks[name] = cpu;
  }

  stop(): ProcessUsage {
    clearInterval(this.timer);
    this.sample();
    return {
      process: this.process,
      pid: this.pid,
      marksMiB: Object.fromEntries(Object.entries(this.marks).map(([k, v]) => [k, mib(v)])),
      cpuSecondsAt: { ...this.cpuMarks },
      maxSampledRssMiB: mib(this.maxRssKiB),
      hwmMiB: this.last ? mib(this.last.hwmKiB) : NaN,
    };
  }
}

export interface ProcessUsage {
  process: string;
  pid: number;
  /** RSS at named moments: idle (before the DaemonSet), created, rolled. */
  marksMiB: Record<string, number>;
  /** CPU seconds (user + system) used by the process at the same moments. */
  cpuSecondsAt: Record<string, number>;
  maxSampledRssMiB: number;
  /** VmHWM at the end: the peak over the process's life. */
  hwmMiB: number;
}

const isReady = (pod: V1Pod) =>
  pod.status?.phase === 'Running' &&
  (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** The DaemonSet's status describes its current generation. */
export const statusIsCurrent = (ds: V1DaemonSet, generation = ds.metadata?.generation ?? 0) =>
  (ds.status?.observedGeneration ?? 0) >= generation;

export function statusSummary(ds: V1DaemonSet): string {
  const s = ds.status;
  if (!s) return 'no status';
  return (
    `gen ${ds.metadata?.generation}/${s.observedGeneration ?? '-'} desired ${s.desiredNumberScheduled} ` +
    `current ${s.currentNumberScheduled} ready ${s.numberReady} updated ${s.updatedNumberScheduled ?? 0} ` +
    `available ${s.numberAvailable ?? 0} unavailable ${s.numberUnavailable ?? 0}`
  );
}

/** Phase 1 by status: numberReady == desiredNumberScheduled == the node count. */
export const createdByStatus = (ds: V1DaemonSet, nodes: number) =>
  statusIsCurrent(ds) && ds.status?.desiredNumberScheduled === nodes && ds.status.numberReady === nodes;

/** Phase 2 by status: updatedNumberScheduled == numberAvailable == desired, for the patched generation. */
export const rolledByStatus = (ds: V1DaemonSet, nodes: number, generation: number) =>
  statusIsCurrent(ds, generation) &&
  ds.status?.desiredNumberScheduled === nodes &&
  ds.status.updatedNumberScheduled === nodes &&
  ds.status.numberAvailable === nodes;

/**
 * The pods agree: exactly one live pod per node, every one Running and Ready,
 * and (when `image` is given) every one running that image. Returns what is
 * wrong, or undefined.
 */
export function podsProblem(pods: readonly V1Pod[], nodes: number, image?: string): string | undefined {
  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  const onNodes = new Set(live.map((p) => p.spec?.nodeName).filter(Boolean));
  const notReady = live.filter((p) => !isReady(p)).length;
  const stale = image ? live.filter((p) => p.spec?.containers[0]?.image !== image).length : 0;
  const deleting = pods.length - live.length;
  if (live.length === nodes && onNodes.size === nodes && notReady === 0 && stale === 0) return undefined;
  return `${live.length} live pods on ${onNodes.size} nodes, ${notReady} not Running/Ready, ${stale} with another image, ${deleting} being deleted`;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
}

export function describeMachine(): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  let kernel = 'unknown';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // not Linux; the benchmark needs /proc anyway
  }
  return {
    cpus: availableParallelism(),
    cpuModel: model,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel,
  };
}

export const loadAverage = (): [number, number, number] =>
  loadavg().map((l) => Math.round(l * 100) / 100) as [number, number, number];

export interface PhaseResult {
  /** Seconds from the request to done; undefined when it timed out. */
  seconds?: number;
  /** The last status seen when it timed out (or what the pods showed). */
  lastSeen?: string;
  /** Largest status.numberUnavailable seen while the phase ran. */
  maxUnavailable?: number;
}

/** The DaemonSet work queue, from Prometheus text: everynode and KCM both export client-go's workqueue metrics with name="daemonset". */
export interface QueueSummary {
  adds: number;
  /** Syncs (work items processed) and the seconds they took in total. */
  syncs: number;
  syncSeconds: number;
  /** Mean time a key waited in the queue before a worker took it. */
  meanQueueWaitMs: number;
  retries: number;
}

export function daemonSetQueueSummary(metricsText: string): QueueSummary | undefined {
  const value = (metric: string) => {
    const line = metricsText
      .split('\n')
      .find((l) => l.startsWith(`${metric}{`) && l.includes('name="daemonset"'));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : undefined;
  };
  const syncs = value('workqueue_work_duration_seconds_count');
  if (syncs === undefined) return undefined;
  const waited = value('workqueue_queue_duration_seconds_sum') ?? 0;
  const taken = value('workqueue_queue_duration_seconds_count') ?? 0;
  return {
    adds: value('workqueue_adds_total') ?? 0,
    syncs,
    syncSeconds: Math.round((value('workqueue_work_duration_seconds_sum') ?? 0) * 100) / 100,
    meanQueueWaitMs: taken > 0 ? Math.round((waited / taken) * 1000 * 10) / 10 : 0,
    retries: value('workqueue_retries_total') ?? 0,
  };
}

export interface RunResult {
  implementation: 'everynode' | 'kube-controller-manager';
  nodes: number;
  /** Seconds to create the nodes and see them all schedulable. */
  nodesReadySeconds: number;
  create: PhaseResult;
  rollout: PhaseResult;
  controllerProcess: ProcessUsage;
  /** everynode only: V8 heap in use at the same marks (the rest of the RSS is code, buffers and heap slack). */
  controllerHeapUsedMiB?: Record<string, number>;
  /** everynode only: the webhook process, for completeness (not part of the comparison). */
  webhookProcess?: ProcessUsage;
  /** The DaemonSet work queue at the end of the run (both phases). */
  queue?: QueueSummary;
  /** Event objects on the DaemonSet at the end, and the sum of their counts (repeats aggregated into one object). */
  daemonSetEvents?: { objects: number; count: number };
  loadBefore: [number, number, number];
  loadAfter: [number, number, number];
  startedAt: string;
}

const cpuBetween = (m: ProcessUsage, from: string, to: string) => {
  const a = m.cpuSecondsAt[from];
  const b = m.cpuSecondsAt[to];
  return a !== undefined && b !== undefined ? (b - a).toFixed(1) : '-';
};

const secondsCell = (p: PhaseResult) =>
  p.seconds !== undefined ? p.seconds.toFixed(1) : `not done (${p.lastSeen ?? 'skipped'})`;

/** The results as a Markdown table (the one docs/benchmarks.md carries). */
export function resultsTable(results: readonly RunResult[]): string {
  const header = [
    'nodes',
    'controller',
    'apply → all Ready (s)',
    'rolling update (s)',
    'max unavailable seen',
    'RSS idle / after create / after update (MiB)',
    'peak RSS, VmHWM (MiB)',
    'CPU s: create / update',
    'load avg (1 min) before → after',
  ];
  const rows = results.map((r) => {
    const m = r.controllerProcess.marksMiB;
    const name = r.implementation === 'everynode' ? 'everynode' : 'kube-controller-manager (whole process)';
    return [
      String(r.nodes),
      name,
      secondsCell(r.create),
      secondsCell(r.rollout),
      r.rollout.maxUnavailable !== undefined ? String(r.rollout.maxUnavailable) : '-',
      `${m.idle ?? '-'} / ${m.created ?? '-'} / ${m.rolled ?? '-'}`,
      String(r.controllerProcess.hwmMiB),
      `${cpuBetween(r.controllerProcess, 'idle', 'created')} / ${cpuBetween(r.controllerProcess, 'created', 'rolled')}`,
      `${r.loadBefore[0]} → ${r.loadAfter[0]}`,
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per node count and controller: the medians of repeated runs (phases that timed out are counted apart). */
export function mediansTable(results: readonly RunResult[]): string {
  const groups = new Map<string, RunResult[]>();
  for (const r of results) {
    const key = `${r.nodes} ${r.implementation}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const header = [
    'nodes',
    'controller',
    'runs',
    'apply → all Ready (s)',
    'rolling update (s)',
    'peak RSS, VmHWM (MiB)',
    'timed out',
  ];
  const cell = (n: number | undefined) => (n === undefined ? '-' : String(Math.round(n * 10) / 10));
  const rows = [...groups.values()].map((runs) => {
    const first = runs[0]!;
    const times = (phase: 'create' | 'rollout') =>
      runs.map((r) => r[phase].seconds).filter((s): s is number => s !== undefined);
    const timedOut = runs.filter((r) => r.create.seconds === undefined || r.rollout.seconds === undefined);
    return [
      String(first.nodes),
      first.implementation,
      String(runs.length),
      cell(median(times('create'))),
      cell(median(times('rollout'))),
      cell(median(runs.map((r) => r.controllerProcess.hwmMiB))),
      String(timedOut.length),
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
