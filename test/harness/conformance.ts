// Upstream's own DaemonSet conformance tests against a harness cluster: the
// ginkgo binary `make tools` builds from hack/tools/conformance (bin/e2e-apps.test),
// how to run it, how to read its JUnit report, and the one list of specs that
// cannot pass on kwok for anyone. test/e2e/conformance.test.ts (everynode) and
// hack/conformance.ts (`make conformance-kcm`, kube-controller-manager's own
// controller) both use this module, and docs/conformance.md describes it.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { binDir } from './tools.ts';

/** The ginkgo focus: the DaemonSet specs of daemon_set.go and the ControllerRevision one. */
export const CONFORMANCE_FOCUS = String.raw`\[sig-apps\] Daemon set|\[sig-apps\] ControllerRevision`;
export const CONFORMANCE_FOCUS_RE = new RegExp(CONFORMANCE_FOCUS);

const DS = '[sig-apps] Daemon set';
/**
 * The specs the focus selects at k8s.io/kubernetes v1.37.2, as `bin/e2e-apps.test
 * --list-tests` names them: ten from daemon_set.go, seven of them [Conformance],
 * and controller_revision.go's one. The e2e test checks that the report holds
 * exactly these, so a changed pin that adds or renames a spec is noticed.
 */
export const CONFORMANCE_SPECS: readonly string[] = [
  `${DS} should run and stop simple daemon [Conformance] [Serial]`,
  `${DS} should run and stop complex daemon [Conformance] [Serial]`,
  `${DS} should run and stop complex daemon with node affinity [Serial]`,
  `${DS} should retry creating failed daemon pods [Conformance] [Serial]`,
  `${DS} should not update pod when spec was updated and update strategy is OnDelete [Serial]`,
  `${DS} should update pod when spec was updated and update strategy is RollingUpdate [Conformance] [Serial]`,
  `${DS} should rollback without unnecessary restarts [Conformance] [Serial]`,
  `${DS} should surge pods onto nodes when spec was updated and update strategy is RollingUpdate [Serial]`,
  `${DS} should list and delete a collection of DaemonSets [Conformance] [Serial]`,
  `${DS} should verify changes to a daemon set status [Conformance] [Serial]`,
  '[sig-apps] ControllerRevision should manage the lifecycle of a ControllerRevision [Conformance] [Serial]',
];

/**
 * Container images nothing can pull. kwok's pod-image-pull-backoff stage
 * (test/harness/kwok.yaml, which repeats this list) keeps pods using them
 * Pending with ImagePullBackOff, as a kubelet would; upstream's rollback test
 * uses the first.
 */
export const UNPULLABLE_IMAGES = ['foo:non-existent'] as const;

/**
 * Specs that cannot pass on kwok nodes for any DaemonSet controller, by spec
 * name (as in CONFORMANCE_SPECS), with the reason. Anything not
 * listed here must pass for everynode. Empty: the one spec that needed a
 * kubelet's behaviour (the rollback test's unpullable image) is simulated by
 * the kwok stage above.
 */
export const KNOWN_UNPASSABLE_ON_KWOK: Readonly<Record<string, string>> = {};

export const CONFORMANCE_BINARY = 'e2e-apps.test';

export function conformanceBinary(dir = binDir): string {
  return join(dir, CONFORMANCE_BINARY);
}

export function requireConformanceBinary(dir = binDir): string {
  const path = conformanceBinary(dir);
  if (!existsSync(path)) {
    throw new Error(
      `missing ${CONFORMANCE_BINARY} in ${dir}: run \`make tools\` first (builds it from hack/tools/conformance)`,
    );
  }
  return path;
}

export interface ConformanceRunOptions {
  kubeconfig: string;
  /** Where the JUnit report (conformance-junit.xml) and the binary's output (conformance.log) go. */
  logDir: string;
  focus?: string;
  /** Kill the run after this long (default 45 min; ginkgo's own --ginkgo.timeout is set a little lower). */
  timeoutMs?: number;
  binDir?: string;
}

export interface ConformanceRun {
  /** Exit code of the binary (1 when a spec failed). */
  code: number | null;
  signal: NodeJS.Signals | null;
  junitPath: string;
  logPath: string;
  args: string[];
  durationMs: number;
}

/** The binary's arguments: the cluster, the focus, the JUnit report, and a provider with no cloud. */
export function conformanceArgs(options: {
  kubeconfig: string;
  junitPath: string;
  focus?: string;
  timeoutMs?: number;
}): string[] {
  const timeoutMs = options.timeoutMs ?? 45 * 60_000;
  return [
    `--kubeconfig=${options.kubeconfig}`,
    '--provider=local',
    `--ginkgo.focus=${options.focus ?? CONFORMANCE_FOCUS}`,
    `--ginkgo.junit-report=${options.junitPath}`,
    `--ginkgo.timeout=${Math.max(60, Math.floor(timeoutMs / 1000) - 60)}s`,
    // One spec per line in the log, with its outcome; the full output of failed specs.
    '--ginkgo.v',
    '--ginkgo.no-color',
  ];
}

/** Runs the binary to completion; its output goes to <logDir>/conformance.log. */
export async function runConformance(options: ConformanceRunOptions): Promise<ConformanceRun> {
  const binary = requireConformanceBinary(options.binDir);
  const junitPath = join(options.logDir, 'conformance-junit.xml');
  const logPath = join(options.logDir, 'conformance.log');
  const timeoutMs = options.timeoutMs ?? 45 * 60_000;
  const args = conformanceArgs({ ...options, junitPath, timeoutMs });
  const started = Date.now();
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(binary, args, {
      stdio: ['ignore', fd, fd],
      // kubectl (used by one spec's fault injection) from bin/ first.
      env: { ...process.env, PATH: `${options.binDir ?? binDir}:${process.env.PATH ?? ''}` },
      cwd: options.logDir,
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c, s) => resolve([c, s]));
    }).finally(() => clearTimeout(timer));
    return { code, signal, junitPath, logPath, args, durationMs: Date.now() - started };
  } finally {
    closeSync(fd);
  }
}

// ---- the JUnit report ------------------------------------------------------------

export type SpecStatus = 'passed' | 'failed' | 'skipped';

export interface SpecResult {
  /** The spec's name, e.g. "[sig-apps] Daemon set should run and stop simple daemon [Conformance] [Serial]". */
  name: string;
  status: SpecStatus;
  /** Ginkgo's status attribute as written (passed, failed, panicked, timedout, skipped, …). */
  ginkgoStatus: string;
  /** Failure message and the output ginkgo recorded, for a failed spec. */
  failure?: string;
  timeSeconds: number;
}

const unescapeXml = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-fA-F]+);/g, (_, n: string) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&amp;/g, '&');

function attributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([\w:.-]+)="([^"]*)"/g)) out[m[1]!] = unescapeXml(m[2]!);
  return out;
}

/**
 * A JUnit testcase name as --list-tests prints the spec: ginkgo writes
 * "[It] <text> [<label>, <label>, …]"; the node type and the label list go
 * (the k8s framework's tags such as [Conformance] [Serial] are in the text).
 */
export const specName = (junitName: string): string =>
  junitName.replace(/^\[It\]\s+/, '').replace(/\s\[[^\][]*,[^\][]*\]$/, '');

/**
 * Every <testcase> of ginkgo's JUnit report: the specs (name without the
 * "[It] " prefix) and suite nodes such as "[SynchronizedBeforeSuite]".
 */
export function parseJUnit(xml: string): SpecResult[] {
  const results: SpecResult[] = [];
  for (const m of xml.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const attrs = attributes(m[1]!);
    const body = m[2] ?? '';
    const ginkgoStatus =
      attrs.status ??
      (/<(failure|error)\b/.test(body) ? 'failed' : /<skipped\b/.test(body) ? 'skipped' : 'passed');
    const status: SpecStatus =
      ginkgoStatus === 'passed'
        ? 'passed'
        : ginkgoStatus === 'skipped' || ginkgoStatus === 'pending'
          ? 'skipped'
          : 'failed';
    const failureElement = /<(?:failure|error)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/(?:failure|error)>)/.exec(body);
    const failure = failureElement
      ? [attributes(failureElement[1]!).message ?? '', unescapeXml(failureElement[2] ?? '')].join('\n').trim()
      : undefined;
    results.push({
      name: specName(attrs.name ?? ''),
      status,
      ginkgoStatus,
      ...(failure !== undefined ? { failure } : {}),
      timeSeconds: Number(attrs.time ?? 0),
    });
  }
  return results;
}

export function readJUnit(path: string): SpecResult[] {
  return parseJUnit(readFileSync(path, 'utf8'));
}

/** The focused specs (every spec the focus selects, whatever its outcome). */
export const focusedSpecs = (results: readonly SpecResult[], focus: RegExp = CONFORMANCE_FOCUS_RE) =>
  results.filter((r) => focus.test(r.name));

/** Suite-level nodes that failed (a failed BeforeSuite fails every spec without running it). */
export const failedSuiteNodes = (results: readonly SpecResult[], focus: RegExp = CONFORMANCE_FOCUS_RE) =>
  results.filter((r) => !focus.test(r.name) && r.status === 'failed');

export interface ConformanceSummary {
  passed: string[];
  failed: string[];
  /** Listed in KNOWN_UNPASSABLE_ON_KWOK and did not pass. */
  knownUnpassable: string[];
  /** Selected by the focus but not run (ginkgo skipped them). */
  skipped: string[];
  line: string;
}

export function summarize(
  results: readonly SpecResult[],
  unpassable: Readonly<Record<string, string>> = KNOWN_UNPASSABLE_ON_KWOK,
  focus: RegExp = CONFORMANCE_FOCUS_RE,
): ConformanceSummary {
  const specs = focusedSpecs(results, focus);
  const passed = specs.filter((s) => s.status === 'passed').map((s) => s.name);
  const notPassed = specs.filter((s) => s.status !== 'passed');
  const knownUnpassable = notPassed.filter((s) => s.name in unpassable).map((s) => s.name);
  const failed = notPassed.filter((s) => s.status === 'failed' && !(s.name in unpassable)).map((s) => s.name);
  const skipped = notPassed
    .filter((s) => s.status === 'skipped' && !(s.name in unpassable))
    .map((s) => s.name);
  const line =
    `conformance: ${passed.length} passed, ${failed.length} failed, ${knownUnpassable.length} known-unpassable` +
    (skipped.length > 0 ? `, ${skipped.length} skipped` : '');
  return { passed, failed, knownUnpassable, skipped, line };
}
