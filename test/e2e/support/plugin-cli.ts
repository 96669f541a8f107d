// Running `kubectl …` (and so `kubectl everynode …`) as a user would, for the
// plugin's e2e tests: bin/ (kubectl and bin/kubectl-everynode) and the project's
// Node first on PATH, the given kubeconfig, output and exit code collected.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { binDir } from '../../harness/tools.ts';

export interface CliRun {
  stdout: string;
  stderr: string;
  code: number;
}

export function runKubectl(kubeconfig: string, args: readonly string[], timeoutMs: number): Promise<CliRun> {
  const env = {
    ...process.env,
    KUBECONFIG: kubeconfig,
    PATH: [binDir, dirname(process.execPath), process.env.PATH ?? ''].join(':'),
  };
  return new Promise((resolve) => {
    execFile(join(binDir, 'kubectl'), [...args], { env, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ stdout, stderr, code });
    });
  });
}

/** Fails with the command's output when it did not exit 0. */
export function ok(r: CliRun): CliRun {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
}

export const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';
