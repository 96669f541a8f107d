// Long-running component processes: started detached (own process group, no
// terminal, output to a log file) so a cluster outlives the command that
// started it, and stopped by pid only after checking the pid still runs the
// binary we started (pids get reused).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface StartedProcess {
  component: string;
  pid: number;
  /** Absolute path of the executable, used to recognise the process later. */
  binary: string;
  log: string;
}

export interface Running extends StartedProcess {
  /** Set once the process exits while this Node process watches it. */
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child: ChildProcess;
}

export function startDetached(
  component: string,
  binary: string,
  args: string[],
  log: string,
  env?: NodeJS.ProcessEnv,
): Running {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
    if (child.pid === undefined) throw new Error(`${component}: could not start ${binary}`);
    const running: Running = { component, pid: child.pid, binary, log, exited: undefined, child };
    child.on('exit', (code, signal) => {
      running.exited = { code, signal };
    });
    child.on('error', () => {
      running.exited ??= { code: null, signal: null };
    });
    // Do not keep the event loop (the CLI) alive for the cluster's sake.
    child.unref();
    return running;
  } finally {
    closeSync(fd);
  }
}

/** The pid is alive (not a zombie) and still runs `binary`. */
export function isRunning(pid: number, binary: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name, is the state; Z = zombie, X = dead.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return argv0 === binary;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Stops the processes that are still ours, one at a time in the given order
 * (clients before the servers they talk to: an API server whose etcd is gone
 * hangs in its graceful shutdown): SIGTERM, up to `graceMs` to exit, then
 * SIGKILL. Returns the components that had to be killed.
 */
export async function stopProcesses(
  processes: readonly StartedProcess[],
  graceMs = 10_000,
): Promise<string[]> {
  const killed: string[] = [];
  for (const p of processes) {
    if (!isRunning(p.pid, p.binary)) continue;
    signal(p.pid, 'SIGTERM');
    if (await exitsWithin(p, graceMs)) continue;
    signal(p.pid, 'SIGKILL');
    killed.push(p.component);
    await exitsWithin(p, 5_000);
  }
  return killed;
}

async function exitsWithin(p: StartedProcess, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isRunning(p.pid, p.binary)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** The last `lines` lines of a log file, for startup failure messages. */
export function tailOf(path: string, lines = 40): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch (err) {
    return `(cannot read ${path}: ${(err as Error).message})`;
  }
}
