/**
 * Status conditions, per DESIGN.md's status contract: every kind has `Ready` (kstatus
 * compatible) and `Synced` (did the last reconcile succeed, and if not, why), each carrying
 * the generation it describes. `lastTransitionTime` moves only when the status flips.
 */
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface StatusWithConditions {
  observedGeneration?: number;
  conditions?: Condition[];
}

export const READY = 'Ready';
export const SYNCED = 'Synced';

export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  /** CamelCase, as Kubernetes requires (e.g. `ReconcileError`, `PrimaryStorageInMaintenance`). */
  reason: string;
  message?: string;
}

export function getCondition(status: StatusWithConditions | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function isConditionTrue(status: StatusWithConditions | undefined, type: string): boolean {
  return getCondition(status, type)?.status === 'True';
}

/** Kubernetes metav1.Time: RFC 3339 in whole seconds. */
export function metav1Time(now: Date = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Sets a condition in place. Returns true when anything changed, so a reconciler writes
 * status only when there is something new to say.
 */
export function setCondition(status: StatusWithConditions, update: ConditionUpdate, observedGeneration: number | undefined, now: Date = new Date()): boolean {
  const conditions = (status.conditions ??= []);
  const next: Condition = {
    type: update.type,
    status: update.status,
    observedGeneration,
    lastTransitionTime: metav1Time(now),
    reason: update.reason,
    message: update.message ?? '',
  };
  const index = conditions.findIndex((c) => c.type === update.type);
  const existing = conditions[index];
  if (!existing) {
    conditions.push(next);
    return true;
  }
  if (existing.status === next.status) next.lastTransitionTime = existing.lastTransitionTime;
  const changed =
    existing.status !== next.status ||
    existing.reason !== next.reason ||
    existing.message !== next.message ||
    existing.observedGeneration !== next.observedGeneration ||
    existing.lastTransitionTime !== next.lastTransitionTime;
  conditions[index] = next;
  return changed;
}

export function removeCondition(status: StatusWithConditions, type: string): boolean {
  const before = status.conditions?.length ?? 0;
  status.conditions = status.conditions?.filter((c) => c.type !== type);
  return (status.conditions?.length ?? 0) !== before;
}

/** Marks the last reconcile successful, and records the generation it saw. */
export function markSynced(status: StatusWithConditions, generation: number | undefined, now?: Date): boolean {
  const changed = status.observedGeneration !== generation;
  status.observedGeneration = generation;
  return setCondition(status, { type: SYNCED, status: 'True', reason: 'ReconcileSuccess', message: '' }, generation, now) || changed;
}

/** Marks the last reconcile failed, with the error as the message. */
export function markSyncFailed(status: StatusWithConditions, generation: number | undefined, error: unknown, reason = 'ReconcileError', now?: Date): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return setCondition(status, { type: SYNCED, status: 'False', reason, message }, generation, now);
}

/** Sets Ready: True with a reason, or False with the reason and a message naming what is missing. */
export function markReady(status: StatusWithConditions, generation: number | undefined, ready: boolean, reason: string, message = '', now?: Date): boolean {
  return setCondition(status, { type: READY, status: ready ? 'True' : 'False', reason, message }, generation, now);
}
