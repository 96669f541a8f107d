import { describe, expect, it } from 'vitest';
import { labelSelectorMatches } from '../../../src/machinery/label-selector.ts';

describe('labelSelectorMatches', () => {
  const labels = { app: 'web', tier: 'front' };

  it('a missing selector matches nothing, an empty one everything', () => {
    expect(labelSelectorMatches(undefined, labels)).toBe(false);
    expect(labelSelectorMatches({}, labels)).toBe(true);
    expect(labelSelectorMatches({}, undefined)).toBe(true);
  });

  it('matchLabels must all be equal', () => {
    expect(labelSelectorMatches({ matchLabels: { app: 'web' } }, labels)).toBe(true);
    expect(labelSelectorMatches({ matchLabels: { app: 'web', tier: 'back' } }, labels)).toBe(false);
    expect(labelSelectorMatches({ matchLabels: { other: '' } }, labels)).toBe(false);
  });

  it.each([
    [{ key: 'app', operator: 'In', values: ['web', 'api'] }, true],
    [{ key: 'app', operator: 'In', values: ['api'] }, false],
    [{ key: 'missing', operator: 'In', values: [''] }, false],
    [{ key: 'app', operator: 'NotIn', values: ['api'] }, true],
    [{ key: 'app', operator: 'NotIn', values: ['web'] }, false],
    [{ key: 'missing', operator: 'NotIn', values: ['x'] }, true],
    [{ key: 'tier', operator: 'Exists' }, true],
    [{ key: 'missing', operator: 'Exists' }, false],
    [{ key: 'missing', operator: 'DoesNotExist' }, true],
    [{ key: 'tier', operator: 'DoesNotExist' }, false],
    [{ key: 'tier', operator: 'Bogus' }, false],
  ])('matchExpressions %j → %s', (expression, expected) => {
    expect(labelSelectorMatches({ matchExpressions: [expression] }, labels)).toBe(expected);
  });

  it('matchLabels and matchExpressions are ANDed', () => {
    const selector = {
      matchLabels: { app: 'web' },
      matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }],
    };
    expect(labelSelectorMatches(selector, labels)).toBe(false);
  });
});
