// The demo's process supervisor: runs one command (the webhook or the
// controller), and when it exits restarts it after a short backoff, as a
// Deployment would in a real cluster. The controller exits by design when it
// loses its leader lease (e.g. the API server was down for longer than the
// renew deadline); restarted, it campaigns again as a new candidate.
//
//   node hack/supervise.ts --name controller --log FILE --events FILE -- node dist/controller/main.js ...
//
// The command's output is appended to --log. Each exit and restart is one line
// in --events (`<ISO time> demo: controller exited (code 1: lost its leader
// lease); restarting in 2s`), which hack/demo.sh relays while it runs.
// SIGTERM/SIGINT stop the command (SIGTERM, then SIGKILL after 10 s) and then
// the supervisor; SIGHUP is ignored, so closing the terminal changes nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';

const usage = 'usage: node hack/supervise.ts --name NAME --log FILE --events FILE -- COMMAND [ARGS...]';

/** Backoff after an exit: 2 s, doubled while the command keeps exiting within MIN_UPTIME_MS, at most 16 s. */
const FIRST_DELAY_MS = 2_000;
const MAX_DELAY_MS = 16_000;
const MIN_UPTIME_MS = 30_000;
const STOP_GRACE_MS = 10_000;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: 'string' },
    log: { type: 'string' },
    events: { type: 'string' },
  },
});
const [commandArg, ...args] = positionals;
if (!values.name || !values.log || !values.events || !commandArg) {
  console.error(usage);
  process.exit(2);
}
const name: string = values.name;
const log: string = values.log;
const events: string = values.events;
const command: string = commandArg;

const stamp = () => new Date().toISOString();
/** Appends a line; a log that cannot be written (its directory removed) must not stop the supervision. */
const append = (file: string, line: string) => {
  try {
    appendFileSync(file, line);
  } catch {
    // Nothing better to do: stdout and stderr go to the same log.
  }
};
const toLog = (line: string) => append(log, `${stamp()} supervisor: ${line}\n`);
/** One line in the events file (relayed by the demo) and in the command's own log. */
const event = (line: string) => {
  append(events, `${stamp()} demo: ${line}\n`);
  toLog(line);
};

/** Why the command exited, from the error lines it logged since it started (JSON logs with a textual level). */
function exitReason(fromOffset: number): string | undefined {
  let text: string;
  try {
    const size = statSync(log).size;
    const start = Math.max(fromOffset, size - 64 * 1024);
    const buffer = Buffer.alloc(size - start);
    const fd = openSync(log, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, start);
    } finally {
      closeSync(fd);
    }
    text = buffer.toString('utf8');
  } catch {
    return undefined;
  }
  let reason: string | undefined;
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown; err?: { message?: unknown } };
      if ((entry.level === 'error' || entry.level === 'fatal') && typeof entry.msg === 'string') {
        const detail = typeof entry.err?.message === 'string' ? `: ${entry.err.message}` : '';
        reason = `${entry.msg}${detail}`;
      }
    } catch {
      // Not a JSON log line (a stack trace, our own lines).
    }
  }
  if (reason && /leadership lost|lost the lease/.test(reason)) return 'lost its leader lease';
  return reason && reason.length > 160 ? `${reason.slice(0, 157)}...` : reason;
}

let child: ChildProcess | undefined;
let stopping = false;
let restartTimer: NodeJS.Timeout | undefined;
let delayMs = FIRST_DELAY_MS;
let starts = 0;

function start(): void {
  restartTimer = undefined;
  const offset = (() => {
    try {
      return statSync(log).size;
    } catch {
      return 0;
    }
  })();
  let fd: number | 'ignore' = 'ignore';
  try {
    fd = openSync(log, 'a');
  } catch {
    // The log's directory is gone (the demo's state was removed); run the command all the same.
  }
  const startedAt = performance.now();
  let proc: ChildProcess;
  try {
    proc = spawn(command, args, { stdio: ['ignore', fd, fd] });
  } finally {
    if (typeof fd === 'number') closeSync(fd);
  }
  child = proc;
  starts++;
  if (starts > 1) event(`${name} restarted (pid ${String(proc.pid)})`);
  else toLog(`started ${name} (pid ${String(proc.pid)})`);
  let exited = false;
  const onExit = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
    if (exited) return;
    exited = true;
    child = undefined;
    if (stopping) {
      toLog(`${name} stopped`);
      process.exit(0);
    }
    const how = spawnError
      ? `could not start: ${spawnError.message}`
      : signal
        ? `signal ${signal}`
        : `code ${String(code)}`;
    const reason = spawnError ? undefined : exitReason(offset);
    if (performance.now() - startedAt >= MIN_UPTIME_MS) delayMs = FIRST_DELAY_MS;
    event(`${name} exited (${how}${reason ? `: ${reason}` : ''}); restarting in ${delayMs / 1000}s`);
    restartTimer = setTimeout(start, delayMs);
    delayMs = Math.min(delayMs * 2, MAX_DELAY_MS);
  };
  proc.on('exit', (code, signal) => onExit(code, signal));
  proc.on('error', (err) => onExit(null, null, err));
}

function stop(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  toLog(`${signal}: stopping ${name}`);
  if (restartTimer) clearTimeout(restartTimer);
  if (!child) process.exit(0);
  const proc = child;
  proc.kill('SIGTERM');
  setTimeout(() => {
    toLog(`${name} did not stop within ${STOP_GRACE_MS / 1000}s; SIGKILL`);
    proc.kill('SIGKILL');
  }, STOP_GRACE_MS).unref();
}

process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGHUP', () => {});
start();
