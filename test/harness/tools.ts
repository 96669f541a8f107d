// Paths to the Go-built tools in bin/ (see hack/tools/build.sh) and a runner
// for the command-line ones (kubectl, helm) against a given kubeconfig.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Where `make tools` links the binaries; EVERYNODE_BIN_DIR overrides it. */
export const binDir = process.env.EVERYNODE_BIN_DIR ?? join(repoRoot, 'bin');

export type Tool =
  'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubectl' | 'kwok' | 'helm';

export function toolPath(tool: Tool, dir = binDir): string {
  return join(dir, tool);
}

/** Fails with the fix when a tool has not been built. */
export function requireTools(tools: readonly Tool[], dir = binDir): void {
  const missing = tools.filter((t) => !existsSync(toolPath(t, dir)));
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(', ')} in ${dir}: run \`make tools\` first (builds them from Go modules)`,
    );
  }
}

export interface RunOptions {
  /** Sets KUBECONFIG for the tool. */
  kubeconfig?: string;
  /** Written to the tool's standard input (e.g. a manifest for `kubectl apply -f -`). */
  input?: string;
  /** Resolve with the result instead of rejecting when the exit code is not 0. */
  allowFailure?: boolean;
  timeoutMs?: number;
  cwd?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export function runTool(tool: Tool, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const file = toolPath(tool);
  const env = { ...process.env };
  if (options.kubeconfig) env.KUBECONFIG = options.kubeconfig;
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      { env, cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        if (error && !options.allowFailure) {
          reject(
            new Error(
              `${tool} ${args.join(' ')} failed (exit ${String(error.code ?? error.signal)}): ${stderr.trim() || error.message}`,
            ),
          );
          return;
        }
        resolve({ stdout, stderr, code });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}

export const kubectl = (args: readonly string[], options: RunOptions = {}) =>
  runTool('kubectl', args, options);
export const helm = (args: readonly string[], options: RunOptions = {}) => runTool('helm', args, options);
