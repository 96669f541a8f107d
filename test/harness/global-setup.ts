// vitest global setup for the e2e project: one real control plane for the
// whole run, in a temporary directory (so it never collides with the demo's
// .cluster/), torn down at the end. EVERYNODE_E2E_KUBECONFIG=path runs the
// tests against an existing cluster instead (e.g. `make cluster-up`'s).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { readClusterState, startCluster, stopCluster } from './cluster.ts';
import { isRunning } from './processes.ts';
import type {} from './vitest-context.ts';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const existing = process.env.EVERYNODE_E2E_KUBECONFIG;
  if (existing) {
    project.provide('kubeconfig', resolve(existing));
    return undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), 'everynode-e2e-'));
  const state = await startCluster({
    dir,
    nodes: 4,
    controlPlane: true,
    log: (m) => console.log(`e2e cluster: ${m}`),
  });
  project.provide('kubeconfig', state.kubeconfig);

  // If vitest dies without running the teardown, do not leave the cluster behind.
  const killLeftovers = () => {
    for (const p of readClusterState(dir)?.processes ?? []) {
      if (isRunning(p.pid, p.binary)) process.kill(p.pid, 'SIGKILL');
    }
  };
  process.once('exit', killLeftovers);

  return async () => {
    process.off('exit', killLeftovers);
    // EVERYNODE_E2E_KEEP_LOGS=1 keeps the directory (component logs) for a post-mortem.
    await stopCluster(dir, { keepDir: process.env.EVERYNODE_E2E_KEEP_LOGS === '1' });
    if (process.env.EVERYNODE_E2E_KEEP_LOGS === '1') console.log(`e2e cluster: logs kept in ${dir}/logs`);
  };
}
