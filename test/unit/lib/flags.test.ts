import { describe, expect, it } from 'vitest';
import { FlagError, parseFlags, type FlagSpecs } from '../../../src/lib/flags.ts';

const specs = {
  port: { type: 'integer', default: 9443, min: 0, max: 65535, description: 'port' },
  'cert-file': { type: 'string', required: true, description: 'cert' },
  mode: {
    type: 'string',
    default: 'hostNetwork',
    choices: ['hostNetwork', 'always', 'never'],
    description: 'mode',
  },
  qps: { type: 'number', default: 20, min: 0, description: 'qps' },
  'leader-elect': { type: 'boolean', default: true, description: 'elect' },
  name: { type: 'string', description: 'optional' },
} as const satisfies FlagSpecs;

const parse = (...argv: string[]) => {
  const r = parseFlags(specs, argv, 'prog');
  if (r.help) throw new Error('unexpected help');
  return r.values;
};

describe('parseFlags', () => {
  it('applies defaults', () => {
    expect(parse('--cert-file=/c')).toEqual({
      port: 9443,
      'cert-file': '/c',
      mode: 'hostNetwork',
      qps: 20,
      'leader-elect': true,
      name: undefined,
    });
  });

  it('accepts --flag=value and --flag value, last one wins', () => {
    const v = parse(
      '--port',
      '8443',
      '--cert-file',
      '/a',
      '--mode=always',
      '--qps=2.5',
      '--port=1',
      '--name',
      'x=y',
    );
    expect(v).toMatchObject({ port: 1, 'cert-file': '/a', mode: 'always', qps: 2.5, name: 'x=y' });
  });

  it('takes booleans bare or as =true/=false', () => {
    expect(parse('--cert-file=/c', '--leader-elect=false')['leader-elect']).toBe(false);
    expect(parse('--cert-file=/c', '--leader-elect')['leader-elect']).toBe(true);
    expect(parse('--cert-file=/c', '--leader-elect=0')['leader-elect']).toBe(false);
  });

  it.each([
    [['--cert-file=/c', '--bogus'], 'unknown flag: --bogus'],
    [['--cert-file=/c', '--bogus=1'], 'unknown flag: --bogus'],
    [['--cert-file=/c', '-x'], 'unknown flag: -x'],
    [['--cert-file=/c', 'positional'], 'unexpected argument "positional"'],
    [['--cert-file'], 'flag needs an argument: --cert-file'],
    [[], 'required flag --cert-file not set'],
    [['--cert-file=/c', '--port=abc'], 'invalid argument "abc" for "--port" flag: not an integer'],
    [['--cert-file=/c', '--port=70000'], 'invalid argument "70000" for "--port" flag: above 65535'],
    [['--cert-file=/c', '--port=1.5'], 'not an integer'],
    [['--cert-file=/c', '--mode=sometimes'], 'must be one of hostNetwork|always|never'],
    [['--cert-file=/c', '--qps=-1'], 'below 0'],
    [['--cert-file=/c', '--qps='], 'not a number'],
    [['--cert-file=/c', '--leader-elect=maybe'], 'want true or false'],
  ])('%j → %s', (argv, message) => {
    expect(() => parse(...argv)).toThrow(FlagError);
    expect(() => parse(...argv)).toThrow(message);
  });

  it('returns usage for --help and -h, listing every flag with its default', () => {
    for (const arg of ['--help', '-h']) {
      const r = parseFlags(specs, ['--port=x', arg], 'prog');
      expect(r.help).toBe(true);
      if (!r.help) return;
      expect(r.usage).toContain('Usage: prog [flags]');
      for (const name of Object.keys(specs)) expect(r.usage).toContain(`--${name}`);
      expect(r.usage).toContain('(default 9443)');
      expect(r.usage).toContain('(default "hostNetwork")');
      expect(r.usage).toContain('(required)');
    }
  });
});
