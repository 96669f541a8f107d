// The Go-compatible encoder behind ControllerRevision data. Each expected
// string is derived from a rule of Go 1.26 src/encoding/json/encode.go (cited
// per case); they were also checked against `json.Marshal` of the same input
// decoded into interface{} with Go 1.26.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareUtf8, goJsonMarshal, goJsonNumber, goJsonString } from '../../../src/controller/go-json.ts';

describe('goJsonString (appendString with escapeHTML=true)', () => {
  it.each([
    // htmlSafeSet excludes <, > and &: json.Marshal escapes them as \u00XX with lowercase hex.
    ['<a href="x">&amp;</a>', '"\\u003ca href=\\"x\\"\\u003e\\u0026amp;\\u003c/a\\u003e"'],
    // U+2028/U+2029 are escaped unconditionally (JSONP safety); `hex[c&0xF]` gives the last digit.
    ['\u2028\u2029', '"\\u2028\\u2029"'],
    // Go >= 1.22 writes the short escapes for \b and \f as well as \n, \r, \t.
    ['\b\f\n\r\t', '"\\b\\f\\n\\r\\t"'],
    // Other bytes below 0x20 become \u00XX; DEL (0x7f) is in the safe set and stays raw.
    ['\u0000\u0001\u001f\u007f', '"\\u0000\\u0001\\u001f\u007f"'],
    // Only `"` and `\` get a backslash; `/` is not escaped.
    ['quote" backslash\\ slash/', '"quote\\" backslash\\\\ slash/"'],
    // Valid non-ASCII UTF-8 (2, 3 and 4 bytes) is copied raw.
    ['é日本🙂', '"é日本🙂"'],
    // Go decoded the invalid `\ud800` escape JSON.parse leaves as a lone surrogate into U+FFFD, which it writes raw.
    ['\ud800x', '"\uFFFDx"'],
    ['', '""'],
  ])('%j', (input, expected) => {
    expect(goJsonString(input)).toBe(expected);
  });
});

describe('goJsonNumber (floatEncoder, bits=64)', () => {
  it.each([
    // Integral values print without exponent or fraction ('f' format, shortest digits).
    [0, '0'],
    [100, '100'],
    // Go keeps the sign of negative zero; JSON.stringify would write 0.
    [-0, '-0'],
    // abs >= 1e21 switches to 'e' format; the positive exponent keeps its sign and is not padded.
    [1e21, '1e+21'],
    [1e100, '1e+100'],
    // Just below the cut-off: 'f' format with the shortest digits that round-trip, then zeros.
    [1e20, '100000000000000000000'],
    // (The source text 123456789012345678901 decodes to this float64.)
    [JSON.parse('123456789012345678901') as number, '123456789012345680000'],
    // abs < 1e-6 switches to 'e'; Go's cleanup turns e-07 into e-7.
    [1e-7, '1e-7'],
    [-2.5e-10, '-2.5e-10'],
    // 1e-6 itself is still 'f'.
    [0.000001, '0.000001'],
    [1.5, '1.5'],
    [0.1, '0.1'],
    // float64 cannot hold 2^53+1: Go decodes it to 9007199254740992 just as JSON.parse does.
    [JSON.parse('9007199254740993') as number, '9007199254740992'],
  ])('%d → %s', (input, expected) => {
    expect(goJsonNumber(input)).toBe(expected);
  });

  it('rejects what Go cannot encode (UnsupportedValueError)', () => {
    expect(() => goJsonNumber(Number.NaN)).toThrow(RangeError);
    expect(() => goJsonNumber(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe('goJsonMarshal', () => {
  it('sorts map keys by their UTF-8 bytes, unlike JS insertion or UTF-16 order', () => {
    // Byte order: '-'(2d) < '1'(31) < '9'(39) < 'B'(42) < 'a'(61) < 'b'(62) < 'é'(c3 a9) < U+FFFF(ef bf bf) < '🙂'(f0 9f 99 82).
    // A JS object would list the integer-like keys "9" and "10" first, numerically; UTF-16 order would put 🙂 (d83d) before U+FFFF.
    const input = JSON.parse('{"b":1,"a":2,"B":3,"10":4,"9":5,"-x":6,"é":7,"\\uffff":8,"🙂":9}') as unknown;
    expect(goJsonMarshal(input)).toBe('{"-x":6,"10":4,"9":5,"B":3,"a":2,"b":1,"é":7,"\uffff":8,"🙂":9}');
  });

  it('escapes keys like strings and writes nested values compactly', () => {
    const input = JSON.parse('{"<k>":{"z":[],"y":{}},"a":[true,false,null]}') as unknown;
    expect(goJsonMarshal(input)).toBe('{"\\u003ck\\u003e":{"y":{},"z":[]},"a":[true,false,null]}');
  });

  it('writes arrays in order and numbers in Go form inside them', () => {
    const input = JSON.parse('[0,-0,1e21,1e-7,1.5]') as unknown;
    expect(goJsonMarshal(input)).toBe('[0,-0,1e+21,1e-7,1.5]');
  });

  it('encodes an empty object, empty array and null', () => {
    expect(goJsonMarshal({})).toBe('{}');
    expect(goJsonMarshal([])).toBe('[]');
    expect(goJsonMarshal(null)).toBe('null');
  });

  it('round-trips: parsing the output gives the input back (for JSON.parse results)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const decoded = JSON.parse(goJsonMarshal(value)) as unknown;
        // -0 is the one value JSON.parse keeps and Object.is-equality distinguishes; toEqual treats it like 0.
        expect(decoded).toEqual(value);
      }),
    );
  });

  it('is canonical: the key order of the input does not matter', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.integer()), (dict) => {
        const reversed = Object.fromEntries(Object.entries(dict).reverse());
        expect(goJsonMarshal(reversed)).toBe(goJsonMarshal(dict));
      }),
    );
  });
});

describe('compareUtf8', () => {
  it('agrees with comparing the UTF-8 bytes', () => {
    const bytes = (s: string) => Buffer.from(s, 'utf8');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(Math.sign(compareUtf8(a, b))).toBe(Math.sign(Buffer.compare(bytes(a), bytes(b))));
      }),
    );
  });
});
