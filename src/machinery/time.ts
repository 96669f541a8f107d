// Kubernetes wire timestamps, the one place they are formatted: metav1.MicroTime
// (Lease acquireTime/renewTime, Event eventTime) and metav1.Time (Event
// first/lastTimestamp), as apimachinery's MarshalJSON writes them.

/** metav1.MicroTime's wire format: RFC 3339 with microseconds (Date has milliseconds, so the last three digits are 0). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** metav1.Time's wire format: RFC 3339 with whole seconds. */
export function wireTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}
