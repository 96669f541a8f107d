// The Node.js version check both processes run first, and the real entry points
// refusing an old Node.js with the message (process.version faked by a preload).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isSupportedNode, MINIMUM_NODE, unsupportedNodeMessage } from '../../../src/lib/node-version.ts';

const root = new URL('../../../', import.meta.url);

describe('Node.js version check', () => {
  it.each([
    ['v20.20.2', false],
    ['v22.18.9', false],
    ['v22.19.0', true],
    ['v23.0.0', true],
    ['v24.21.0', true],
  ])('%s supported: %s', (version, ok) => {
    expect(isSupportedNode(version)).toBe(ok);
    expect(unsupportedNodeMessage(version) === undefined).toBe(ok);
  });

  it('the minimum is package.json engines', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
      engines: { node: string };
    };
    expect(pkg.engines.node).toBe(`>=${MINIMUM_NODE.replace(/\.0$/, '')}`);
  });

  it.each(['src/controller/main.ts', 'src/webhook/main.ts'])(
    '%s on an old Node.js exits 1 naming the version needed and how to get it',
    (entry) => {
      const fake = "Object.defineProperty(process, 'version', { value: 'v20.20.2' });";
      const run = spawnSync(
        process.execPath,
        ['--import', `data:text/javascript,${encodeURIComponent(fake)}`, entry, '--help'],
        { cwd: new URL('.', root), encoding: 'utf8' },
      );
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('Node.js v20.20.2 is too old');
      expect(run.stderr).toContain(`>= ${MINIMUM_NODE}`);
      expect(run.stderr).toContain('hack/ensure-node.sh');
      expect(run.stdout).toBe('');
    },
  );
});
