/**
 * The VM's state, Ready and Scheduled as pure functions of spec and of what the agent of the
 * chosen host reports, with CloudStack's state names and transitions (VirtualMachine.java):
 * the host's report wins, so a domain that runs is Running (or Stopping when it should not),
 * and one that is off is Stopped, Starting or Destroyed by what spec asks.
 */
import type { VirtualMachineObject } from '../crds/index.ts';
import type { Condition, ConditionUpdate } from '../lib/conditions.ts';
import type { EventInput } from '../lib/events.ts';

/** Where a VM is placed (status.placement). */
export type Placement = NonNullable<NonNullable<VirtualMachineObject['status']>['placement']>;

export type DesiredVmState = 'Running' | 'Stopped' | 'Destroyed';
export type VmState = 'Starting' | 'Running' | 'Stopping' | 'Stopped' | 'Migrating' | 'Error' | 'Unknown' | 'Shutdown' | 'Destroyed' | 'Expunging';

/** The agent's Running condition reasons (lib/agent-contract.ts). */
export const INSUFFICIENT_CAPACITY = 'InsufficientCapacity';
const DOMAIN_ERROR = 'DomainError';
/** The agent's reason for a domain that powered off while spec.state is Running (its guest shut down): reported Stopped. */
const POWERED_OFF = 'PoweredOff';
/** Scheduled=False of a VM that is not asked to run: it is placed when started. */
export const NOT_STARTED = 'NotStarted';

export interface VmView {
  generation: number | undefined;
  desired: DesiredVmState;
  deleting: boolean;
  placement: Placement | undefined;
  /** status.powerState, as the agent reports it. */
  powerState: string | undefined;
  /** The agent's Running condition. */
  running: Condition | undefined;
  rebootRequestedAt: string | undefined;
  lastRebootAt: string | undefined;
  /** Why the VM is not placed: the planner's constraint, or what placement waits for. */
  unscheduled?: { reason: string; message: string };
  /** What a restore under way (spec.restoreRequestedAt not yet in status.lastRestoreAt) waits for. */
  restoring?: string;
  /** What the start waits for that the operator knows of (a template still downloading), shown until the agent reports. */
  waiting?: string;
}

export interface VmVerdict {
  state: VmState;
  conditions: ConditionUpdate[];
}

export function isPoweredOn(view: Pick<VmView, 'powerState' | 'running'>): boolean {
  return view.powerState === 'PowerOn' || view.running?.status === 'True';
}

/** A reboot asked for (spec.rebootRequestedAt) that the agent has not reported done (status.lastRebootAt). */
export function rebootPending(view: Pick<VmView, 'rebootRequestedAt' | 'lastRebootAt'>): boolean {
  const asked = view.rebootRequestedAt === undefined ? NaN : Date.parse(view.rebootRequestedAt);
  if (Number.isNaN(asked)) return false;
  const done = view.lastRebootAt === undefined ? NaN : Date.parse(view.lastRebootAt);
  return Number.isNaN(done) || asked > done;
}

function scheduled(view: VmView): ConditionUpdate {
  if (view.placement) return { type: 'Scheduled', status: 'True', reason: 'Placed', message: `host ${view.placement.host} (pod ${view.placement.pod}, cluster ${view.placement.cluster})` };
  if (view.unscheduled) return { type: 'Scheduled', status: 'False', reason: view.unscheduled.reason, message: view.unscheduled.message };
  if (view.desired !== 'Running') return { type: 'Scheduled', status: 'False', reason: NOT_STARTED, message: `the VM is placed when spec.state is Running (it is ${view.desired})` };
  return { type: 'Scheduled', status: 'False', reason: 'Pending', message: 'not placed yet' };
}

/** Whether the agent has acted on this generation of spec (its Running condition carries the generation it acted on). */
function agentCurrent(view: VmView): boolean {
  if (!view.placement) return true;
  const seen = view.running?.observedGeneration;
  return seen !== undefined && view.generation !== undefined && seen >= view.generation;
}

function ready(status: boolean, reason: string, message = ''): ConditionUpdate {
  return { type: 'Ready', status: status ? 'True' : 'False', reason, message };
}

export function deriveVmStatus(view: VmView): VmVerdict {
  const on = isPoweredOn(view);
  const agentSays = view.running && view.running.status !== 'True' && view.running.message ? `: ${view.running.message}` : '';
  const host = view.placement ? `host ${view.placement.host}` : 'the host';
  let state: VmState;
  let readiness: ConditionUpdate;
  if (view.deleting) {
    state = 'Expunging';
    readiness = ready(false, 'Expunging', on ? `${host} is powering the domain off before it is undefined` : 'the VM is being expunged');
  } else if (view.powerState === 'PowerUnknown') {
    state = 'Unknown';
    readiness = ready(false, 'PowerUnknown', `${host} cannot tell whether the domain runs${agentSays}`);
  } else if (view.desired === 'Destroyed') {
    state = on ? 'Stopping' : 'Destroyed';
    readiness = on ? ready(false, 'Stopping', `${host} is powering the domain off`) : ready(true, 'Destroyed', 'recover it by setting spec.state to Stopped or Running');
  } else if (view.desired === 'Stopped') {
    state = on ? 'Stopping' : 'Stopped';
    readiness = on ? ready(false, 'Stopping', `${host} is shutting the domain down`) : ready(true, 'Stopped');
  } else if (on) {
    state = 'Running';
    readiness = rebootPending(view) ? ready(false, 'Rebooting', `${host} has not reported the reboot asked at ${view.rebootRequestedAt} yet`) : ready(true, 'Running');
  } else if (view.running?.reason === POWERED_OFF && view.placement) {
    // The host's report wins (CloudStack's power-state sync): Stopped, until the agent starts it again for spec.state Running.
    state = 'Stopped';
    readiness = ready(false, POWERED_OFF, `${host} reports the domain powered off${agentSays}`);
  } else if (view.running?.reason === DOMAIN_ERROR && view.placement) {
    state = 'Error';
    readiness = ready(false, DOMAIN_ERROR, `${host} could not start the domain${agentSays}`);
  } else {
    state = 'Starting';
    if (!view.placement) readiness = ready(false, view.unscheduled ? 'Unschedulable' : 'Scheduling', view.unscheduled?.message ?? view.waiting ?? 'waiting for a placement');
    // Once placed, the agent knows best what the start waits for; before it says anything, what the operator knows.
    else if (view.running) readiness = ready(false, view.running.reason, `${host} is starting the domain${agentSays}`);
    else readiness = ready(false, 'Starting', `${host} is starting the domain${view.waiting ? `: ${view.waiting}` : ''}`);
  }
  // The API's restore job completes on Ready: True only once the new root disk is the only one, with the VM back in its state.
  if (readiness.status === 'True' && view.restoring !== undefined) readiness = ready(false, 'Restoring', view.restoring);
  if (readiness.status === 'True' && !agentCurrent(view)) {
    readiness = ready(false, 'Converging', `${host} has not acted on generation ${view.generation} of spec yet`);
  }
  return { state, conditions: [readiness, scheduled(view)] };
}

/**
 * CloudStack's event types for a change of state (from undefined when first seen) that the
 * operator owns (lib/agent-contract.ts, "Events"): the VM accepted, destroyed, recovered and
 * expunged. Started, stopped and rebooted are the domain's facts: the agent reports them.
 */
export function vmStateEvents(from: string | undefined, to: VmState): EventInput[] {
  const events: EventInput[] = [];
  if (from === undefined) events.push({ reason: 'VM.CREATE', note: `VM created, ${to}` });
  if (from === to) return events;
  if (to === 'Destroyed') events.push({ reason: 'VM.DESTROY', note: 'VM destroyed: recoverable until it is expunged' });
  if (from === 'Destroyed' && to !== 'Expunging') events.push({ reason: 'VM.RECOVER', note: `VM recovered, ${to}` });
  if (to === 'Expunging') events.push({ reason: 'VM.EXPUNGE', note: 'VM expunged: domain, NICs and owned volumes are removed' });
  return events;
}

/** The compute size of a VM as spec asks it (status.serviceOffering records the one accepted). */
export type Sizing = NonNullable<NonNullable<VirtualMachineObject['status']>['serviceOffering']>;

export function sizingOf(spec: Pick<VirtualMachineObject['spec'], 'serviceOfferingRef' | 'cpuNumber' | 'cpuSpeed' | 'memory'>): Sizing {
  return {
    name: spec.serviceOfferingRef.name,
    ...(spec.cpuNumber !== undefined ? { cpuNumber: spec.cpuNumber } : {}),
    ...(spec.cpuSpeed !== undefined ? { cpuSpeed: spec.cpuSpeed } : {}),
    ...(spec.memory !== undefined ? { memory: String(spec.memory) } : {}),
  };
}

function describeSizing(s: Sizing): string {
  const custom = [s.cpuNumber !== undefined ? `${s.cpuNumber} cores` : '', s.cpuSpeed !== undefined ? `${s.cpuSpeed} MHz` : '', s.memory ?? ''].filter((x) => x !== '');
  return custom.length > 0 ? `${s.name} (${custom.join(', ')})` : s.name;
}

/**
 * CloudStack's VM.UPGRADE (changeServiceForVirtualMachine, scaleVirtualMachine) for a change
 * of the accepted size: none for the first one recorded (the VM's creation, or a VM an earlier
 * operator accepted without recording it). Reported with the status write that records the new
 * size, against the version read, so it is reported once.
 */
export function sizingEvents(from: Sizing | undefined, to: Sizing): EventInput[] {
  if (from === undefined) return [];
  const [a, b] = [describeSizing(from), describeSizing(to)];
  return a === b ? [] : [{ reason: 'VM.UPGRADE', note: `service offering ${a} -> ${b}` }];
}

/** When a destroyed VM is due for expunge (spec.state Destroyed for expunge.delay seconds). */
export function expungeDueAt(destroyedAt: string, delaySeconds: number): number {
  return Date.parse(destroyedAt) + delaySeconds * 1000;
}
