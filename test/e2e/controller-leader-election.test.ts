// Lease leader election against the real API server: of two candidates one
// leads; stopping it releases the Lease and the other takes over at once; a
// leader cut off from the API server steps down and the other takes over when
// the Lease expires; and with two controller processes, SIGKILL of the leader
// hands over to the standby.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { e2eCluster, e2eKubeconfig } from '../harness/e2e.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { KubeClient, loadKubeConfig, resourcePath, resources } from '../../src/machinery/kube.ts';
import { LeaderElector, type Lease, type StoppedReason } from '../../src/machinery/leader-election.ts';
import { apiServerAddress, TcpProxy } from './support/tcp-proxy.ts';

const cluster = e2eCluster();
let namespace: string;
let direct: KubeClient;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  namespace = await cluster.createNamespace('leader-');
  direct = new KubeClient(loadKubeConfig(e2eKubeconfig()), { qps: 0, burst: 1 });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await direct.close();
  await cluster.deleteNamespace(namespace);
});

interface Candidate {
  name: string;
  elector: LeaderElector;
  leading: boolean;
  stopped: StoppedReason[];
}

/** A candidate with short timings so hand-overs take seconds. */
function candidate(name: string, lease: string, client = direct): Candidate {
  const c: Candidate = { name, elector: undefined as unknown as LeaderElector, leading: false, stopped: [] };
  c.elector = new LeaderElector({
    client,
    namespace,
    name: lease,
    identity: name,
    leaseDurationMs: 4_000,
    renewDeadlineMs: 3_000,
    retryPeriodMs: 500,
    logger: silentLogger(),
    onStartedLeading: () => (c.leading = true),
    onStoppedLeading: (reason) => {
      c.leading = false;
      c.stopped.push(reason);
    },
  });
  void c.elector.start();
  cleanups.push(() => c.elector.stop());
  return c;
}

const holderOf = async (lease: string) =>
  (await direct.get<Lease>(resourcePath(resources.leases, { namespace, name: lease }))).spec
    ?.holderIdentity ?? '';

describe('LeaderElector', () => {
  it('elects exactly one of two candidates, and stopping the leader hands over at once', async () => {
    const a = candidate('a', 'two-candidates');
    const b = candidate('b', 'two-candidates');
    const leader = await waitFor('a leader', () => {
      const leaders = [a, b].filter((c) => c.leading);
      return leaders.length === 1 ? done(leaders[0]!) : notYet(leaders.map((c) => c.name));
    });
    const standby = leader === a ? b : a;
    expect(await holderOf('two-candidates')).toBe(leader.name);
    // Several renewals later, still exactly one leader.
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 250));
      expect([a, b].filter((c) => c.leading).map((c) => c.name)).toEqual([leader.name]);
    }

    await leader.elector.stop();
    expect(leader.stopped).toEqual(['stopped']);
    await waitFor('the standby to lead', () => (standby.leading ? done(true) : notYet(standby.stopped)));
    expect(await holderOf('two-candidates')).toBe(standby.name);
  });

  it('a leader cut off from the API server steps down; the other takes over after the lease expires', async () => {
    const { host, port } = apiServerAddress(e2eKubeconfig());
    const proxy = await TcpProxy.start(host, port);
    cleanups.push(() => proxy.close());
    const viaProxy = new KubeClient(proxy.kubeConfig(e2eKubeconfig()), {
      qps: 0,
      burst: 1,
      requestTimeoutMs: 1_000,
    });
    cleanups.push(() => viaProxy.close());

    const a = candidate('partitioned', 'partition', viaProxy);
    await waitFor('the first candidate to lead', () => (a.leading ? done(true) : notYet(a.stopped)));
    const b = candidate('survivor', 'partition');

    proxy.partition();
    await waitFor('the cut-off leader to step down', () =>
      a.stopped.includes('lost') ? done(true) : notYet(a.stopped),
    );
    expect(a.leading).toBe(false);
    await waitFor('the survivor to lead', () => (b.leading ? done(true) : notYet(b.stopped)));
    expect(await holderOf('partition')).toBe('survivor');
    expect([a, b].filter((c) => c.leading).map((c) => c.name)).toEqual(['survivor']);
  });
});

describe('two controller processes', () => {
  const mainTs = fileURLToPath(new URL('../../src/controller/main.ts', import.meta.url));

  interface Proc {
    child: ChildProcess;
    lines: Array<Record<string, unknown>>;
  }

  function startProcess(lease: string): Proc {
    const child = spawn(
      process.execPath,
      [
        mainTs,
        `--kubeconfig=${e2eKubeconfig()}`,
        `--leader-elect-namespace=${namespace}`,
        `--leader-elect-id=${lease}`,
        '--metrics-port=0',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const proc: Proc = { child, lines: [] };
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        proc.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
    });
    return proc;
  }

  const leads = (p: Proc) => p.lines.some((l) => l.msg === 'acquired the lease, leading');

  it('SIGKILL of the leading process hands the lease to the standby', async () => {
    const first = startProcess('processes');
    const second = startProcess('processes');
    const leader = await waitFor('one process to lead', () => {
      const leading = [first, second].filter(leads);
      return leading.length === 1 ? done(leading[0]!) : notYet(leading.length);
    });
    const standby = leader === first ? second : first;
    const leaderIdentity = await holderOf('processes');
    expect(leaderIdentity).not.toBe('');

    leader.child.kill('SIGKILL');
    // No release after SIGKILL: the standby waits for the 15 s lease to expire, then takes it.
    await waitFor('the standby to lead', () => (leads(standby) ? done(true) : notYet(standby.lines.length)), {
      timeoutMs: 60_000,
    });
    const newHolder = await holderOf('processes');
    expect(newHolder).not.toBe('');
    expect(newHolder).not.toBe(leaderIdentity);

    // A graceful stop releases the lease and exits 0.
    standby.child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => standby.child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(await holderOf('processes')).toBe('');
  });
});
