/**
 * The conditions zones, pods and clusters share: Allocatable (may the planner place new VMs
 * here?) and CapacityAlert (a notification threshold is reached), plus the event that
 * announces a newly reached threshold.
 */
import type { ConditionUpdate } from '../lib/conditions.ts';
import type { EventInput } from '../lib/events.ts';
import { thresholdBreaches, type Rollup, type ThresholdRule } from './capacity.ts';
import type { SettingName, Settings } from '../lib/settings.ts';

export const ALLOCATABLE = 'Allocatable';
export const CAPACITY_ALERT = 'CapacityAlert';

/** Allocatable: True only when nothing in `blockers` holds; otherwise the first reason and every message. */
export function allocatableCondition(blockers: readonly { reason: string; message: string }[]): ConditionUpdate {
  if (blockers.length === 0) return { type: ALLOCATABLE, status: 'True', reason: 'Allocatable', message: '' };
  return { type: ALLOCATABLE, status: 'False', reason: blockers[0]!.reason, message: `not a placement target: ${blockers.map((b) => b.message).join('; ')}` };
}

/** Ready from the health of a zone's, pod's or cluster's children: `readyReason` when they hold it up, DependenciesNotReady when not. */
export function readyFromChildren(health: { ok: boolean; message: string }, readyReason: string): ConditionUpdate {
  return health.ok ? { type: 'Ready', status: 'True', reason: readyReason, message: health.message } : { type: 'Ready', status: 'False', reason: 'DependenciesNotReady', message: health.message };
}

/** CloudStack's events for a zone, pod or cluster: KIND.CREATE when it appears, KIND.EDIT when its allocation state changes, KIND.DELETE when it goes. */
export function allocationLifecycleEvents(kind: 'ZONE' | 'POD' | 'CLUSTER'): { stateEvents: (from: string | undefined, to: string) => EventInput[]; deletedEvent: () => EventInput } {
  const noun = kind.toLowerCase();
  return {
    stateEvents: (from, to) => [from === undefined ? { reason: `${kind}.CREATE`, note: `${noun} created, ${to}` } : { reason: `${kind}.EDIT`, note: `allocation state ${from} → ${to}` }],
    deletedEvent: () => ({ reason: `${kind}.DELETE`, note: `${noun} deleted` }),
  };
}

export function disabledBlocker(kind: string, allocationState: string | undefined): { reason: string; message: string } | undefined {
  return allocationState === 'Disabled' ? { reason: 'Disabled', message: `the ${kind} is Disabled (set spec.allocationState to Enabled to place VMs here)` } : undefined;
}

/** A threshold rule as declared: the capacity type, the figure compared with the total, and the setting that holds the fraction. */
export type RuleSpec = readonly [type: ThresholdRule['type'], measure: ThresholdRule['measure'], setting: SettingName];

/** The declared rules with their thresholds read from the effective settings. */
export function thresholdRules(settings: Settings, specs: readonly RuleSpec[]): ThresholdRule[] {
  return specs.map(([type, measure, setting]) => ({ type, measure, setting, threshold: settings.number(setting) }));
}

export interface CapacityAlertResult {
  condition: ConditionUpdate;
  events: EventInput[];
}

/** CapacityAlert from notification thresholds, with a Warning event when it newly turns True. */
export function capacityAlert(rollup: Rollup, rules: readonly ThresholdRule[], wasAlerting: boolean): CapacityAlertResult {
  const breaches = thresholdBreaches(rollup, rules);
  if (breaches.length === 0) return { condition: { type: CAPACITY_ALERT, status: 'False', reason: 'BelowThresholds', message: '' }, events: [] };
  const message = breaches.join('; ');
  return {
    condition: { type: CAPACITY_ALERT, status: 'True', reason: 'NotificationThresholdReached', message },
    events: wasAlerting ? [] : [{ type: 'Warning', reason: 'ALERT.CAPACITY', note: message }],
  };
}
