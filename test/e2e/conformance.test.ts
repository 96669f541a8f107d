// Upstream's own DaemonSet conformance tests against everynode (issue 9): the
// `[sig-apps] Daemon set` and `[sig-apps] ControllerRevision` specs of
// k8s.io/kubernetes test/e2e/apps at the pinned version, built by `make tools`
// into bin/e2e-apps.test, run against the e2e cluster with everynode's webhook
// and controller running (the built-in DaemonSet controller is off). The specs
// create their own random namespaces, so the webhook is registered cluster-wide.
//
// One run of the binary in beforeAll; then one `it` per spec, so a failure is
// named with ginkgo's failure message. Every spec must pass except those in
// KNOWN_UNPASSABLE_ON_KWOK (test/harness/conformance.ts, listed with their
// reasons in docs/conformance.md). The JUnit report and the binary's output go
// to test-results/conformance/ in the clone (git-ignored), which outlives the
// e2e cluster's temporary directory, so CI and a developer find them after the run.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONFORMANCE_SPECS,
  KNOWN_UNPASSABLE_ON_KWOK,
  failedSuiteNodes,
  focusedSpecs,
  readJUnit,
  requireConformanceBinary,
  runConformance,
  summarize,
  type ConformanceRun,
  type SpecResult,
} from '../harness/conformance.ts';
import { e2eCluster, e2eKubeconfig } from '../harness/e2e.ts';
import { repoRoot } from '../harness/tools.ts';
import { Everynode } from './support/everynode.ts';

const cluster = e2eCluster();
let namespace: string;
let everynode: Everynode | undefined;
let run: ConformanceRun;
let results: SpecResult[] = [];

/** Long enough for the whole suite on 2 shared cores; ginkgo's own timeout is a minute shorter. */
const RUN_TIMEOUT_MS = 40 * 60_000;

beforeAll(async () => {
  requireConformanceBinary();
  const logDir = join(repoRoot, 'test-results', 'conformance');
  await mkdir(logDir, { recursive: true });
  namespace = await cluster.createNamespace('conformance-');
  everynode = await Everynode.start(cluster, { namespaces: [namespace], clusterWide: true });
  run = await runConformance({ kubeconfig: e2eKubeconfig(), logDir, timeoutMs: RUN_TIMEOUT_MS });
  results = readJUnit(run.junitPath);
  const summary = summarize(results);
  console.log(
    `${summary.line} (${(run.durationMs / 1000).toFixed(0)} s; JUnit ${run.junitPath}; output ${run.logPath}; everynode logs ${everynode.dir})`,
  );
}, RUN_TIMEOUT_MS + 120_000);

afterAll(async () => {
  await everynode?.stop();
  if (namespace) await cluster.deleteNamespace(namespace);
});

const outcome = (name: string) => results.find((r) => r.name === name);

describe('upstream DaemonSet conformance tests (k8s.io/kubernetes test/e2e/apps) against everynode', () => {
  it('the run completed and reported exactly the expected specs, with no suite-level failure', () => {
    expect(run.signal, `the binary was killed; its output: ${run.logPath}`).toBeNull();
    expect(
      failedSuiteNodes(results).map((r) => `${r.name}: ${r.failure ?? ''}`),
      `output: ${run.logPath}`,
    ).toEqual([]);
    expect(
      focusedSpecs(results)
        .map((r) => r.name)
        .sort(),
    ).toEqual([...CONFORMANCE_SPECS].sort());
    // While everynode ran, nothing the test did not stop exited.
    expect(everynode?.failure()).toBeUndefined();
  });

  for (const spec of CONFORMANCE_SPECS) {
    const reason = KNOWN_UNPASSABLE_ON_KWOK[spec];
    if (reason !== undefined) {
      it(`${spec} (known unpassable on kwok: ${reason})`, () => {
        // Listed, not skipped: it ran, and its outcome is in the report and the summary.
        expect(outcome(spec), `${spec} is not in ${run.junitPath}`).toBeDefined();
        expect(outcome(spec)!.status).not.toBe('skipped');
      });
    } else {
      it(spec, () => {
        const r = outcome(spec);
        expect(r, `${spec} is not in ${run.junitPath}`).toBeDefined();
        expect(r!.status, `${r!.failure ?? r!.ginkgoStatus}\n(output: ${run.logPath})`).toBe('passed');
      });
    }
  }
});
