// Go duration strings ("720h", "1h30m", "90s"), the unit Kubernetes users already
// write for cert-manager and for kube-* flags, so the chart's TLS values read the same.
// Hand-written because the grammar is tiny and no well-kept npm package parses
// exactly Go's syntax (ms/"µs"/"us"/"ns" units, fractions, no spaces, no days).

const UNIT_MILLIS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds in a Go duration string (time.ParseDuration syntax). Throws on anything else. */
export function parseDuration(text: string): number {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s.startsWith('-')) sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error(`invalid duration "${text}"`);
  let total = 0;
  const term = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/y;
  while (term.lastIndex < s.length) {
    const m = term.exec(s);
    if (!m || m[1] === '' || m[1] === '.') {
      throw new Error(`invalid duration "${text}": want a Go duration such as 720h, 1h30m or 90s`);
    }
    total += Number(m[1]) * UNIT_MILLIS[m[2]!]!;
  }
  return sign * total;
}

/** A short human rendering for logs and events, e.g. "90d" or "1h30m". */
export function formatDuration(millis: number): string {
  if (millis < 0) return `-${formatDuration(-millis)}`;
  const days = Math.floor(millis / 86_400_000);
  const hours = Math.floor((millis % 86_400_000) / 3_600_000);
  const minutes = Math.floor((millis % 3_600_000) / 60_000);
  const seconds = Math.round((millis % 60_000) / 1000);
  const parts: string[] = [];
  if (days) parts.push(`${days}d`);
  if (hours) parts.push(`${hours}h`);
  if (minutes) parts.push(`${minutes}m`);
  if (seconds || parts.length === 0) parts.push(`${seconds}s`);
  return parts.join('');
}
