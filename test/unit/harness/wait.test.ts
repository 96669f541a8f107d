import { describe, expect, it } from 'vitest';
import { done, notYet, waitFor, WaitTimeoutError } from '../../harness/wait.ts';

describe('waitFor', () => {
  it('returns the value of the first attempt that is done', async () => {
    let calls = 0;
    const value = await waitFor('the third call', () => (++calls === 3 ? done('ready') : notYet(calls)), {
      intervalMs: 1,
    });
    expect(value).toBe('ready');
    expect(calls).toBe(3);
  });

  it('fails with what was awaited and what was last seen', async () => {
    const failure = waitFor('pod web-0 to be Running', () => notYet({ phase: 'Pending' }), {
      timeoutMs: 20,
      intervalMs: 1,
    });
    await expect(failure).rejects.toBeInstanceOf(WaitTimeoutError);
    await expect(failure).rejects.toThrow(
      /waiting for pod web-0 to be Running; last seen: \{ phase: 'Pending' \}/,
    );
  });

  it('treats a throwing check as not yet, and reports its error as last seen', async () => {
    let calls = 0;
    const value = await waitFor(
      'the object to exist',
      () => {
        if (++calls < 3) throw new Error('not found');
        return done(calls);
      },
      { intervalMs: 1 },
    );
    expect(value).toBe(3);
    await expect(
      waitFor(
        'the object to exist',
        () => {
          throw new Error('not found');
        },
        { timeoutMs: 10, intervalMs: 1 },
      ),
    ).rejects.toThrow(/last seen: Error: not found/);
  });

  it('stops at once with the error abortIf returns', async () => {
    const died = new Error('etcd exited');
    await expect(
      waitFor('etcd to be healthy', () => notYet('no answer'), { abortIf: () => died }),
    ).rejects.toBe(died);
  });
});
