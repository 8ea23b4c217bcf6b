/** The two time formats of the Kubernetes API. */

/** metav1.Time (status timestamps, conditions' lastTransitionTime): RFC 3339 in whole seconds. */
export function metav1Time(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime (a Lease's renewTime, an Event's eventTime): RFC 3339 with microseconds. */
export function metav1MicroTime(date: Date | number = new Date()): string {
  return new Date(date).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
