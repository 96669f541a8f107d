import { describe, expect, it } from 'vitest';
import { computeHash, fnv32a, safeEncodeString } from '../../../src/controller/hash.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('fnv32a', () => {
  it.each([
    // The published FNV-1a 32-bit test vectors (offset basis for the empty input).
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ])('%j → %d', (input, expected) => {
    expect(fnv32a(utf8(input))).toBe(expected);
  });
});

describe('safeEncodeString', () => {
  it('maps each digit through bcdfghjklmnpqrstvwxz2456789 at charCode % 27', () => {
    // '0'..'9' are 48..57; 48 % 27 = 21 → '4', …, 53 % 27 = 26 → '9', 54 % 27 = 0 → 'b', …, 57 % 27 = 3 → 'f'.
    expect(safeEncodeString('0123456789')).toBe('456789bcdf');
  });
});

describe('computeHash', () => {
  it('encodes the FNV-32a of the template JSON in decimal, then safely', () => {
    // FNV-32a("{}") = 1415952421 → "1415952421" → 5 8 5 9 f 9 6 8 6 5.
    expect(computeHash({}, undefined)).toBe('5859f96865');
  });

  it('appends the collision count as 8 little-endian bytes', () => {
    // FNV-32a("{}" ++ 03 00 00 00 00 00 00 00) = 886626022 → d d b b 6 b 4 6 6.
    expect(computeHash({}, 3)).toBe('ddbb6b466');
    expect(computeHash({}, 0)).not.toBe(computeHash({}, undefined));
  });

  it('depends on the template content, not on key order', () => {
    const a = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i:1' }] } };
    const b = { spec: { containers: [{ image: 'i:1', name: 'c' }] }, metadata: { labels: { app: 'x' } } };
    expect(computeHash(a, undefined)).toBe(computeHash(b, undefined));
    expect(computeHash(a, undefined)).not.toBe(
      computeHash({ ...a, spec: { containers: [{ name: 'c', image: 'i:2' }] } }, undefined),
    );
  });
});
