// ControllerRevision history, after upstream's update_test.go (TestDedupCurHistories,
// snapshot/collision behaviour, TestCleanupHistory-like cases) and the exact
// `data` bytes of getPatch.
import { readFileSync } from 'node:fs';
import type { V1ControllerRevision, V1DaemonSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  cleanupHistory,
  constructHistory,
  getPatch,
  matchesRevision,
  revisionData,
} from '../../../src/controller/history.ts';
import { computeHash } from '../../../src/controller/hash.ts';
import { daemonSet, pod, setImage } from './fixtures.ts';

const testdata = (name: string) => readFileSync(new URL(`testdata/${name}`, import.meta.url), 'utf8');

/** A revision of `ds` as upstream (or everynode) stored it. */
function revisionOf(ds: V1DaemonSet, revision: number, opts: { name?: string; hash?: string | null } = {}) {
  const hash = opts.hash === undefined ? computeHash(ds.spec!.template, undefined) : opts.hash;
  const labels: Record<string, string> = { ...ds.spec!.template.metadata!.labels };
  if (hash !== null) labels['controller-revision-hash'] = hash;
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: opts.name ?? `${ds.metadata!.name}-${hash ?? 'nolabel'}`,
      namespace: 'default',
      labels,
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'foo', uid: ds.metadata!.uid!, controller: true },
      ],
    },
    data: JSON.parse(getPatch(ds)) as object,
    revision,
  } satisfies V1ControllerRevision;
}

const templateV = (image: string) => {
  const ds = daemonSet();
  ds.spec!.template.spec!.containers[0]!.image = image;
  return ds;
};

describe('getPatch', () => {
  it('is byte-identical to upstream getPatch for a DaemonSet as served', () => {
    // Recorded vector: testdata/daemonset-wire.json is a DaemonSet as Go's json.Marshal of apps/v1.DaemonSet
    // serves it (k8s.io/api v0.37.2); the expected bytes are what upstream's getPatch (update.go), compiled with
    // Go 1.26, wrote for it. It has HTML characters, \b, \f, \t, U+2028, emoji, integer-like label keys and
    // an IntOrString port, each of which JSON.stringify would write differently.
    const ds = JSON.parse(testdata('daemonset-wire.json')) as V1DaemonSet;
    expect(getPatch(ds)).toBe(testdata('daemonset-getpatch.txt'));
  });

  it('replaces the whole template: $patch comes first, then the template keys in byte order', () => {
    expect(getPatch(daemonSet())).toMatch(
      /^\{"spec":\{"template":\{"\$patch":"replace","metadata":\{"labels":/,
    );
    expect(getPatch(daemonSet()).endsWith('"terminationGracePeriodSeconds":30}}}}')).toBe(true);
  });

  it('a stored revision matches its template and no other', () => {
    const rev = revisionOf(templateV('a:1'), 1);
    expect(matchesRevision(getPatch(templateV('a:1')), rev)).toBe(true);
    expect(matchesRevision(getPatch(templateV('a:2')), rev)).toBe(false);
  });
});

describe('constructHistory', () => {
  it('snapshots the first revision: <ds>-<hash>, template labels + hash, the DaemonSet annotations, controller ref', () => {
    const ds = daemonSet();
    ds.metadata!.annotations!['kubernetes.io/change-cause'] = 'initial';
    const { history, hash, old } = constructHistory(ds, [], []);
    expect(hash).toBe(computeHash(ds.spec!.template, undefined));
    expect(old).toEqual([]);
    expect(history.current).toEqual({ name: `foo-${hash}`, hash });
    expect(history.create).toEqual({
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: {
        name: `foo-${hash}`,
        namespace: 'default',
        labels: { name: 'simple-daemon', type: 'production', 'controller-revision-hash': hash },
        annotations: {
          'deprecated.daemonset.template.generation': '1',
          'kubernetes.io/change-cause': 'initial',
        },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'DaemonSet',
            name: 'foo',
            uid: 'ds-uid-foo',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      data: JSON.parse(getPatch(ds)) as object,
      revision: 1,
    });
    expect(history.renumber).toEqual([]);
    expect(history.collision).toBe(false);
  });

  it('gives the executor a POST body whose data bytes are exactly getPatch', () => {
    const ds = JSON.parse(testdata('daemonset-wire.json')) as V1DaemonSet;
    const { history } = constructHistory(ds, [], []);
    const body = history.createBody!;
    expect(body).toContain(`,"data":${testdata('daemonset-getpatch.txt')},"revision":1}`);
    expect(JSON.parse(body)).toEqual(JSON.parse(JSON.stringify(history.create)));
  });

  it('uses the collision count in the hash', () => {
    const ds = daemonSet();
    ds.status!.collisionCount = 2;
    expect(constructHistory(ds, [], []).hash).toBe(computeHash(ds.spec!.template, 2));
  });

  it('keeps the matching revision when it is already the newest', () => {
    const older = revisionOf(templateV('a:1'), 1);
    const current = revisionOf(templateV('a:2'), 2);
    const { history, hash, old } = constructHistory(templateV('a:2'), [older, current], []);
    expect(history.current).toEqual({
      name: current.metadata.name,
      hash: current.metadata.labels['controller-revision-hash'],
    });
    expect(hash).toBe(current.metadata.labels['controller-revision-hash']);
    expect(history.create).toBeUndefined();
    expect(history.renumber).toEqual([]);
    expect(old.map((r) => r.metadata?.name)).toEqual([older.metadata.name]);
  });

  it('snapshots revision max(old)+1 for a new template', () => {
    const revs = [revisionOf(templateV('a:1'), 1), revisionOf(templateV('a:2'), 4)];
    const { history } = constructHistory(templateV('a:3'), revs, []);
    expect(history.create?.revision).toBe(5);
  });

  it('rolls back by reusing the earlier revision, renumbered as the newest, with its own hash', () => {
    const first = revisionOf(templateV('a:1'), 1);
    const second = revisionOf(templateV('a:2'), 2);
    const { history, hash } = constructHistory(templateV('a:1'), [first, second], []);
    expect(history.create).toBeUndefined();
    expect(history.renumber).toEqual([{ name: first.metadata.name, revision: 3 }]);
    expect(hash).toBe(first.metadata.labels['controller-revision-hash']);
  });

  it('deduplicates current revisions: keeps the highest, relabels pods to it, deletes the rest (TestDedupCurHistories)', () => {
    const ds = templateV('a:1');
    const dupLow = revisionOf(ds, 2, { name: 'foo-dup-low', hash: 'hash-low' });
    const dupHigh = revisionOf(ds, 3, { name: 'foo-dup-high', hash: 'hash-high' });
    const older = revisionOf(templateV('a:0'), 1);
    const onLow = pod(ds, 'node-0', { hash: 'hash-low' });
    const onHigh = pod(ds, 'node-1', { hash: 'hash-high' });
    const { history, hash } = constructHistory(ds, [dupLow, older, dupHigh], [onLow, onHigh]);
    expect(hash).toBe('hash-high');
    expect(history.current).toEqual({ name: 'foo-dup-high', hash: 'hash-high' });
    expect(history.relabelPods).toEqual([{ name: onLow.metadata!.name, hash: 'hash-high' }]);
    expect(history.deleteDuplicates).toEqual(['foo-dup-low']);
    expect(history.renumber).toEqual([]);
  });

  it('labels a revision missing the hash label with its own name, and uses that as the hash', () => {
    const legacy = revisionOf(templateV('a:1'), 1, { name: 'foo-legacy', hash: null });
    const { history, hash } = constructHistory(templateV('a:1'), [legacy], []);
    expect(history.labelHash).toEqual([{ name: 'foo-legacy', hash: 'foo-legacy' }]);
    expect(hash).toBe('foo-legacy');
  });

  it('reports a hash collision when <ds>-<hash> exists with other data', () => {
    const ds = templateV('a:2');
    const hash = computeHash(ds.spec!.template, undefined);
    // A revision that took this name for another template (what a hash collision looks like).
    const squatter = revisionOf(templateV('a:1'), 1, { name: `foo-${hash}`, hash });
    const { history } = constructHistory(ds, [squatter], []);
    expect(history.collision).toBe(true);
    expect(history.create).toBeUndefined();
  });

  it('re-encodes stored data the Go way, so key order in the parsed object does not matter', () => {
    const rev = revisionOf(templateV('a:1'), 1);
    const reverseKeys = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reverseKeys)
        : v !== null && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reverseKeys(x)]),
            )
          : v;
    const reordered = { ...rev, data: reverseKeys(rev.data) as object };
    expect(JSON.stringify(reordered.data)).not.toBe(JSON.stringify(rev.data));
    expect(revisionData(reordered)).toBe(getPatch(templateV('a:1')));
  });
});

describe('cleanupHistory', () => {
  const ds = daemonSet();
  ds.spec!.revisionHistoryLimit = 2;
  const old = [1, 2, 3, 4, 5].map((n) =>
    revisionOf(templateV(`a:${n}`), n, { name: `foo-r${n}`, hash: `h${n}` }),
  );

  it('deletes the oldest revisions beyond the limit', () => {
    expect(cleanupHistory(ds, old, [])).toEqual(['foo-r1', 'foo-r2', 'foo-r3']);
  });

  it('spares revisions a pod still uses, even a terminal or terminating one, and deletes the next oldest instead', () => {
    const pods = [
      pod(ds, 'node-0', { hash: 'h1', phase: 'Failed', deleting: true }),
      pod(ds, 'node-1', { hash: 'h3' }),
    ];
    expect(cleanupHistory(ds, old, pods)).toEqual(['foo-r2', 'foo-r4', 'foo-r5']);
  });

  it('keeps everything within the limit (default 10)', () => {
    const unlimited = daemonSet();
    delete unlimited.spec!.revisionHistoryLimit;
    expect(cleanupHistory(unlimited, old, [])).toEqual([]);
  });

  it('runs as part of a sync', () => {
    const d = daemonSet();
    d.spec!.revisionHistoryLimit = 1;
    const revs = [1, 2, 3].map((n) =>
      revisionOf(templateV(`a:${n}`), n, { name: `foo-r${n}`, hash: `h${n}` }),
    );
    setImage(d, 'a:9');
    const { history } = constructHistory(d, revs, []);
    expect(history.create?.revision).toBe(4);
    expect(cleanupHistory(d, revs, [])).toEqual(['foo-r1', 'foo-r2']);
  });
});
