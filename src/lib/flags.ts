// Kubernetes-style command-line flags (`--name=value` or `--name value`) on top of
// node:util parseArgs, typed from a declarative spec, with pflag-like errors.
import { parseArgs } from 'node:util';

export type FlagSpec =
  | { type: 'string'; default: string; description: string; choices?: readonly string[] }
  | {
      type: 'string';
      default?: undefined;
      description: string;
      choices?: readonly string[];
      required?: boolean;
    }
  | { type: 'integer'; default: number; description: string; min?: number; max?: number }
  | { type: 'number'; default: number; description: string; min?: number }
  | { type: 'boolean'; default: boolean; description: string };

export type FlagSpecs = Record<string, FlagSpec>;

/** The parsed values: one property per flag, typed from its spec. */
export type FlagValues<S extends FlagSpecs> = {
  -readonly [K in keyof S]: S[K] extends { type: 'integer' | 'number' }
    ? number
    : S[K] extends { type: 'boolean' }
      ? boolean
      : S[K] extends { type: 'string'; choices: readonly (infer C)[] }
        ? S[K] extends { default: string }
          ? C
          : C | undefined
        : S[K] extends { default: string } | { required: true }
          ? string
          : string | undefined;
};

/** A usage error: the message is meant for the user, like pflag's. */
export class FlagError extends Error {
  override name = 'FlagError';
}

export type ParseResult<S extends FlagSpecs> =
  { help: true; usage: string } | { help: false; values: FlagValues<S> };

const BOOLEAN_WORDS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false };

/**
 * Parses argv (without the node and script paths) against the specs. Throws
 * FlagError on an unknown flag, a missing or malformed value, or a positional
 * argument. `--help`/`-h` returns the usage text instead of values.
 */
export function parseFlags<S extends FlagSpecs>(
  specs: S,
  argv: readonly string[],
  program: string,
): ParseResult<S> {
  // parseArgs treats booleans as valueless; pflag also accepts `--flag=false`, so
  // strip an inline value from boolean flags before handing argv over.
  const inlineBooleans = new Map<string, boolean>();
  const args: string[] = [];
  for (const arg of argv) {
    const m = /^--([^=]+)=(.*)$/s.exec(arg);
    const spec = m ? specs[m[1]!] : undefined;
    if (m && spec?.type === 'boolean') {
      const v = BOOLEAN_WORDS[m[2]!.toLowerCase()];
      if (v === undefined)
        throw new FlagError(`invalid argument "${m[2]}" for "--${m[1]}" flag: want true or false`);
      inlineBooleans.set(m[1]!, v);
      continue;
    }
    args.push(arg);
  }

  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, spec] of Object.entries(specs))
    options[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string' };

  // strict:false plus tokens lets us word the errors ourselves.
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const raw = new Map<string, string | boolean>(inlineBooleans);
  for (const token of tokens) {
    if (token.kind === 'positional') throw new FlagError(`unexpected argument "${token.value}"`);
    if (token.kind === 'option-terminator') continue;
    if (token.name === 'help') return { help: true, usage: usage(specs, program) };
    const spec = specs[token.name];
    if (!spec) throw new FlagError(`unknown flag: ${token.rawName}`);
    if (spec.type === 'boolean') {
      raw.set(token.name, true);
    } else {
      if (token.value === undefined) throw new FlagError(`flag needs an argument: ${token.rawName}`);
      raw.set(token.name, token.value);
    }
  }

  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const given = raw.get(name);
    if (given === undefined) {
      if (spec.type === 'string' && 'required' in spec && spec.required)
        throw new FlagError(`required flag --${name} not set`);
      values[name] = spec.default;
      continue;
    }
    values[name] = convert(name, spec, given);
  }
  return { help: false, values: values as FlagValues<S> };
}

function convert(name: string, spec: FlagSpec, given: string | boolean): unknown {
  switch (spec.type) {
    case 'boolean':
      return given;
    case 'string': {
      const s = String(given);
      if (spec.choices && !spec.choices.includes(s)) {
        throw new FlagError(
          `invalid argument "${s}" for "--${name}" flag: must be one of ${spec.choices.join('|')}`,
        );
      }
      return s;
    }
    case 'integer': {
      const s = String(given);
      const n = Number(s);
      if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(n)) {
        throw new FlagError(`invalid argument "${s}" for "--${name}" flag: not an integer`);
      }
      if (spec.min !== undefined && n < spec.min)
        throw new FlagError(`invalid argument "${s}" for "--${name}" flag: below ${spec.min}`);
      if (spec.max !== undefined && n > spec.max)
        throw new FlagError(`invalid argument "${s}" for "--${name}" flag: above ${spec.max}`);
      return n;
    }
    case 'number': {
      const s = String(given);
      const n = Number(s);
      if (s.trim() === '' || !Number.isFinite(n))
        throw new FlagError(`invalid argument "${s}" for "--${name}" flag: not a number`);
      if (spec.min !== undefined && n < spec.min)
        throw new FlagError(`invalid argument "${s}" for "--${name}" flag: below ${spec.min}`);
      return n;
    }
  }
}

/** The --help text: one line per flag with its type, default and description. */
export function usage(specs: FlagSpecs, program: string): string {
  const lines = [`Usage: ${program} [flags]`, '', 'Flags:'];
  const rows: [string, string][] = Object.entries(specs).map(([name, spec]) => {
    const kind =
      spec.type === 'boolean'
        ? ''
        : spec.type === 'string' && spec.choices
          ? ` ${spec.choices.join('|')}`
          : ` ${spec.type}`;
    const def =
      spec.default === undefined || spec.default === ''
        ? ''
        : ` (default ${typeof spec.default === 'string' ? `"${spec.default}"` : String(spec.default)})`;
    const required = 'required' in spec && spec.required ? ' (required)' : '';
    return [`  --${name}${kind}`, `${spec.description}${def}${required}`];
  });
  rows.push(['  -h, --help', 'Show this help and exit.']);
  const width = Math.max(...rows.map(([l]) => l.length)) + 3;
  for (const [left, right] of rows) lines.push(left.padEnd(width) + right);
  return lines.join('\n') + '\n';
}

/**
 * parseFlags for a main(): prints the usage and exits 0 on --help; prints the
 * error and exits 2 (pflag's usage-error code) on a bad command line.
 */
export function parseFlagsOrExit<S extends FlagSpecs>(
  specs: S,
  argv: readonly string[],
  program: string,
): FlagValues<S> {
  try {
    const result = parseFlags(specs, argv, program);
    if (result.help) {
      process.stdout.write(result.usage);
      process.exit(0);
    }
    return result.values;
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`Error: ${err.message}\n${usage(specs, program)}`);
    process.exit(2);
  }
}
