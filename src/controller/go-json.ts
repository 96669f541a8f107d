// Go encoding/json, as far as ControllerRevision data needs it.
//
// Upstream stores a DaemonSet's template in ControllerRevision.data as
// `json.Marshal(map[string]interface{})` of the template, and kubectl compares
// those bytes with `bytes.Equal`. To produce the same bytes from the wire JSON
// we have (what JSON.parse gives), we must serialise like Go's encoder does for
// generic values. No npm library does that (canonical-JSON packages follow RFC
// 8785: UTF-16 key order, no HTML escapes, different number rules), hence this
// small hand-written encoder. Rules, from Go 1.26 src/encoding/json/encode.go:
//
// - objects (Go maps): keys sorted by byte-wise comparison of their UTF-8 forms
//   (`strings.Compare`), written compactly as `{"k":v,...}`;
// - strings (`appendString` with escapeHTML=true, the json.Marshal default):
//   `"` and `\` get a backslash; \b \f \n \r \t use their short escapes (Go ≥ 1.22;
//   earlier versions wrote \u0008 and \u000c); every other byte below 0x20 and
//   `<` `>` `&` become \u00XX with lowercase hex; U+2028 and U+2029 become
//   \u2028 and \u2029; everything else, DEL and non-ASCII included, is written raw;
// - numbers (float64, since Go decodes generic JSON numbers as float64): the ES6
//   Number-to-string conversion (shortest round-trip digits, exponent form below
//   1e-6 and from 1e21 on, `e-7` not `e-07`), except that Go keeps the sign of
//   negative zero ("-0"); NaN and ±Inf are errors;
// - true, false, null as such.

/** Go writes this for a string it cannot encode as UTF-8; JS strings only fail that way through lone surrogates. */
const REPLACEMENT_CHARACTER = '\uFFFD';
const HEX = '0123456789abcdef';

/** The bytes (as a JS string) Go's json.Marshal writes for a value decoded into interface{}. */
export function goJsonMarshal(value: unknown): string {
  const out: string[] = [];
  writeValue(out, value);
  return out.join('');
}

function writeValue(out: string[], value: unknown): void {
  if (value === null || value === undefined) {
    out.push('null');
  } else if (typeof value === 'string') {
    out.push(goJsonString(value));
  } else if (typeof value === 'number') {
    out.push(goJsonNumber(value));
  } else if (typeof value === 'boolean') {
    out.push(value ? 'true' : 'false');
  } else if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (i > 0) out.push(',');
      writeValue(out, item);
    });
    out.push(']');
  } else if (typeof value === 'object') {
    // Properties holding `undefined` cannot come from JSON.parse; skip them like JSON.stringify does.
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => compareUtf8(a, b));
    out.push('{');
    entries.forEach(([key, item], i) => {
      if (i > 0) out.push(',');
      out.push(goJsonString(key), ':');
      writeValue(out, item);
    });
    out.push('}');
  } else {
    throw new TypeError(`json: unsupported type: ${typeof value}`);
  }
}

/** A JSON string literal exactly as Go's appendString(…, escapeHTML=true) writes it. */
export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) {
      out += escapeAscii(ch, cp);
    } else if (cp >= 0xd800 && cp <= 0xdfff) {
      // A lone surrogate: Go's decoder turned the `\udXXX` escape it came from into U+FFFD.
      out += REPLACEMENT_CHARACTER;
    } else if (cp === 0x2028 || cp === 0x2029) {
      out += `\\u${cp.toString(16)}`;
    } else {
      out += ch;
    }
  }
  return out + '"';
}

function escapeAscii(ch: string, cp: number): string {
  switch (ch) {
    case '"':
    case '\\':
      return '\\' + ch;
    case '\b':
      return '\\b';
    case '\f':
      return '\\f';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    case '<':
    case '>':
    case '&':
      return `\\u00${HEX[cp >> 4]}${HEX[cp & 0xf]}`;
    default:
      return cp < 0x20 ? `\\u00${HEX[cp >> 4]}${HEX[cp & 0xf]}` : ch;
  }
}

/** A float64 as Go's floatEncoder writes it. */
export function goJsonNumber(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`json: unsupported value: ${n}`);
  // ES6 Number::toString already uses shortest digits, the 1e-6/1e21 cut-offs and
  // unpadded exponents; Go differs only in printing negative zero with its sign.
  if (Object.is(n, -0)) return '-0';
  return String(n);
}

/**
 * Byte-wise comparison of the UTF-8 encodings of two strings (Go's strings.Compare).
 * UTF-8 preserves code point order, so comparing code points is enough; plain JS
 * `<` compares UTF-16 code units, which puts U+E000–U+FFFF after the astral planes.
 */
export function compareUtf8(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const ca = ia.next();
    const cb = ib.next();
    if (ca.done) return cb.done ? 0 : -1;
    if (cb.done) return 1;
    const pa = utf8CodePoint(ca.value);
    const pb = utf8CodePoint(cb.value);
    if (pa !== pb) return pa < pb ? -1 : 1;
  }
}

/** The code point a character is written as in UTF-8 (a lone surrogate becomes U+FFFD). */
function utf8CodePoint(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  return cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp;
}
