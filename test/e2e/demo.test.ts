// `make demo` as a new user runs it (hack/demo.sh), in its own state directory
// and on free ports so it never touches the repo's .cluster/ or a running demo:
// its output (no colour codes off a terminal, `make down`, no half-hour
// warning with the tools cached), the webhook on loopback only, a kube-apiserver
// outage long enough for the controller to lose its lease in the middle of the
// demo's rolling update (the supervisor restarts it, the demo says so, the
// rollout completes), and `hack/demo.sh down` leaving none of its processes.
// The demo starts its own cluster; the global setup's is not used here.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readClusterState, startComponent, stopComponent } from '../harness/cluster.ts';
import { ClusterClient } from '../harness/kube.ts';
import { kubectl, repoRoot } from '../harness/tools.ts';
import { done, notYet, waitFor } from '../harness/wait.ts';

interface Demo {
  /** stdout and stderr as they arrive. */
  output: () => string;
  exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
  finished: Promise<{ code: number | null; output: string }>;
}

/** Runs `hack/demo.sh [args]` with stdout and stderr on pipes (not a terminal), as CI or a script would. */
function runDemo(args: string[], env: NodeJS.ProcessEnv): Demo {
  const childEnv = { ...process.env, ...env };
  delete childEnv.NO_COLOR; // the test is that a pipe alone gets no colour codes
  const child = spawn('bash', [join(repoRoot, 'hack/demo.sh'), ...args], {
    cwd: repoRoot,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
  const finished = new Promise<{ code: number | null; output: string }>((resolve) => {
    child.on('close', (code, signal) => {
      exited = { code, signal };
      resolve({ code, output });
    });
  });
  return { output: () => output, exited: () => exited, finished };
}

/** Waits until the demo printed a line matching `pattern`; fails at once if it exited first. */
function waitForOutput(demo: Demo, pattern: RegExp, timeoutMs: number): Promise<string> {
  return waitFor(
    `the demo to print ${String(pattern)}`,
    () => {
      const match = pattern.exec(demo.output());
      return match ? done(match[0]) : notYet(demo.output().split('\n').slice(-15).join('\n'));
    },
    {
      timeoutMs,
      intervalMs: 200,
      abortIf: () => {
        const e = demo.exited();
        return e && !pattern.test(demo.output())
          ? new Error(
              `the demo exited (${String(e.code ?? e.signal)}) before printing ${String(pattern)}:\n${demo.output()}`,
            )
          : undefined;
      },
    },
  );
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Every live process whose command line mentions `text`, pid → command line. */
function processesMentioning(text: string): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes(text)) found.set(Number(entry), cmdline);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** Local addresses (hex, as in /proc/net/tcp*) of the sockets listening on `port`. */
function listenAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const addresses: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [address, localPort] = (fields[1] ?? '').split(':');
      if (fields[3] === '0A' && localPort === hexPort && address) addresses.push(address);
    }
  }
  return addresses;
}
const LOOPBACK_V4 = '0100007F';

const UPDATE_IMAGE = 'nginx:1.28';
const SECOND_IMAGE = 'nginx:1.29';

describe('make demo, as a new user runs it', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('survives a kube-apiserver outage mid-rollout, says so, and `down` leaves nothing running', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'everynode-demo-'));
    const stateDir = join(dir, 'state');
    const [webhookPort, webhookMetricsPort, controllerMetricsPort] = await freePorts(3);
    const env = {
      EVERYNODE_DEMO_DIR: stateDir,
      WEBHOOK_PORT: String(webhookPort),
      WEBHOOK_METRICS_PORT: String(webhookMetricsPort),
      CONTROLLER_METRICS_PORT: String(controllerMetricsPort),
      NGINX_UPDATE_IMAGE: UPDATE_IMAGE,
    };
    let kwokPid: number | undefined;
    cleanups.push(async () => {
      if (kwokPid) {
        try {
          process.kill(kwokPid, 'SIGCONT');
        } catch {
          // Gone.
        }
      }
      // Whatever happened above, stop what this demo started.
      if (processesMentioning(stateDir).size > 0) await runDemo(['down'], env).finished;
      await rm(dir, { recursive: true, force: true });
    });

    const demo = runDemo([], env);
    // Hold the rollout the demo is about to start: with kwok (the fake kubelets) paused, an old pod
    // never finishes terminating and a new one never gets Ready, so the outage hits a rollout in progress.
    await waitForOutput(demo, /^==> check: one nginx pod on each worker/m, 900_000);
    const kwok = readClusterState(stateDir)?.processes.find((p) => p.component === 'kwok');
    expect(kwok).toBeDefined();
    kwokPid = kwok!.pid;
    process.kill(kwokPid, 'SIGSTOP');
    await waitForOutput(demo, /^\$ kubectl rollout status ds\/nginx$/m, 120_000);

    // The outage: long enough for the controller to miss its renew deadline and exit, which its
    // supervisor reports (the demo relays it); only then does the API server come back.
    await stopComponent(stateDir, 'kube-apiserver');
    await waitForOutput(
      demo,
      /demo: controller exited \(code 1: lost its leader lease\); restarting in \d+s/,
      180_000,
    );
    await startComponent(stateDir, 'kube-apiserver');
    process.kill(kwokPid, 'SIGCONT');
    kwokPid = undefined;

    const { code, output } = await demo.finished;
    expect(code, output).toBe(0);
    expect(output).not.toContain('\u001b'); // no colour codes: stdout is a pipe
    expect(output).not.toContain('about 30 min'); // the tools are cached (the global setup needs them too)
    expect(output).not.toContain('make cluster-down');
    expect(output).toContain(`stop with: EVERYNODE_DEMO_DIR=${stateDir} make down`);
    expect(output).toContain(`Stop everything with: EVERYNODE_DEMO_DIR=${stateDir} make down`);
    expect(output).toMatch(/demo: controller restarted \(pid \d+\)/);
    expect(output).toContain('successfully rolled out');
    expect(readFileSync(join(stateDir, 'logs', 'supervisor.log'), 'utf8')).toMatch(
      /demo: controller exited \(code 1: lost its leader lease\); restarting in \d+s/,
    );

    // The webhook listens on loopback only (both its servers).
    for (const port of [webhookPort!, webhookMetricsPort!]) {
      const addresses = listenAddresses(port);
      expect(addresses.length, `listeners on port ${port}`).toBeGreaterThan(0);
      expect(addresses, `listeners on port ${port}`).toEqual(addresses.map(() => LOOPBACK_V4));
    }

    // The demo's rollout finished on every worker, and a rollout started after the outage completes too
    // (the restarted controller leads).
    const kubeconfig = join(stateDir, 'kubeconfig');
    const cluster = new ClusterClient(kubeconfig);
    const workers = (await cluster.workerNames()).sort();
    expect(workers.length).toBe(4);
    const rolledOutTo = async (image: string) => {
      await kubectl(['rollout', 'status', 'ds/nginx', '--timeout=170s'], { kubeconfig, timeoutMs: 180_000 });
      const ds = await cluster.apps.readNamespacedDaemonSet({ name: 'nginx', namespace: 'default' });
      expect(ds.spec?.template.spec?.containers[0]?.image).toBe(image);
      expect(ds.status?.updatedNumberScheduled).toBe(workers.length);
      expect(ds.status?.numberAvailable).toBe(workers.length);
      const pods = (
        await cluster.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=nginx' })
      ).items;
      const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
      expect(live.map((p) => p.spec?.nodeName).sort()).toEqual(workers);
      expect(live.map((p) => p.spec?.containers[0]?.image)).toEqual(workers.map(() => image));
    };
    await rolledOutTo(UPDATE_IMAGE);
    await kubectl(['set', 'image', 'ds/nginx', `nginx=${SECOND_IMAGE}`], { kubeconfig });
    await rolledOutTo(SECOND_IMAGE);

    // Everything the demo runs names its state directory: the cluster's components, the two
    // supervisors, the webhook and the controller (the restarted one).
    const before = processesMentioning(stateDir);
    const commands = [...before.values()];
    for (const expected of [
      'etcd',
      'kube-apiserver',
      'kube-controller-manager',
      'kube-scheduler',
      'kwok',
      'hack/supervise.ts --name webhook',
      'hack/supervise.ts --name controller',
      'dist/webhook/main.js',
      'dist/controller/main.js',
    ]) {
      expect(
        commands.some((c) => c.includes(expected)),
        `${expected} in ${commands.join('\n')}`,
      ).toBe(true);
    }
    // A controller someone started by hand against the demo's cluster (a relative --kubeconfig, as
    // `make run-controller` passes it): `down` finds it by its command line, not by a pid it recorded.
    const byHand = spawn(
      process.execPath,
      [join(repoRoot, 'dist/controller/main.js'), '--kubeconfig', 'kubeconfig', '--metrics-port=0'],
      { cwd: stateDir, detached: true, stdio: 'ignore' },
    );
    byHand.unref();
    const byHandPid = byHand.pid!;
    cleanups.push(() => {
      try {
        process.kill(byHandPid, 'SIGKILL');
      } catch {
        // Stopped, as it should be.
      }
      return Promise.resolve();
    });
    await waitFor('the hand-started controller to run', () =>
      existsSync(`/proc/${byHandPid}/cmdline`) ? done(undefined) : notYet('no process'),
    );

    const downResult = await runDemo(['down'], env).finished;
    expect(downResult.code, downResult.output).toBe(0);
    const stillAlive = [...before.keys()].filter((pid) => processesMentioning(stateDir).has(pid));
    expect(stillAlive, downResult.output).toEqual([]);
    expect(downResult.output).toContain(
      `stopping dist/controller/main.js (pid ${byHandPid}, not started by a supervisor)`,
    );
    const byHandState = existsSync(`/proc/${byHandPid}/stat`)
      ? readFileSync(`/proc/${byHandPid}/stat`, 'utf8')
      : '';
    expect(byHandState === '' || /\) [ZX] /.test(byHandState), byHandState).toBe(true);
    expect([...processesMentioning(stateDir).values()]).toEqual([]);
    expect(existsSync(stateDir)).toBe(false);
  }, 1_200_000);

  it('fails fast on a busy port, before starting anything, naming the port and its variable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'everynode-demo-'));
    const stateDir = join(dir, 'state');
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      await new Promise((resolve) => busy.close(resolve));
      await rm(dir, { recursive: true, force: true });
    });
    const port = (busy.address() as { port: number }).port;
    const [webhookPort, webhookMetricsPort] = await freePorts(2);

    const { code, output } = await runDemo([], {
      EVERYNODE_DEMO_DIR: stateDir,
      WEBHOOK_PORT: String(webhookPort),
      WEBHOOK_METRICS_PORT: String(webhookMetricsPort),
      CONTROLLER_METRICS_PORT: String(port),
    }).finished;
    expect(code).toBe(1);
    expect(output).toContain(
      `port ${port} (CONTROLLER_METRICS_PORT) is already in use, by pid ${process.pid}`,
    );
    expect(output).toContain('CONTROLLER_METRICS_PORT set to a free port');
    expect(output).not.toContain('==>'); // no step started
    expect(existsSync(stateDir)).toBe(false);
  });
});
