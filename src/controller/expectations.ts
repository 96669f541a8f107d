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
// everynode: in-place updates are tracked per pod, by UID, with the patch sent. They do not hold
// the DaemonSet's syncs back: until the cache shows a patched pod with its new hash, the planner
// sees the pod as the patch will leave it (projectInPlace), restarting and unavailable, so the
// rolling update counts it against maxUnavailable and never picks it again. A sync can then fill
// the slot a pod frees while patches of earlier syncs are still in flight.

import type { PodInPlaceUpdate } from './types.ts';

/** upstream ExpectationsTimeout. */
export const EXPECTATIONS_TTL_MS = 5 * 60_000;

export interface Expectation {
  /** Creates not yet observed (≤ 0 = none outstanding). */
  adds: number;
  /** Deletes not yet observed. */
  dels: number;
  /** UIDs of the pods whose deletion is still expected. */
  deleteUids: ReadonlySet<string>;
  /** When the expectation was set, ms. */
  timestamp: number;
}

interface MutableExpectation {
  adds: number;
  dels: number;
  deleteUids: Set<string>;
  timestamp: number;
}

interface InFlightUpdate {
  update: PodInPlaceUpdate;
  /** When the patch was planned, ms: after the TTL the cache is trusted again. */
  at: number;
}

export class ControllerExpectations {
  private readonly entries = new Map<string, MutableExpectation>();
  /** In-place patches not yet seen in the cache, per DaemonSet key, by pod UID. */
  private readonly inPlace = new Map<string, Map<string, InFlightUpdate>>();
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
   * True when the controller may create and delete from the cache: no record (first sync, or
   * deleted), all expected creates and deletes observed, or the record expired. In-place
   * updates in flight do not count here (see inPlaceInFlight).
   */
  satisfied(key: string): boolean {
    const e = this.entries.get(key);
    if (!e) return true;
    if (e.adds <= 0 && e.dels <= 0) return true;
    return this.now() - e.timestamp > this.ttlMs;
  }

  /** Replaces the record: `adds` creates and the deletion of the pods with these UIDs are expected. */
  setExpectations(key: string, adds: number, deleteUids: readonly string[]): void {
    const uids = new Set(deleteUids);
    this.entries.set(key, { adds, dels: uids.size, deleteUids: uids, timestamp: this.now() });
  }

  /**
   * These in-place patches are about to be sent: until the cache shows each pod with the patch's
   * hash (or without the pod), inPlaceInFlight returns it. Adds to what earlier syncs sent; a
   * second patch of the same pod replaces the first.
   */
  expectInPlace(key: string, updates: readonly PodInPlaceUpdate[]): void {
    if (updates.length === 0) return;
    let m = this.inPlace.get(key);
    if (!m) this.inPlace.set(key, (m = new Map<string, InFlightUpdate>()));
    const at = this.now();
    for (const update of updates) m.set(update.uid, { update, at });
  }

  /** The in-place patches of `key` sent and not yet observed, by pod UID (expired ones dropped). */
  inPlaceInFlight(key: string): ReadonlyMap<string, PodInPlaceUpdate> {
    const m = this.inPlace.get(key);
    const out = new Map<string, PodInPlaceUpdate>();
    if (!m) return out;
    const now = this.now();
    for (const [uid, { update, at }] of m) {
      if (now - at > this.ttlMs) m.delete(uid);
      else out.set(uid, update);
    }
    if (m.size === 0) this.inPlace.delete(key);
    return out;
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
    const m = this.inPlace.get(key);
    const expected = m?.get(uid)?.update.hash;
    if (expected !== undefined && (hash === undefined || hash === expected)) m!.delete(uid);
  }

  /** Forgets a failed in-place patch; a later patch of the same pod (another sync's) stays. */
  inPlaceFailed(key: string, update: PodInPlaceUpdate): void {
    const m = this.inPlace.get(key);
    if (m?.get(update.uid)?.update === update) m.delete(update.uid);
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
    this.inPlace.delete(key);
  }

  /** Number of keys with a record (for tests and debugging). */
  size(): number {
    return new Set([...this.entries.keys(), ...this.inPlace.keys()]).size;
  }
}
