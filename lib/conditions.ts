/**
 * Status conditions, per DESIGN.md's status contract: every kind has `Ready` (kstatus
 * compatible) and `Synced` (did the last reconcile succeed, and if not, why), each carrying
 * the generation it describes. `lastTransitionTime` moves only when the status flips.
 * Writers set them through status.ts, which uses setCondition.
 */
import { metav1Time } from './time.ts';

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

export const SYNCED = 'Synced';

export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  /** CamelCase, as Kubernetes requires (e.g. `ReconcileError`, `PrimaryStorageInMaintenance`). */
  reason: string;
  message?: string;
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
