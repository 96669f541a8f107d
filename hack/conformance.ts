// Upstream's DaemonSet conformance tests (bin/e2e-apps.test, built by `make
// tools` from hack/tools/conformance) on a fresh harness cluster, the same one
// the e2e tests use (1 tainted control-plane node + 4 kwok workers):
//
//   node hack/conformance.ts --controller kcm         (make conformance-kcm)
//     kube-controller-manager's own DaemonSet controller (--controllers=*)
//   node hack/conformance.ts --controller everynode   (make conformance)
//     KCM with --controllers=*,-daemonset, everynode's webhook (cluster-wide)
//     and controller from source, as test/e2e/conformance.test.ts runs them
//
// Prints one line per spec and the summary line; exits 1 when a spec failed
// that is not in KNOWN_UNPASSABLE_ON_KWOK. The cluster is stopped at the end;
// its logs, the JUnit report (logs/conformance/conformance-junit.xml) and the
// binary's output stay in the printed directory.
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Everynode } from '../test/e2e/support/everynode.ts';
import { startCluster, stopCluster } from '../test/harness/cluster.ts';
import {
  KNOWN_UNPASSABLE_ON_KWOK,
  focusedSpecs,
  failedSuiteNodes,
  readJUnit,
  requireConformanceBinary,
  runConformance,
  summarize,
} from '../test/harness/conformance.ts';
import { ClusterClient } from '../test/harness/kube.ts';

const USAGE = `usage: node hack/conformance.ts [--controller kcm|everynode] [--focus REGEX]
  --controller   whose DaemonSet controller runs: kcm (kube-controller-manager's) or everynode (default kcm)
  --focus        ginkgo focus (default: the [sig-apps] Daemon set and ControllerRevision specs)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      controller: { type: 'string', default: 'kcm' },
      focus: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const controller = values.controller;
  if (controller !== 'kcm' && controller !== 'everynode') {
    console.error(`--controller must be kcm or everynode, got ${controller}\n${USAGE}`);
    return 2;
  }
  requireConformanceBinary();

  const dir = await mkdtemp(join(tmpdir(), `everynode-conformance-${controller}-`));
  const log = (m: string) => console.log(`conformance (${controller}): ${m}`);
  let everynode: Everynode | undefined;
  const stop = async () => {
    await everynode?.stop().catch((err: unknown) => log(`stopping everynode: ${String(err)}`));
    everynode = undefined;
    await stopCluster(dir, { keepDir: true });
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const state = await startCluster({
      dir,
      nodes: 4,
      controlPlane: true,
      builtInDaemonSetController: controller === 'kcm',
      log,
    });
    if (controller === 'everynode') {
      const cluster = new ClusterClient(state.kubeconfig);
      const namespace = await cluster.createNamespace('conformance-');
      everynode = await Everynode.start(cluster, { namespaces: [namespace], clusterWide: true });
      log(`everynode is running (logs in ${everynode.dir})`);
    }
    const logDir = join(dir, 'logs', 'conformance');
    await mkdir(logDir, { recursive: true });
    log(`running ${requireConformanceBinary()} (output: ${join(logDir, 'conformance.log')})`);
    const run = await runConformance({
      kubeconfig: state.kubeconfig,
      logDir,
      ...(values.focus ? { focus: values.focus } : {}),
    });
    const results = readJUnit(run.junitPath);
    const focus = values.focus ? new RegExp(values.focus) : undefined;
    for (const r of focusedSpecs(results, focus)) {
      const known = KNOWN_UNPASSABLE_ON_KWOK[r.name];
      console.log(
        `  ${r.status.padEnd(7)} ${r.name}${known && r.status !== 'passed' ? ` (known unpassable: ${known})` : ''}`,
      );
    }
    for (const r of failedSuiteNodes(results, focus)) console.log(`  failed  ${r.name}: ${r.failure ?? ''}`);
    const summary = summarize(results, KNOWN_UNPASSABLE_ON_KWOK, focus);
    console.log(`${summary.line} (${controller}, ${(run.durationMs / 1000).toFixed(0)} s)`);
    console.log(`JUnit report: ${run.junitPath}; output: ${run.logPath}; cluster logs: ${join(dir, 'logs')}`);
    return summary.failed.length === 0 && failedSuiteNodes(results, focus).length === 0 && run.signal === null
      ? 0
      : 1;
  } finally {
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`conformance: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
