// `--network-unavailable` is one rule for both processes: the controller's
// placement and the pods it creates follow the same mode the webhook is given.
import { describe, expect, it } from 'vitest';
import {
  daemonTolerations,
  TAINT_NETWORK_UNAVAILABLE,
  type NetworkUnavailableMode,
} from '../../../src/contract/daemon-pod.ts';
import { planDaemonSet } from '../../../src/controller/plan.ts';
import { mutatePod } from '../../../src/webhook/mutate.ts';
import { daemonSet, node, snapshot } from './fixtures.ts';

const tainted = node('net-down', { taints: [{ key: TAINT_NETWORK_UNAVAILABLE, effect: 'NoSchedule' }] });

const rows: Array<{ mode: NetworkUnavailableMode; hostNetwork: boolean; runs: boolean }> = [
  { mode: 'hostNetwork', hostNetwork: false, runs: false },
  { mode: 'hostNetwork', hostNetwork: true, runs: true },
  { mode: 'always', hostNetwork: false, runs: true },
  { mode: 'always', hostNetwork: true, runs: true },
  { mode: 'never', hostNetwork: false, runs: false },
  { mode: 'never', hostNetwork: true, runs: false },
];

describe('network-unavailable mode', () => {
  it.each(rows)('mode $mode, hostNetwork $hostNetwork: pod on a network-unavailable node = $runs', (row) => {
    const ds = daemonSet();
    ds.spec!.template.spec!.hostNetwork = row.hostNetwork;
    const plan = planDaemonSet(snapshot(ds, [tainted], [], { networkUnavailable: row.mode }));
    expect(plan.creates.map((c) => c.nodeName)).toEqual(row.runs ? ['net-down'] : []);
    for (const c of plan.creates) {
      // The created pod carries exactly the webhook's tolerations for that mode: the webhook adds nothing.
      expect(c.pod.spec!.tolerations).toEqual(daemonTolerations(row.hostNetwork, row.mode));
      const webhook = mutatePod(c.pod, { networkUnavailable: row.mode });
      expect(webhook).toEqual({ kind: 'patch', node: 'net-down', ops: [] });
    }
  });
});
