import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/tls/duration.ts';

describe('parseDuration (Go time.ParseDuration syntax)', () => {
  it.each([
    ['720h', 720 * 3_600_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['90s', 90_000],
    ['100ms', 100],
    ['1500us', 1.5],
    ['2µs', 0.002],
    ['0', 0],
    ['-1h', -3_600_000],
    ['+10m', 600_000],
    ['1h0m0s', 3_600_000],
  ])('%s is %d ms', (text, millis) => {
    expect(parseDuration(text)).toBeCloseTo(millis, 9);
  });

  it.each(['', '10', '1d', 'h', '1 h', '1h ', '.h', 'abc', '1hh'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration/);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [90 * 86_400_000, '90d'],
    [5_400_000, '1h30m'],
    [86_400_000 + 1000, '1d1s'],
    [-60_000, '-1m'],
  ])('%d ms is %s', (millis, text) => {
    expect(formatDuration(millis)).toBe(text);
  });
});
