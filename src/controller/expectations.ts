// upstream ControllerExpectations (pkg/controller/controller_utils.go): before
// creating or deleting pods for a DaemonSet the controller records how many
// adds and deletes it expects to see in the informer cache; until they have been
// observed (or 5 minutes passed) the DaemonSet's pods are not trusted for
// create/delete decisions, so a lagging cache never causes duplicates.
//
// Deletes are tracked by pod UID, as UIDTrackingControllerExpectations does:
// a pod observed twice (its deletionTimestamp update, then its delete event)
// only counts once, and a pod we did not delete does not count at all.
//
// everynode: in-place updates are tracked by pod UID and the revision hash the patch gave the
// pod. Until the cache shows each patched pod with its new hash, the rolling update would still
// see it as an available old pod and pick another one: more restarting at once than
// maxUnavailable allows.

/** upstream ExpectationsTimeout. */
export const EXPECTATIONS_TTL_MS = 5 * 60_000;

export interface Expectation {
  /** Creates not yet observed (≤ 0 = none outstanding). */
  adds: number;
  /** Deletes not yet observed. */
  dels: number;
  /** UIDs of the pods whose deletion is still expected. */
  deleteUids: ReadonlySet<string>;
  /** Pods patched in place, by UID, with the revision hash the cache must show. */
  updates: ReadonlyMap<string, string>;
  /** When the expectation was set, ms. */
  timestamp: number;
}

interface MutableExpectation {
  adds: number;
  dels: number;
  deleteUids: Set<string>;
  updates: Map<string, string>;
  timestamp: number;
}

export class ControllerExpectations {
  private readonly entries = new Map<string, MutableExpectation>();
  private readonly now: () => number;
  private readonly ttlMs: number;

  constructor(options: { now?: () => number; ttlMs?: number } = {}) {
    this.now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? EXPECTATIONS_TTL_MS;
  }

  get(key: string): Expectation | undefined {
    return this.entries.get(key);
  }

  /**
   * True when the controller may act on the cache: no record (first sync, or
   * deleted), all expected events observed, or the record expired.
   */
  satisfied(key: string): boolean {
    const e = this.entries.get(key);
    if (!e) return true;
    if (e.adds <= 0 && e.dels <= 0 && e.updates.size === 0) return true;
    return this.now() - e.timestamp > this.ttlMs;
  }

  /**
   * Replaces the record: `adds` creates, the deletion of the pods with these UIDs and the pods
   * updated in place (UID → new revision hash) are expected.
   */
  setExpectations(
    key: string,
    adds: number,
    deleteUids: readonly string[],
    updates: ReadonlyMap<string, string> = new Map(),
  ): void {
    const uids = new Set(deleteUids);
    this.entries.set(key, {
      adds,
      dels: uids.size,
      deleteUids: uids,
      updates: new Map(updates),
      timestamp: this.now(),
    });
  }

  expectCreations(key: string, adds: number): void {
    this.setExpectations(key, adds, []);
  }

  expectDeletions(key: string, deleteUids: readonly string[]): void {
    this.setExpectations(key, 0, deleteUids);
  }

  /** A pod created by this controller appeared in the cache. */
  creationObserved(key: string): void {
    this.lowerExpectations(key, 1, []);
  }

  /** A pod went away (or started terminating); counts only if we expected its deletion. */
  deletionObserved(key: string, uid: string): void {
    this.lowerExpectations(key, 0, [uid]);
  }

  /**
   * A pod was seen (updated, or gone): an expected in-place update is observed once the pod
   * carries the expected hash, or is deleted (`hash` undefined).
   */
  updateObserved(key: string, uid: string, hash: string | undefined): void {
    const e = this.entries.get(key);
    if (!e) return;
    const expected = e.updates.get(uid);
    if (expected !== undefined && (hash === undefined || hash === expected)) e.updates.delete(uid);
  }

  /** Forgets expected in-place updates (failed patches). */
  lowerUpdates(key: string, uids: readonly string[]): void {
    const e = this.entries.get(key);
    if (!e) return;
    for (const uid of uids) e.updates.delete(uid);
  }

  /** Forgets `adds` creates and the given expected deletions (skipped or failed calls). */
  lowerExpectations(key: string, adds: number, deleteUids: readonly string[]): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.adds -= adds;
    for (const uid of deleteUids) {
      if (e.deleteUids.delete(uid)) e.dels -= 1;
    }
  }

  /** The DaemonSet is gone: drop its record. */
  deleteExpectations(key: string): void {
    this.entries.delete(key);
  }

  /** Number of keys with a record (for tests and debugging). */
  size(): number {
    return this.entries.size;
  }
}
