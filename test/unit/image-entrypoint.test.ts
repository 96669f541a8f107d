// hack/image-entrypoint.sh, the image's entrypoint: which node flags each process gets. A stand-in
// `node` on PATH prints the arguments it was exec'd with.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../harness/tools.ts';

const bin = mkdtempSync(join(tmpdir(), 'everynode-entrypoint-'));
writeFileSync(join(bin, 'node'), '#!/bin/sh\necho "$@"\n');
chmodSync(join(bin, 'node'), 0o755);

function run(args: string[], env: Record<string, string> = {}): string {
  return execFileSync('sh', [join(repoRoot, 'hack/image-entrypoint.sh'), ...args], {
    env: { PATH: `${bin}:/usr/bin:/bin`, ...env },
    encoding: 'utf8',
  }).trim();
}

describe('image entrypoint', () => {
  it('gives the controller the V8 heap cap by default', () => {
    expect(run(['controller', '--workers=2'])).toBe(
      '--max-old-space-size=192 --max-semi-space-size=8 /app/dist/controller/main.js --workers=2',
    );
  });
  it('EVERYNODE_CONTROLLER_NODE_OPTIONS replaces it; empty means none', () => {
    expect(run(['controller'], { EVERYNODE_CONTROLLER_NODE_OPTIONS: '--max-old-space-size=512' })).toBe(
      '--max-old-space-size=512 /app/dist/controller/main.js',
    );
    expect(run(['controller'], { EVERYNODE_CONTROLLER_NODE_OPTIONS: '' })).toBe(
      '/app/dist/controller/main.js',
    );
  });
  it('the webhook gets no flags', () => {
    expect(run(['webhook', '--port=9443'])).toBe('/app/dist/webhook/main.js --port=9443');
  });
  it('anything else is a usage error', () => {
    expect(() => run(['other'])).toThrow(/usage: everynode webhook\|controller/);
  });
});
