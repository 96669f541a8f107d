// Unit tests of the `kubectl everynode` command line (src/plugin/cli.ts) and its resource
// parsing (src/plugin/resource.ts): flags anywhere, kubectl's resource spellings, help at every
// level, usage errors, and the arguments history/undo hand to kubectl. No cluster.
import { describe, expect, it } from 'vitest';
import { parseCommandLine, UsageError } from '../../../src/plugin/cli.ts';
import { parseResource } from '../../../src/plugin/resource.ts';

const usageError = (argv: string[]): UsageError => {
  try {
    parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
};

describe('parseResource', () => {
  it.each(['ds/x', 'daemonset/x', 'daemonsets/x', 'daemonsets.apps/x', 'DaemonSet/x', 'ds.apps/x'])(
    '%s',
    (arg) => {
      expect(parseResource([arg])).toEqual({
        kind: 'DaemonSet',
        group: 'apps',
        resource: 'daemonsets.apps',
        name: 'x',
      });
    },
  );

  it('accepts TYPE NAME', () => {
    expect(parseResource(['ds', 'x'])).toMatchObject({ kind: 'DaemonSet', name: 'x' });
  });

  it.each([
    'evds/x',
    'daemonset.everynode.dev/x',
    'daemonsets.everynode.dev/x',
    'DaemonSets.everynode.dev/x',
    'daemonsets.v1alpha1.everynode.dev/x',
  ])("%s is everynode's own kind", (arg) => {
    expect(parseResource([arg])).toEqual({
      kind: 'DaemonSet',
      group: 'everynode.dev',
      resource: 'daemonsets.everynode.dev',
      name: 'x',
    });
  });

  it('accepts evds NAME as two words', () => {
    expect(parseResource(['evds', 'x'])).toMatchObject({ group: 'everynode.dev', name: 'x' });
  });

  it('refuses other kinds, missing and bad names', () => {
    expect(parseResource(['deploy/x'])).toHaveProperty('error');
    expect(parseResource([])).toEqual({ error: 'required resource not specified' });
    expect(parseResource(['x'])).toHaveProperty('error');
    expect(parseResource(['ds/'])).toHaveProperty('error');
    expect(parseResource(['ds/X_Y'])).toHaveProperty('error');
    expect(parseResource(['ds/a', 'ds/b'])).toHaveProperty('error');
  });
});

describe('parseCommandLine', () => {
  it('rollout status with kubectl-style flags anywhere', () => {
    expect(
      parseCommandLine([
        'rollout',
        'status',
        '-n',
        'ns',
        'ds/x',
        '--timeout=2m',
        '-o',
        'wide',
        '--watch=false',
      ]),
    ).toEqual({
      kind: 'status',
      ref: { kind: 'DaemonSet', group: 'apps', resource: 'daemonsets.apps', name: 'x' },
      global: { namespace: 'ns', kubeconfig: undefined, context: undefined },
      watch: false,
      timeoutMs: 120_000,
      wide: true,
    });
    expect(parseCommandLine(['rollout', 'status', 'ds/x'])).toMatchObject({
      watch: true,
      timeoutMs: 0,
      wide: false,
    });
  });

  it('help at every level', () => {
    expect(parseCommandLine([])).toMatchObject({ kind: 'help' });
    expect(parseCommandLine(['--help'])).toMatchObject({
      kind: 'help',
      text: expect.stringContaining('Commands:'),
    });
    expect(parseCommandLine(['rollout'])).toMatchObject({
      kind: 'help',
      text: expect.stringContaining('Subcommands:'),
    });
    for (const verb of ['status', 'pause', 'resume', 'promote', 'history', 'undo']) {
      const help = parseCommandLine(['rollout', verb, '-h']);
      expect(help).toMatchObject({
        kind: 'help',
        text: expect.stringContaining(`kubectl everynode rollout ${verb} (TYPE/NAME`),
      });
    }
  });

  it('usage errors name the problem and the help to read', () => {
    expect(usageError(['rollout', 'frobnicate', 'ds/x'])).toMatchObject({
      message: 'unknown command "frobnicate" for "kubectl everynode rollout"',
      helpCommand: 'kubectl everynode rollout',
    });
    expect(usageError(['rollout', 'pause', 'ds/x', '--timeout=1s']).message).toContain(
      'unknown flag: --timeout',
    );
    expect(usageError(['rollout', 'status', 'ds/x', '--bogus']).message).toBe('unknown flag: --bogus');
    expect(usageError(['rollout', 'status', 'ds/x', '--timeout']).message).toBe(
      'flag needs an argument: --timeout',
    );
    expect(usageError(['rollout', 'status', 'ds/x', '--timeout=soon']).message).toContain('--timeout');
    expect(usageError(['rollout', 'status', 'ds/x', '-o', 'json']).message).toContain('"wide"');
    expect(usageError(['rollout', 'status'])).toMatchObject({
      message: 'required resource not specified',
      helpCommand: 'kubectl everynode rollout status',
    });
    expect(usageError(['rollout', 'promote', 'ds/x', '--partition=half']).message).toContain('("25%")');
  });

  it('promote carries a validated partition', () => {
    expect(parseCommandLine(['rollout', 'promote', 'ds/x', '--partition', '25%'])).toMatchObject({
      kind: 'promote',
      partition: '25%',
    });
  });

  it('history and undo become kubectl rollout with the same resource and flags', () => {
    expect(
      parseCommandLine([
        'rollout',
        'undo',
        'daemonset/x',
        '-n',
        'ns',
        '--context',
        'c',
        '--kubeconfig=/k',
        '--to-revision=1',
      ]),
    ).toMatchObject({
      kind: 'kubectl',
      args: [
        'rollout',
        'undo',
        'daemonsets.apps/x',
        '--namespace=ns',
        '--context=c',
        '--kubeconfig=/k',
        '--to-revision=1',
      ],
    });
    expect(parseCommandLine(['rollout', 'history', 'ds', 'x', '--revision', '2'])).toMatchObject({
      args: ['rollout', 'history', 'daemonsets.apps/x', '--revision=2'],
    });
    expect(usageError(['rollout', 'history', 'ds/x', '--revision=two']).message).toContain('revision number');
  });

  it("history and undo of an evds are the plugin's own", () => {
    expect(parseCommandLine(['rollout', 'history', 'evds/x', '-n', 'ns'])).toEqual({
      kind: 'history',
      ref: { kind: 'DaemonSet', group: 'everynode.dev', resource: 'daemonsets.everynode.dev', name: 'x' },
      global: { namespace: 'ns', kubeconfig: undefined, context: undefined },
      revision: 0,
    });
    expect(parseCommandLine(['rollout', 'history', 'evds/x', '--revision=2'])).toMatchObject({ revision: 2 });
    expect(parseCommandLine(['rollout', 'undo', 'evds/x', '--to-revision', '3'])).toMatchObject({
      kind: 'undo',
      toRevision: 3,
      dryRun: 'none',
    });
    expect(parseCommandLine(['rollout', 'undo', 'evds/x', '--dry-run=server'])).toMatchObject({
      dryRun: 'server',
    });
    expect(usageError(['rollout', 'history', 'evds/x', '-o', 'yaml']).message).toContain(
      '--output is not supported for daemonsets.everynode.dev',
    );
    expect(usageError(['rollout', 'undo', 'evds/x', '--dry-run=maybe']).message).toContain('--dry-run');
  });

  it('migrate: the resource, --to, --dry-run, --force and --timeout', () => {
    expect(parseCommandLine(['migrate', 'ds/x', '-n', 'ns'])).toEqual({
      kind: 'migrate',
      ref: { kind: 'DaemonSet', group: 'apps', resource: 'daemonsets.apps', name: 'x' },
      global: { namespace: 'ns', kubeconfig: undefined, context: undefined },
      dryRun: false,
      force: false,
      timeoutMs: 300_000,
    });
    expect(parseCommandLine(['migrate', '--dry-run', 'ds/x'])).toMatchObject({ dryRun: true });
    expect(parseCommandLine(['migrate', 'ds/x', '--dry-run'])).toMatchObject({ dryRun: true });
    expect(
      parseCommandLine([
        'migrate',
        'daemonsets.everynode.dev/x',
        '--to',
        'apps/v1',
        '--force',
        '--timeout=1m',
      ]),
    ).toMatchObject({ ref: { group: 'everynode.dev' }, force: true, timeoutMs: 60_000 });
    expect(parseCommandLine(['migrate', 'ds/x', '--to=everynode.dev/v1alpha1'])).toMatchObject({
      kind: 'migrate',
    });
    expect(usageError(['migrate', 'ds/x', '--to', 'apps/v1']).message).toContain('already apps/v1');
    expect(usageError(['migrate', 'ds/x', '--to', 'v2']).message).toContain('--to');
    expect(usageError(['migrate', 'ds/x', '--partition=1'])).toMatchObject({
      message: 'unknown flag: --partition (not a flag of "migrate")',
      helpCommand: 'kubectl everynode migrate',
    });
    expect(parseCommandLine(['migrate', '--help'])).toMatchObject({
      kind: 'help',
      text: expect.stringContaining('kubectl everynode migrate (TYPE/NAME | TYPE NAME)'),
    });
  });
});
