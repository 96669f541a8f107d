// The template hash that names ControllerRevisions (`<ds>-<hash>`) and labels
// pods (`controller-revision-hash`), after upstream controller.ComputeHash.
//
// Upstream feeds FNV-32a with a Go-specific dump of the typed template
// (hashutil.DeepHashObject). Nothing outside the controller recomputes the hash
// (kubectl only reads revision names and labels), so everynode hashes the
// template's Go-compatible JSON instead: stable, sorted, and the same bytes the
// revision data holds. Everything after that is as upstream: the collision count
// as 8 little-endian bytes, the decimal sum, rand.SafeEncodeString.
import { goJsonMarshal } from './go-json.ts';

const FNV32_OFFSET_BASIS = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;

/** FNV-1a, 32 bit (Go hash/fnv New32a). */
export function fnv32a(bytes: Uint8Array, seed: number = FNV32_OFFSET_BASIS): number {
  let h = seed >>> 0;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, FNV32_PRIME) >>> 0;
  }
  return h;
}

/** k8s.io/apimachinery/pkg/util/rand: consonants and digits that cannot spell bad words. */
const SAFE_ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** rand.SafeEncodeString: each character → SAFE_ALPHANUMS[codePoint % 27]. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (const ch of s) out += SAFE_ALPHANUMS[(ch.codePointAt(0) ?? 0) % SAFE_ALPHANUMS.length];
  return out;
}

/** The revision hash of a pod template (wire JSON) under a DaemonSet's status.collisionCount. */
export function computeHash(template: unknown, collisionCount: number | undefined | null): string {
  let h = fnv32a(new TextEncoder().encode(goJsonMarshal(template ?? {})));
  if (collisionCount !== undefined && collisionCount !== null) {
    // binary.LittleEndian.PutUint32 into an 8-byte slice: bytes 4–7 stay zero.
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(bytes, h);
  }
  return safeEncodeString(String(h));
}
