/**
 * A host's two CloudStack states, computed from observations alone so that a restarted
 * operator reaches the same answer: the connection state from the agent's heartbeat Lease,
 * and the resource (administrative) state from spec and the VMs still placed on the host.
 */
import { metav1Time } from '../lib/time.ts';

export type ConnectionState = 'Connecting' | 'Up' | 'Disconnected' | 'Down' | 'Alert';
export type ResourceState = 'Enabled' | 'Disabled' | 'PrepareForMaintenance' | 'ErrorInPrepareForMaintenance' | 'Maintenance' | 'ErrorInMaintenance';

export interface HeartbeatInput {
  /** spec.renewTime of the Lease; undefined when there is no Lease. */
  renewTime: string | undefined;
  /** True once the host has had a heartbeat (status.lastHeartbeat set): a vanished Lease then means Down. */
  everConnected: boolean;
  now: Date;
  pingIntervalSeconds: number;
  /** Multiplier of the interval after which the host is Down. */
  pingTimeout: number;
  /** The agent's own trouble report (condition AgentHealthy False), if any. */
  agentTrouble?: string;
  nodeName: string;
}

export interface Connection {
  state: ConnectionState;
  reason: string;
  message: string;
  /** Milliseconds until the state would change by time alone; undefined when only an event can change it. */
  recheckAfterMs?: number;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

export function hostConnection(input: HeartbeatInput): Connection {
  const freshMs = input.pingIntervalSeconds * 1000;
  const downMs = freshMs * input.pingTimeout;
  const limits = `ping.interval ${input.pingIntervalSeconds} s × ping.timeout ${input.pingTimeout}`;
  if (input.renewTime === undefined) {
    if (input.everConnected) {
      return { state: 'Down', reason: 'HeartbeatLeaseMissing', message: `the agent's heartbeat Lease is gone: check the agent on node ${input.nodeName}` };
    }
    return { state: 'Connecting', reason: 'WaitingForAgent', message: `waiting for the agent on node ${input.nodeName} to adopt this host and start its heartbeat` };
  }
  const renewed = Date.parse(input.renewTime);
  if (Number.isNaN(renewed)) return { state: 'Alert', reason: 'HeartbeatUnreadable', message: `the heartbeat Lease has an unreadable renewTime "${input.renewTime}"` };
  const age = Math.max(0, input.now.getTime() - renewed);
  if (age <= freshMs) {
    const recheckAfterMs = freshMs - age + 1;
    if (input.agentTrouble) return { state: 'Alert', reason: 'AgentReportedTrouble', message: `the agent reports trouble: ${input.agentTrouble}`, recheckAfterMs };
    return { state: 'Up', reason: 'HeartbeatFresh', message: '', recheckAfterMs };
  }
  // Messages name the last heartbeat's time, not its age: an age would change on every pass
  // and make every parent that quotes this message rewrite its status in a loop.
  const since = metav1Time(new Date(renewed));
  if (age <= downMs) {
    return {
      state: 'Disconnected',
      reason: 'HeartbeatLate',
      message: `no heartbeat since ${since}, more than ping.interval ${input.pingIntervalSeconds} s; Down after ${seconds(downMs)} without one (${limits})`,
      recheckAfterMs: downMs - age + 1,
    };
  }
  return { state: 'Down', reason: 'HeartbeatExpired', message: `no heartbeat since ${since}, more than ${seconds(downMs)} (${limits}): check the agent on node ${input.nodeName}` };
}

export interface ResourceInput {
  current: ResourceState | undefined;
  maintenance: boolean;
  allocationState: 'Enabled' | 'Disabled';
  connection: ConnectionState;
  /** VMs still placed on the host, by namespace/name. */
  vms: readonly string[];
}

export interface ResourceOutcome {
  state: ResourceState;
  message: string;
}

const MAINTENANCE_STATES: readonly ResourceState[] = ['PrepareForMaintenance', 'ErrorInPrepareForMaintenance', 'Maintenance', 'ErrorInMaintenance'];

export function inMaintenance(state: ResourceState | undefined): boolean {
  return state !== undefined && MAINTENANCE_STATES.includes(state);
}

function listVms(vms: readonly string[]): string {
  const shown = vms.slice(0, 5).join(', ');
  return vms.length > 5 ? `${shown} and ${vms.length - 5} more` : shown;
}

/**
 * CloudStack's ResourceState machine: Enabled/Disabled —AdminAskMaintenance→
 * PrepareForMaintenance —(no VM left)→ Maintenance —AdminCancelMaintenance→ Enabled/Disabled.
 * Preparation always shows for one step, so its event and state are visible even on an empty
 * host; a host that drops its connection while preparing is ErrorInPrepareForMaintenance.
 */
export function nextResourceState(input: ResourceInput): ResourceOutcome {
  if (!input.maintenance) return { state: input.allocationState, message: '' };
  const current = input.current;
  const connected = input.connection === 'Up' || input.connection === 'Alert';
  const placed = input.vms.length;
  if (!inMaintenance(current)) return { state: 'PrepareForMaintenance', message: placed ? `waiting for ${placed} VM(s) to leave: ${listVms(input.vms)}` : '' };
  if (current === 'Maintenance' || current === 'ErrorInMaintenance') {
    if (placed) return { state: 'ErrorInMaintenance', message: `VM(s) placed on a host in maintenance: ${listVms(input.vms)}; move or stop them` };
    return { state: 'Maintenance', message: '' };
  }
  if (!placed) return { state: 'Maintenance', message: '' };
  if (!connected) return { state: 'ErrorInPrepareForMaintenance', message: `the host is ${input.connection} while ${placed} VM(s) still need to leave: ${listVms(input.vms)}` };
  return { state: 'PrepareForMaintenance', message: `waiting for ${placed} VM(s) to leave: ${listVms(input.vms)}` };
}
