import { describe, expect, it } from 'vitest';
import { ControllerExpectations, EXPECTATIONS_TTL_MS } from '../../src/controller/expectations.ts';

function setup() {
  let t = 1_000_000;
  const exp = new ControllerExpectations({ now: () => t });
  return { exp, advance: (ms: number) => (t += ms) };
}

describe('ControllerExpectations', () => {
  it('is satisfied for an unknown key', () => {
    expect(setup().exp.satisfied('ns/ds')).toBe(true);
  });

  it('waits for every expected create to be observed', () => {
    const { exp } = setup();
    exp.expectCreations('ns/ds', 2);
    expect(exp.satisfied('ns/ds')).toBe(false);
    exp.creationObserved('ns/ds');
    expect(exp.satisfied('ns/ds')).toBe(false);
    exp.creationObserved('ns/ds');
    expect(exp.satisfied('ns/ds')).toBe(true);
  });

  it('tracks deletes by UID: a pod observed twice counts once, a stranger not at all', () => {
    const { exp } = setup();
    exp.setExpectations('ns/ds', 0, ['a', 'b']);
    exp.deletionObserved('ns/ds', 'a');
    exp.deletionObserved('ns/ds', 'a');
    exp.deletionObserved('ns/ds', 'someone-else');
    expect(exp.get('ns/ds')?.dels).toBe(1);
    expect(exp.satisfied('ns/ds')).toBe(false);
    exp.deletionObserved('ns/ds', 'b');
    expect(exp.satisfied('ns/ds')).toBe(true);
  });

  it('needs both creates and deletes observed', () => {
    const { exp } = setup();
    exp.setExpectations('ns/ds', 1, ['a']);
    exp.creationObserved('ns/ds');
    expect(exp.satisfied('ns/ds')).toBe(false);
    exp.deletionObserved('ns/ds', 'a');
    expect(exp.satisfied('ns/ds')).toBe(true);
  });

  it('lowerExpectations forgets skipped creates and failed deletes', () => {
    const { exp } = setup();
    exp.setExpectations('ns/ds', 7, ['a', 'b']);
    exp.creationObserved('ns/ds'); // batch of 1 succeeded
    exp.lowerExpectations('ns/ds', 6, ['b']); // the rest skipped, b failed to delete
    exp.deletionObserved('ns/ds', 'a');
    expect(exp.satisfied('ns/ds')).toBe(true);
  });

  it('expires after five minutes', () => {
    const { exp, advance } = setup();
    exp.expectCreations('ns/ds', 3);
    advance(EXPECTATIONS_TTL_MS);
    expect(exp.satisfied('ns/ds')).toBe(false);
    advance(1);
    expect(exp.satisfied('ns/ds')).toBe(true);
  });

  it('setExpectations replaces the record and restarts its clock', () => {
    const { exp, advance } = setup();
    exp.expectCreations('ns/ds', 3);
    advance(EXPECTATIONS_TTL_MS + 1);
    exp.expectDeletions('ns/ds', ['x']);
    expect(exp.get('ns/ds')).toMatchObject({ adds: 0, dels: 1 });
    expect(exp.satisfied('ns/ds')).toBe(false);
  });

  it('deleteExpectations drops the key; observations of an unknown key are ignored', () => {
    const { exp } = setup();
    exp.expectCreations('ns/ds', 1);
    exp.deleteExpectations('ns/ds');
    exp.creationObserved('ns/ds');
    expect(exp.get('ns/ds')).toBeUndefined();
    expect(exp.satisfied('ns/ds')).toBe(true);
    expect(exp.size()).toBe(0);
  });
});
