// `make lint` keeps the pure core pure: the import rule in eslint.config.js
// refuses I/O imports in the planner's files and the webhook's decision, and
// leaves the I/O shell alone.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const eslint = new ESLint({ cwd: root });

const io = [
  "import { KubeClient } from '../machinery/kube.ts';",
  "import { readFileSync } from 'node:fs';",
  "import { request } from 'undici';",
  "import { Informer } from '../machinery/informer.ts';",
  "import { V1Pod } from '@kubernetes/client-node';",
  "import { executePlan } from './executor.ts';",
].join('\n');

async function restrictedImports(file: string, code: string): Promise<number> {
  const [result] = await eslint.lintText(`${code}\nexport {};\n`, { filePath: `${root}${file}` });
  return (result?.messages ?? []).filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
    .length;
}

// The first lint loads the type-checked project (seconds on a busy machine).
describe('the pure-core import rule', { timeout: 180_000 }, () => {
  it.each([
    'src/controller/plan.ts',
    'src/controller/manage.ts',
    'src/controller/claims.ts',
    'src/webhook/mutate.ts',
  ])('refuses I/O imports in %s', async (file) => {
    expect(await restrictedImports(file, io)).toBe(6);
  });

  it('allows type imports of client-node and the pure label selector', async () => {
    const pure = [
      "import type { V1Pod } from '@kubernetes/client-node';",
      "import { labelSelectorMatches } from '../machinery/label-selector.ts';",
    ].join('\n');
    expect(await restrictedImports('src/controller/plan.ts', pure)).toBe(0);
  });

  it('leaves the executor (the I/O shell) alone', async () => {
    expect(await restrictedImports('src/controller/executor.ts', io)).toBe(0);
  });
});
