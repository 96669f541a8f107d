// metav1.LabelSelector matching (apimachinery LabelSelectorAsSelector +
// Matches): matchLabels and matchExpressions are ANDed; In / NotIn / Exists /
// DoesNotExist. A nil selector matches nothing and an empty one everything, as
// upstream's conversion does. Hand-written: a dozen lines, and no maintained
// npm package implements metav1.LabelSelector semantics.
import type { V1LabelSelector } from '@kubernetes/client-node';

export function labelSelectorMatches(
  selector: V1LabelSelector | undefined | null,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (l[k] !== v) return false;
  }
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(l[e.key] ?? '')) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(l[e.key] ?? '')) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        // An invalid operator makes the selector unusable; upstream treats that as matching nothing.
        return false;
    }
  }
  return true;
}

/** `matchLabels` as a `labelSelector` query string (for list/watch). */
export const labelsToSelectorString = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
