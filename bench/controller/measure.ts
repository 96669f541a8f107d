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

/** The whole machine's CPU time from /proc/stat (all CPUs summed), seconds. */
export interface MachineCpu {
  /** user, nice, system, irq, softirq and steal: time the CPUs were not idle (steal: taken by the host). */
  busySeconds: number;
  /** busy plus idle and iowait. */
  totalSeconds: number;
}

/** /proc/stat's aggregate `cpu` line; undefined when the text has none. Guest time is already in user. */
export function parseMachineCpu(procStat: string): MachineCpu | undefined {
  const match = /^cpu\s+(.*)$/m.exec(procStat);
  if (!match) return undefined;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = match[1]!.trim().split(/\s+/).map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce((sum: number, v) => sum + (v ?? 0), 0);
  const total = busy + (idle ?? 0) + (iowait ?? 0);
  if (!Number.isFinite(busy) || !Number.isFinite(total)) return undefined;
  return { busySeconds: busy / CLOCK_TICKS_PER_SECOND, totalSeconds: total / CLOCK_TICKS_PER_SECOND };
}

/** One moment's CPU counters: the machine's and each watched process's (undefined once it is gone). */
export interface CpuSnapshot {
  atMs: number;
  machine: MachineCpu | undefined;
  processes: Record<string, number | undefined>;
}

/** Reads the CPU counters of the machine and of the named processes now. */
export function snapshotCpu(processes: ReadonlyArray<{ name: string; pid: number }>): CpuSnapshot {
  let machine: MachineCpu | undefined;
  try {
    machine = parseMachineCpu(readFileSync('/proc/stat', 'utf8'));
  } catch {
    machine = undefined;
  }
  return {
    atMs: performance.now(),
    machine,
    processes: Object.fromEntries(processes.map((p) => [p.name, readCpuSeconds(p.pid)])),
  };
}

/**
 * Where the CPU went while a phase ran: what bounds a phase that is neither token-bound nor
 * waiting on the scheduler is the machine's CPU (every component shares it here).
 */
export interface PhaseCpu {
  /** Wall seconds between the two snapshots. */
  seconds: number;
  /** Share of all the machine's CPU time that was busy, percent (100 = every CPU all the time). */
  machineBusyPercent?: number;
  /** Per watched process: CPU used, in percent of one CPU (200 = two CPUs all the time). */
  processPercentOfOneCpu: Record<string, number>;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

export function phaseCpu(before: CpuSnapshot, after: CpuSnapshot): PhaseCpu {
  const seconds = (after.atMs - before.atMs) / 1000;
  const out: PhaseCpu = { seconds: round1(seconds), processPercentOfOneCpu: {} };
  if (seconds <= 0) return out;
  const a = before.machine;
  const b = after.machine;
  if (a && b && b.totalSeconds > a.totalSeconds)
    out.machineBusyPercent = round1(
      ((b.busySeconds - a.busySeconds) / (b.totalSeconds - a.totalSeconds)) * 100,
    );
  for (const [name, end] of Object.entries(after.processes)) {
    const start = before.processes[name];
    if (start !== undefined && end !== undefined)
      out.processPercentOfOneCpu[name] = round1(((end - start) / seconds) * 100);
  }
  return out;
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

/** kwok reports a container's image exactly as the spec names it. */
const sameImage = (a: string | undefined, b: string) => a === b;

/**
 * The pods agree: exactly one live pod per node, every one Running and Ready,
 * and (when `image` is given) every one with that image in its spec and in its
 * container's status (`status.containerStatuses[].image`: after an in-place
 * update the spec changes before the container does). Returns what is wrong,
 * or undefined.
 */
export function podsProblem(pods: readonly V1Pod[], nodes: number, image?: string): string | undefined {
  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  const onNodes = new Set(live.map((p) => p.spec?.nodeName).filter(Boolean));
  const notReady = live.filter((p) => !isReady(p)).length;
  const stale = image ? live.filter((p) => p.spec?.containers[0]?.image !== image).length : 0;
  const notRunningIt = image
    ? live.filter((p) => {
        const name = p.spec?.containers[0]?.name;
        const status = (p.status?.containerStatuses ?? []).find((c) => c.name === name);
        return !sameImage(status?.image, image);
      }).length
    : 0;
  const deleting = pods.length - live.length;
  if (live.length === nodes && onNodes.size === nodes && notReady === 0 && stale === 0 && notRunningIt === 0)
    return undefined;
  return (
    `${live.length} live pods on ${onNodes.size} nodes, ${notReady} not Running/Ready, ${stale} with another image` +
    (image ? `, ${notRunningIt} whose container status reports another image` : '') +
    `, ${deleting} being deleted`
  );
}

/** node name → the UID of the live pod on it (the first, if a node has several). */
export function podUidsByNode(pods: readonly V1Pod[]): Map<string, string> {
  const byNode = new Map<string, string>();
  for (const p of pods) {
    const node = p.spec?.nodeName;
    if (!node || p.metadata?.deletionTimestamp || byNode.has(node)) continue;
    byNode.set(node, p.metadata?.uid ?? '');
  }
  return byNode;
}

/** Nodes whose live pod after a phase is the same pod (UID) as before it: an in-place update keeps them all. */
export function podsKept(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): number {
  let kept = 0;
  for (const [node, uid] of after) if (uid !== '' && before.get(node) === uid) kept++;
  return kept;
}

const restartsOf = (p: V1Pod) =>
  (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);

/**
 * Container restarts during a phase, summed over the live pods after it: a pod that was there
 * before counts the rise of its restartCount (a kubelet restarting a container for an in-place
 * update counts one), a new pod its whole restartCount.
 */
export function containerRestarts(before: readonly V1Pod[], after: readonly V1Pod[]): number {
  const earlier = new Map(before.map((p) => [p.metadata?.uid ?? '', restartsOf(p)]));
  return after
    .filter((p) => !p.metadata?.deletionTimestamp)
    .reduce((n, p) => n + restartsOf(p) - (earlier.get(p.metadata?.uid ?? '') ?? 0), 0);
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
  /** The API writes the controller made in the phase's window, from kube-apiserver's audit log. */
  writes?: WriteSummary;
  /** Event objects on the DaemonSet when the phase's window closed (cumulative), and the sum of their counts. */
  daemonSetEvents?: { objects: number; count: number };
  /** The benchmark's own pod lists while the phase ran (only once the status said done): how much the poller cost. */
  podLists?: { count: number; meanMs: number; maxMs: number };
  /** The machine's and each component's CPU from the phase's request until it was done. */
  cpu?: PhaseCpu;
}

/** `rollout.everynode.dev/update-mode`; KCM ignores the annotation (it always deletes and creates). */
export type UpdateMode = 'Recreate' | 'InPlaceIfPossible';
export const UPDATE_MODES: readonly UpdateMode[] = ['Recreate', 'InPlaceIfPossible'];

/** One rolling-update phase: a new image under one update mode. */
export interface UpdatePhaseResult extends PhaseResult {
  mode: UpdateMode;
  fromImage: string;
  image: string;
  /** The ProcessSampler mark taken when it was done: `rolled` for the first update, `rolled-<n>` after. */
  mark: string;
  /** Nodes whose pod after the phase is the one (UID) it ran before: N of N for an in-place update, 0 for Recreate. */
  podsKept?: number;
  /** Container restarts summed over the pods when done (an in-place update restarts each container once). */
  containerRestarts?: number;
}

// ---------------------------------------------------------------------------
// Writes, from kube-apiserver's audit log (Metadata level, ResponseComplete only).

export const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection'] as const;

/** The user the harness's admin kubeconfig authenticates as (test/harness/cluster.ts): the benchmark itself. */
export const BENCH_USER = 'everynode-admin';
/** The client certificate's CN the benchmark gives everynode's controller (group system:masters, as the admin). */
export const EVERYNODE_CONTROLLER_USER = 'everynode-controller';
/** KCM runs with --use-service-account-credentials: each controller has its own service account. */
export const KCM_DAEMONSET_USER = 'system:serviceaccount:kube-system:daemon-set-controller';

/** The fields of an audit.k8s.io/v1 Event the tally reads. */
export interface AuditEvent {
  stage?: string;
  verb?: string;
  user?: { username?: string };
  userAgent?: string;
  objectRef?: {
    resource?: string;
    subresource?: string;
    apiGroup?: string;
    namespace?: string;
    name?: string;
    /** The resourceVersion the request carried (an update's precondition). */
    resourceVersion?: string;
  };
  responseStatus?: { code?: number };
  stageTimestamp?: string;
}

/**
 * The audit policy of both benchmark clusters (the same for both controllers): every write at
 * Metadata level (who, what, when, the response code; no bodies), plus the single-object GETs
 * of the two controllers' own identities, only at ResponseComplete. Not logged: node Lease
 * renewals (one write per node per renew interval, neither controller's) and the benchmark's
 * own requests.
 */
export function auditPolicy(): Record<string, unknown> {
  return {
    omitStages: ['RequestReceived', 'ResponseStarted', 'Panic'],
    rules: [
      { level: 'None', users: [BENCH_USER] },
      { level: 'None', resources: [{ group: 'coordination.k8s.io', resources: ['leases'] }] },
      {
        level: 'Metadata',
        users: [EVERYNODE_CONTROLLER_USER, KCM_DAEMONSET_USER],
        verbs: ['get', ...WRITE_VERBS],
      },
      { level: 'Metadata', verbs: [...WRITE_VERBS] },
      { level: 'None' },
    ],
  };
}

/** The controller under test's requests: by user (the identity each is given), or by user agent. */
export function isControllerRequest(implementation: RunResult['implementation'], e: AuditEvent): boolean {
  const user = e.user?.username ?? '';
  const agent = e.userAgent ?? '';
  return implementation === 'everynode'
    ? user === EVERYNODE_CONTROLLER_USER || agent.startsWith('everynode-controller/')
    : user === KCM_DAEMONSET_USER || agent.includes('daemon-set-controller');
}

/** "create pods", "update daemonsets/status", "patch events", "create events.k8s.io/events". */
export function writeKey(e: AuditEvent): string {
  const ref = e.objectRef ?? {};
  const group =
    ref.apiGroup && ref.apiGroup !== 'apps' && ref.resource === 'events' ? `${ref.apiGroup}/` : '';
  return `${e.verb ?? '?'} ${group}${ref.resource ?? '?'}${ref.subresource ? `/${ref.subresource}` : ''}`;
}

export interface WriteSummary {
  /** The controller's write requests in the window (create/update/patch/delete), whatever their outcome. */
  total: number;
  /** total / the node count (one pod per node). */
  perPod: number;
  /** Event writes (create/update/patch of events): part of `total`, on the same client token bucket. */
  events: number;
  /** (total − events) / the node count. */
  perPodWithoutEvents: number;
  /** "verb resource[/subresource]" → requests, e.g. "delete pods", "update daemonsets/status". */
  byVerbResource: Record<string, number>;
  /** Writes answered with an error, "code verb resource" → requests (e.g. 409 Conflict on a stale status). */
  failed: Record<string, number>;
  /** Of `total`, the writes after the phase was done (while the benchmark waited for the controller to go quiet). */
  afterDone: number;
  /**
   * Successful updates that changed nothing: the controller's next update of the same object
   * carried the same resourceVersion, so the API server did not bump it (a no-op write). A lower
   * bound: a no-op that is the object's last update in the run is not seen.
   */
  unchanged: number;
  /** The controller's single-object GETs (uncached reads), "resource[/subresource]" → requests. */
  gets: Record<string, number>;
  /** Everyone else's writes in the same window, by user (kwok marking pods Ready, the scheduler binding, ...). */
  others: Record<string, number>;
}

interface Tallied {
  ms: number;
  controller: boolean;
  user: string;
  verb: string;
  key: string;
  code: number;
  unchanged?: boolean;
}

/** Audit events of one cluster, kept compact, summarised per time window afterwards. */
export class WriteTally {
  private readonly entries: Tallied[] = [];
  /** Audit lines read, and lines that did not parse. */
  lines = 0;
  unparsable = 0;
  /** The newest stageTimestamp of a controller write (ms), for "has the controller gone quiet". */
  lastControllerWriteMs = 0;
  /** The controller's last successful update per object (and subresource), and the resourceVersion it carried. */
  private readonly lastUpdate = new Map<string, { entry: Tallied; resourceVersion: string }>();

  private readonly isController: (e: AuditEvent) => boolean;

  constructor(isController: (e: AuditEvent) => boolean) {
    this.isController = isController;
  }

  addLine(line: string): void {
    if (line.trim() === '') return;
    this.lines++;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      this.unparsable++;
      return;
    }
    this.add(e);
  }

  add(e: AuditEvent): void {
    if (e.stage !== undefined && e.stage !== 'ResponseComplete') return;
    const ms = Date.parse(e.stageTimestamp ?? '');
    if (!Number.isFinite(ms)) return;
    const controller = this.isController(e);
    const verb = e.verb ?? '?';
    if (!controller && verb === 'get') return;
    if (controller && verb !== 'get') this.lastControllerWriteMs = Math.max(this.lastControllerWriteMs, ms);
    const entry: Tallied = {
      ms,
      controller,
      user: e.user?.username ?? '?',
      verb,
      key: writeKey(e),
      code: e.responseStatus?.code ?? 0,
    };
    this.entries.push(entry);
    const ref = e.objectRef;
    if (controller && verb === 'update' && entry.code < 400 && ref?.resourceVersion) {
      const object = `${entry.key} ${ref.namespace ?? ''}/${ref.name ?? ''}`;
      const previous = this.lastUpdate.get(object);
      if (previous?.resourceVersion === ref.resourceVersion) previous.entry.unchanged = true;
      this.lastUpdate.set(object, { entry, resourceVersion: ref.resourceVersion });
    }
  }

  /** The window [fromMs, toMs); `doneMs` splits off the writes after the phase was done. */
  summarize(fromMs: number, toMs: number, nodes: number, doneMs = toMs): WriteSummary {
    const byVerbResource: Record<string, number> = {};
    const failed: Record<string, number> = {};
    const gets: Record<string, number> = {};
    const others: Record<string, number> = {};
    let total = 0;
    let events = 0;
    let afterDone = 0;
    let unchanged = 0;
    const bump = (r: Record<string, number>, k: string) => (r[k] = (r[k] ?? 0) + 1);
    for (const t of this.entries) {
      if (t.ms < fromMs || t.ms >= toMs) continue;
      if (!t.controller) {
        bump(others, t.user);
        continue;
      }
      if (t.verb === 'get') {
        bump(gets, t.key.slice(t.key.indexOf(' ') + 1));
        continue;
      }
      total++;
      bump(byVerbResource, t.key);
      if (/ (events\.k8s\.io\/)?events$/.test(t.key)) events++;
      if (t.code >= 400) bump(failed, `${t.code} ${t.key}`);
      if (t.ms >= doneMs) afterDone++;
      if (t.unchanged) unchanged++;
    }
    const per = (n: number) => (nodes > 0 ? Math.round((n / nodes) * 100) / 100 : 0);
    const sorted = (r: Record<string, number>) =>
      Object.fromEntries(Object.entries(r).sort(([a, x], [b, y]) => y - x || a.localeCompare(b)));
    return {
      total,
      perPod: per(total),
      events,
      perPodWithoutEvents: per(total - events),
      byVerbResource: sorted(byVerbResource),
      failed: sorted(failed),
      afterDone,
      unchanged,
      gets: sorted(gets),
      others: sorted(others),
    };
  }
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

export interface UnmanagedPods {
  count: number;
  /** Creations in flight at once. */
  concurrency: number;
  /** From the first create request to the last response. */
  createSeconds: number;
  /** From the first create request to all of them Running (kwok's pod-ready stage). */
  runningSeconds: number;
  /** Counted again after the last phase: all still there and Running. */
  atEnd?: { count: number; notRunning: number };
}

export interface AuditInfo {
  /** --audit-log-mode, or off (no write counts). */
  mode: 'blocking' | 'batch' | 'off';
  /** Audit log lines read, and the API server's own count of audit events it failed to write (dropped). */
  lines: number;
  unparsable: number;
  dropped?: number;
}

export interface RunResult {
  implementation: 'everynode' | 'kube-controller-manager';
  nodes: number;
  /** Seconds to create the nodes and see them all schedulable. */
  nodesReadySeconds: number;
  create: PhaseResult;
  /** The first rolling update (with the default --update-mode, the Recreate one): the same object as updates[0]. */
  rollout: PhaseResult;
  /** Every rolling-update phase, in --update-mode order (absent in results written before the option). */
  updates?: UpdatePhaseResult[];
  /** Pods neither controller manages, created and Running before the controller under test started. */
  unmanagedPods?: UnmanagedPods;
  /** The controller's writes before the DaemonSet was created (startup and idle). */
  idleWrites?: WriteSummary;
  /** How the writes were counted. */
  audit?: AuditInfo;
  /** The settings that depend on the node count, as used. */
  settings?: { nodeLeaseSeconds: number; phaseTimeoutSeconds: number; podPollMs: number };
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

interface UpdateColumn {
  label: string;
  phase: PhaseResult & Partial<UpdatePhaseResult>;
  mark: string;
}

/** A run's update phases with their column labels (a mode given twice becomes "Recreate #2"); old results: `rollout`. */
export function updateColumns(r: RunResult): UpdateColumn[] {
  if (!r.updates) return [{ label: 'Recreate', phase: r.rollout, mark: 'rolled' }];
  const seen = new Map<string, number>();
  return r.updates.map((u) => {
    const n = (seen.get(u.mode) ?? 0) + 1;
    seen.set(u.mode, n);
    return { label: n === 1 ? u.mode : `${u.mode} #${n}`, phase: u, mark: u.mark };
  });
}

/** One value per phase of a run, labelled as the tables label them: create, then each update column. */
function phaseValues<T>(
  r: RunResult,
  pick: (p: PhaseResult) => T | undefined,
): Array<[string, T | undefined]> {
  return [
    ['create', pick(r.create)],
    ...updateColumns(r).map((c): [string, T | undefined] => [c.label, pick(c.phase)]),
  ];
}

const labelsOf = (results: readonly RunResult[]) => {
  const labels: string[] = [];
  for (const r of results)
    for (const c of updateColumns(r)) if (!labels.includes(c.label)) labels.push(c.label);
  return labels;
};

const controllerName = (r: RunResult) =>
  r.implementation === 'everynode' ? 'everynode' : 'kube-controller-manager (whole process)';

const keptCell = (p: Partial<UpdatePhaseResult>, nodes: number) =>
  p.podsKept !== undefined && p.mode === 'InPlaceIfPossible' ? `, kept ${p.podsKept}/${nodes}` : '';

const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
const table = (header: readonly string[], rows: readonly string[][]) =>
  [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');

/** The results as a Markdown table (the one docs/benchmarks.md carries); one column per update mode. */
export function resultsTable(results: readonly RunResult[]): string {
  const labels = labelsOf(results);
  const header = [
    'nodes',
    'unmanaged pods',
    'controller',
    'apply → all Ready (s)',
    ...labels.map((l) => `${l} update (s)`),
    'max unavailable seen',
    `RSS idle / after create / after ${labels.join(' / ')} (MiB)`,
    'peak RSS, VmHWM (MiB)',
    `CPU s: create / ${labels.join(' / ')}`,
    'Events on the DaemonSet (objects, count)',
    'load avg (1 min) before → after',
  ];
  const rows = results.map((r) => {
    const m = r.controllerProcess.marksMiB;
    const columns = updateColumns(r);
    const byLabel = (l: string) => columns.find((c) => c.label === l);
    const marks = ['created', ...labels.map((l) => byLabel(l)?.mark ?? '')];
    return [
      String(r.nodes),
      String(r.unmanagedPods?.count ?? 0),
      controllerName(r),
      secondsCell(r.create),
      ...labels.map((l) => {
        const c = byLabel(l);
        return c ? secondsCell(c.phase) + keptCell(c.phase, r.nodes) : '-';
      }),
      labels.map((l) => String(byLabel(l)?.phase.maxUnavailable ?? '-')).join(' / '),
      `${m.idle ?? '-'} / ${marks.map((k) => m[k] ?? '-').join(' / ')}`,
      String(r.controllerProcess.hwmMiB),
      marks.map((k, i) => cpuBetween(r.controllerProcess, i === 0 ? 'idle' : marks[i - 1]!, k)).join(' / '),
      r.daemonSetEvents ? `${r.daemonSetEvents.objects}, ${r.daemonSetEvents.count}` : '-',
      `${r.loadBefore[0]} → ${r.loadAfter[0]}`,
    ];
  });
  return table(header, rows);
}

const shortUser = (user: string) =>
  user
    .replace(/^system:serviceaccount:kube-system:/, 'sa:')
    .replace(/^system:kube-/, 'kube-')
    .replace(/^system:node:/, 'node:');

const countsCell = (r: Record<string, number>) =>
  Object.keys(r).length === 0
    ? '-'
    : Object.entries(r)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');

/** Per run and phase: the controller's API writes, from the audit log. */
export function writesTable(results: readonly RunResult[]): string {
  const header = [
    'nodes',
    'controller',
    'phase',
    'writes',
    'per pod',
    'Event writes',
    'per pod without Events',
    'after done',
    'changed nothing',
    'writes by verb and resource',
    'failed',
    'GETs',
    'other writers',
  ];
  const rows: string[][] = [];
  for (const r of results) {
    const phases: Array<[string, WriteSummary | undefined]> = [
      ['idle', r.idleWrites],
      ...phaseValues(r, (p) => p.writes),
    ];
    for (const [name, w] of phases) {
      if (!w) continue;
      rows.push([
        String(r.nodes),
        r.implementation === 'everynode' ? 'everynode' : 'KCM',
        name,
        String(w.total),
        String(w.perPod),
        String(w.events),
        String(w.perPodWithoutEvents),
        String(w.afterDone),
        String(w.unchanged ?? '-'),
        countsCell(w.byVerbResource),
        countsCell(w.failed),
        countsCell(w.gets),
        countsCell(Object.fromEntries(Object.entries(w.others).map(([u, n]) => [shortUser(u), n]))),
      ]);
    }
  }
  return table(header, rows);
}

/** The components cpuTable shows, in this order (others a run watched follow). */
export const CPU_COMPONENTS = [
  'kube-apiserver',
  'everynode controller',
  'kube-controller-manager',
  'kwok',
  'etcd',
  'kube-scheduler',
  'everynode webhook',
  'benchmark',
] as const;

/**
 * Per run and phase: how busy the machine was and each component's CPU (% of one CPU). A phase
 * with the machine near 100 % busy is bound by CPU, not by a token bucket or the scheduler.
 */
export function cpuTable(results: readonly RunResult[]): string {
  const phasesOf = (r: RunResult) => phaseValues(r, (p) => p.cpu);
  const seen = new Set<string>();
  for (const r of results)
    for (const [, cpu] of phasesOf(r))
      for (const name of Object.keys(cpu?.processPercentOfOneCpu ?? {})) seen.add(name);
  const names = [
    ...CPU_COMPONENTS.filter((n) => seen.has(n)),
    ...[...seen].filter((n) => !(CPU_COMPONENTS as readonly string[]).includes(n)).sort(),
  ];
  const header = [
    'nodes',
    'controller',
    'phase',
    'seconds',
    'machine busy (%)',
    ...names.map((n) => `${n} (%)`),
  ];
  const rows: string[][] = [];
  for (const r of results) {
    for (const [phase, cpu] of phasesOf(r)) {
      if (!cpu) continue;
      rows.push([
        String(r.nodes),
        r.implementation === 'everynode' ? 'everynode' : 'KCM',
        phase,
        String(cpu.seconds),
        cpu.machineBusyPercent !== undefined ? String(cpu.machineBusyPercent) : '-',
        ...names.map((n) => {
          const v = cpu.processPercentOfOneCpu[n];
          return v !== undefined ? String(Math.round(v)) : '-';
        }),
      ]);
    }
  }
  return table(header, rows);
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Per node count (and unmanaged pod count) and controller: the medians of repeated runs (phases
 * that timed out are counted apart), then a row with everynode's medians over KCM's.
 */
export function mediansTable(results: readonly RunResult[]): string {
  const labels = labelsOf(results);
  const groups = new Map<string, RunResult[]>();
  for (const r of results) {
    const key = `${r.nodes} ${r.unmanagedPods?.count ?? 0} ${r.implementation}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const header = [
    'nodes',
    'unmanaged pods',
    'controller',
    'runs',
    'apply → all Ready (s)',
    ...labels.map((l) => `${l} update (s)`),
    'peak RSS, VmHWM (MiB)',
    `writes per pod: create / ${labels.join(' / ')}`,
    'Event objects on the DaemonSet',
    'timed out',
  ];
  const cell = (n: number | undefined) => (n === undefined ? '-' : String(Math.round(n * 10) / 10));
  const defined = (values: Array<number | undefined>) => values.filter((v): v is number => v !== undefined);
  /** The medians of one group: create, each update label, VmHWM. */
  const figures = (runs: readonly RunResult[]) => [
    median(defined(runs.map((r) => r.create.seconds))),
    ...labels.map((l) =>
      median(defined(runs.map((r) => updateColumns(r).find((c) => c.label === l)?.phase.seconds))),
    ),
    median(runs.map((r) => r.controllerProcess.hwmMiB)),
  ];
  const rows: string[][] = [];
  const byKey = [...groups.entries()];
  for (const [, runs] of byKey) {
    const first = runs[0]!;
    const perPod = (get: (r: RunResult) => WriteSummary | undefined) =>
      cell(median(defined(runs.map((r) => get(r)?.perPod))));
    const timedOut = runs.filter(
      (r) => r.create.seconds === undefined || updateColumns(r).some((c) => c.phase.seconds === undefined),
    );
    const f = figures(runs);
    rows.push([
      String(first.nodes),
      String(first.unmanagedPods?.count ?? 0),
      first.implementation,
      String(runs.length),
      cell(f[0]),
      ...labels.map((l, i) => {
        const kept = median(
          defined(
            runs.map((r) => {
              const c = updateColumns(r).find((x) => x.label === l);
              return c?.phase.mode === 'InPlaceIfPossible' ? c.phase.podsKept : undefined;
            }),
          ),
        );
        return cell(f[i + 1]) + (kept !== undefined ? `, kept ${cell(kept)}/${first.nodes}` : '');
      }),
      cell(f[labels.length + 1]),
      [
        perPod((r) => r.create.writes),
        ...labels.map((l) => perPod((r) => updateColumns(r).find((c) => c.label === l)?.phase.writes)),
      ].join(' / '),
      cell(median(defined(runs.map((r) => r.daemonSetEvents?.objects)))),
      String(timedOut.length),
    ]);
  }
  // everynode's medians over KCM's, per node count and unmanaged pod count (KCM ignores the update
  // mode: its InPlaceIfPossible column is an ordinary rolling update, the baseline issue 12 names).
  const ratioRows: string[][] = [];
  const seenPairs = new Set<string>();
  for (const [key] of byKey) {
    const pair = key.slice(0, key.lastIndexOf(' '));
    if (seenPairs.has(pair)) continue;
    const ours = groups.get(`${pair} everynode`);
    const theirs = groups.get(`${pair} kube-controller-manager`);
    if (!ours || !theirs) continue;
    seenPairs.add(pair);
    const a = figures(ours);
    const b = figures(theirs);
    const ratio = (x: number | undefined, y: number | undefined) =>
      x === undefined || y === undefined || y === 0 ? '-' : `${(x / y).toFixed(2)}×`;
    const [nodes, unmanaged] = pair.split(' ');
    ratioRows.push([
      nodes!,
      unmanaged!,
      'everynode / KCM',
      '-',
      ratio(a[0], b[0]),
      ...labels.map((_, i) => ratio(a[i + 1], b[i + 1])),
      ratio(a[labels.length + 1], b[labels.length + 1]),
      '-',
      '-',
      '-',
    ]);
  }
  return table(header, [...rows, ...ratioRows]);
}
