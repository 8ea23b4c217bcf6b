/**
 * What the agent does to a VM's domain, as a pure function of what it observed: the plan of
 * the VirtualMachine reconciler (observe → plan → act, as drivers/network/plan.ts). Nothing
 * here waits: an ACPI shutdown or reboot is sent once and recorded in the running domain
 * (with the VM generation or reboot token that asked for it), and a later reconcile, requeued
 * for the deadline, destroys or resets the domain if the guest has not obeyed by then. The
 * same function, run again on the domain as it is after acting, gives the Running condition
 * the agent reports and when to look again.
 */
import type { ConditionUpdate } from '../lib/conditions.ts';
import { metav1Time } from '../lib/time.ts';
import type { DomainDisk, DomainObservation, DomainSpec } from './drivers/hypervisor/types.ts';

export const RUNNING = 'Running';

/** The Running condition's False reasons that keep a domain from starting (lib/agent-contract.ts). */
/**
 * The Running condition's reason for a domain that powered off while spec.state is Running and
 * the agent last reported it on: its guest shut down, or it was powered off on the host.
 */
export const POWERED_OFF = 'PoweredOff';

export type BlockerReason = 'WaitingForVolumes' | 'WaitingForIso' | 'WaitingForNetwork' | 'InsufficientCapacity' | 'DomainError';

export interface Blocker {
  reason: BlockerReason;
  message: string;
}

export interface VmFacts {
  /** spec.state Running; Stopped and Destroyed both want the domain powered off and kept. */
  wantRunning: boolean;
  /** spec.state Destroyed: the power-off must leave the VM recoverable, off, before expunge.delay is up. */
  destroyed: boolean;
  /** The VM object is being deleted: the domain is undefined. */
  deleting: boolean;
  /** metadata.generation: the token of a shutdown this generation asked for. */
  generation: number;
  /** The definition the domain should have (its Provisioned disks and its NICs), when it can be built. */
  desired?: { spec: DomainSpec; digest: string };
  /** Why the domain may not start: a disk not Provisioned, a network not ready, no room on the host, a bad spec. */
  blocker?: Blocker;
  /** spec.rebootRequestedAt when it is newer than status.lastRebootAt. */
  rebootToken?: string;
  domain?: DomainObservation;
  /** The agent last reported the domain on (status.powerState PowerOn, as it last wrote it). */
  reportedOn?: boolean;
  /** When libvirt last reported a reboot of this domain (kept in memory: events are not replayed). */
  rebootSeenAt?: Date;
  now: Date;
  shutdownTimeoutMs: number;
  rebootTimeoutMs: number;
  /** The global expunge.delay: the operator expunges a destroyed VM that long after destroying it, once it is off. */
  expungeDelayMs: number;
}

export type Step =
  | { do: 'define'; spec: DomainSpec }
  | { do: 'start' | 'resume' | 'shutdown' | 'destroy' | 'reset' | 'undefine' }
  | { do: 'reboot'; token: string }
  | { do: 'attach'; disk: DomainDisk }
  | { do: 'detach'; path: string }
  /** The ISO drive's media of the running domain: inserted (path) or ejected (undefined). */
  | { do: 'media'; path: string | undefined };

export interface VmPlan {
  steps: Step[];
  /** The Running condition for the domain as observed, with these steps under way. */
  running: ConditionUpdate;
  /** The reboot request carried out (or void: nothing to reboot), to echo in status.lastRebootAt. */
  rebootDone?: string;
  /** A shutdown or reboot deadline to come back at. */
  requeueAfterMs?: number;
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

function condition(ok: boolean, reason: string, message = ''): ConditionUpdate {
  return { type: RUNNING, status: ok ? 'True' : 'False', reason, message };
}

/**
 * How far a re-read start of the same QEMU process may move. /proc gives a process's start in
 * ticks since boot, and the boot time it counts from follows the wall clock: a clock step after
 * the start moves the computed start by the step (3 s seen here), although nothing restarted.
 */
export const PROCESS_START_JITTER_MS = 10_000;

/**
 * status.startedAt of a running domain: the recorded start while the observed one is the same
 * within PROCESS_START_JITTER_MS (the same process, read under a stepped clock), else the observed
 * one; the recorded one, or now, when the hypervisor cannot tell.
 */
export function reportedStartedAt(recorded: string | undefined, observed: Date | undefined, now: Date = new Date()): string {
  if (observed === undefined) return recorded ?? metav1Time(now);
  if (recorded !== undefined && Math.abs(Date.parse(recorded) - observed.getTime()) <= PROCESS_START_JITTER_MS) return recorded;
  return metav1Time(observed);
}

/** running, paused or shutting down: a QEMU process exists. */
export function isActive(domain: DomainObservation | undefined): domain is DomainObservation {
  return domain?.state === 'running' || domain?.state === 'paused' || domain?.state === 'shutdown';
}

/**
 * How long the guest may take to obey an ACPI shutdown before the domain is powered off. A
 * destroy gets at most half of expunge.delay: the operator expunges a destroyed VM only once it
 * is off, so a longer wait would leave no time in which the VM is Destroyed and recoverable.
 */
export function shutdownGraceMs(facts: Pick<VmFacts, 'destroyed' | 'shutdownTimeoutMs' | 'expungeDelayMs'>): number {
  return facts.destroyed ? Math.min(facts.shutdownTimeoutMs, Math.floor(facts.expungeDelayMs / 2)) : facts.shutdownTimeoutMs;
}

/** The ACPI shutdown this generation sent to the domain, if any, and how long ago. */
function shutdownSent(facts: VmFacts, domain: DomainObservation, graceMs: number): { waitedMs: number; expired: boolean } | undefined {
  const sent = domain.shutdownSent?.token === String(facts.generation) ? domain.shutdownSent.at : undefined;
  if (sent === undefined) return undefined;
  const waitedMs = facts.now.getTime() - sent.getTime();
  return { waitedMs, expired: waitedMs >= graceMs };
}

/** Powering off: ACPI first, destroyed once the request is older than the grace period (none: at once). */
function powerOff(facts: VmFacts, domain: DomainObservation, steps: Step[]): Omit<VmPlan, 'steps'> {
  if (domain.state === 'paused') {
    // A paused guest cannot take an ACPI request.
    steps.push({ do: 'destroy' });
    return { running: condition(false, 'Stopping', 'the paused domain is powered off') };
  }
  const graceMs = shutdownGraceMs(facts);
  const why = graceMs < facts.shutdownTimeoutMs ? ' (half of expunge.delay: the destroyed VM stays recoverable, off, for the rest)' : '';
  const sent = shutdownSent(facts, domain, graceMs);
  if (!sent && graceMs <= 0) {
    steps.push({ do: 'destroy' });
    return { running: condition(false, 'Stopping', 'powered off at once: expunge.delay is 0') };
  }
  if (!sent) {
    steps.push({ do: 'shutdown' });
    return { running: condition(false, 'Stopping', 'ACPI shutdown sent'), requeueAfterMs: graceMs };
  }
  if (sent.expired) {
    steps.push({ do: 'destroy' });
    return { running: condition(false, 'Stopping', `powered off: the guest ignored the ACPI shutdown for ${seconds(sent.waitedMs)}`) };
  }
  return {
    running: condition(false, 'Stopping', `ACPI shutdown sent ${seconds(sent.waitedMs)} ago; the domain is powered off after ${seconds(graceMs)}${why}`),
    requeueAfterMs: graceMs - sent.waitedMs,
  };
}

/** Carries out a requested reboot of a running domain: ACPI, then a reset once the guest has ignored it too long. */
function reboot(facts: VmFacts, domain: DomainObservation, token: string, steps: Step[]): Pick<VmPlan, 'rebootDone' | 'requeueAfterMs'> {
  const sent = domain.rebootSent?.token === token ? domain.rebootSent.at : undefined;
  if (sent === undefined) {
    steps.push({ do: 'reboot', token });
    return { requeueAfterMs: facts.rebootTimeoutMs };
  }
  if (facts.rebootSeenAt !== undefined && facts.rebootSeenAt.getTime() >= sent.getTime()) return { rebootDone: token };
  const waited = facts.now.getTime() - sent.getTime();
  if (waited >= facts.rebootTimeoutMs) {
    steps.push({ do: 'reset' });
    return { rebootDone: token };
  }
  return { requeueAfterMs: facts.rebootTimeoutMs - waited };
}

export function planVm(facts: VmFacts): VmPlan {
  const { domain, desired } = facts;
  if (facts.deleting) {
    return { steps: domain ? [{ do: 'undefine' }] : [], running: condition(false, 'Stopped', 'the VM is being deleted') };
  }
  const steps: Step[] = [];
  // The definition follows the spec whatever the power state; a running domain takes it at its next start.
  if (domain && desired && domain.specDigest !== desired.digest) steps.push({ do: 'define', spec: desired.spec });

  if (!facts.wantRunning) {
    // A stopped VM has nothing to reboot: the request is void.
    const rebootDone = facts.rebootToken;
    if (!isActive(domain)) {
      return { steps, running: condition(false, 'Stopped', domain ? 'the domain is powered off' : 'the VM is stopped'), ...(rebootDone ? { rebootDone } : {}) };
    }
    return { steps, ...powerOff(facts, domain, steps), ...(rebootDone ? { rebootDone } : {}) };
  }

  if (!isActive(domain)) {
    if (domain && facts.reportedOn === true) {
      // Off although reported on, and nothing here powered it off for spec: the host's report
      // wins (CloudStack's power-state sync: the VM goes Stopped, one VM.STOP). The power-off is
      // reported first, then the domain is started again for spec.state Running, as CloudStack
      // restarts an HA VM whose guest shut down.
      return { steps, running: condition(false, POWERED_OFF, 'the domain powered off (its guest shut down, or it was powered off on the host); it starts again: spec.state is Running'), requeueAfterMs: 0 };
    }
    if (facts.blocker) return { steps, running: condition(false, facts.blocker.reason, facts.blocker.message) };
    if (!desired) return { steps, running: condition(false, 'DomainError', 'the domain cannot be built from the VM') };
    if (!domain) steps.push({ do: 'define', spec: desired.spec });
    steps.push({ do: 'start' });
    // A VM just started has nothing left to reboot.
    return { steps, running: condition(false, 'Starting', 'starting the domain'), ...(facts.rebootToken ? { rebootDone: facts.rebootToken } : {}) };
  }

  if (domain.state === 'shutdown') {
    // Shutting down (asked earlier, or by the guest itself): it is seen through as a stop,
    // destroyed if it takes longer than a shutdown may, and started again once off.
    const off = powerOff(facts, domain, steps);
    return { steps, running: condition(false, 'Starting', `the domain is shutting down; it starts again once powered off (${off.running.message})`), ...(off.requeueAfterMs !== undefined ? { requeueAfterMs: off.requeueAfterMs } : {}) };
  }
  // A new root disk (a restore) cannot be swapped under a running guest: powered off, the domain starts again on it.
  const root = desired?.spec.disks.find((d) => d.deviceId === 0);
  if (root && !domain.diskPaths.includes(root.path)) {
    const off = powerOff(facts, domain, steps);
    return { steps, running: condition(false, 'Starting', `the root disk was replaced; the domain starts again on it once powered off (${off.running.message})`), ...(off.requeueAfterMs !== undefined ? { requeueAfterMs: off.requeueAfterMs } : {}) };
  }
  if (domain.state === 'paused') steps.push({ do: 'resume' });
  if (desired) {
    const wanted = new Set(desired.spec.disks.map((d) => d.path));
    for (const disk of desired.spec.disks) if (!domain.diskPaths.includes(disk.path)) steps.push({ do: 'attach', disk });
    for (const path of domain.diskPaths) if (!wanted.has(path)) steps.push({ do: 'detach', path });
    // A domain started without the drive (an earlier agent's definition) takes the media at its next start.
    if (domain.isoPath !== desired.spec.iso && domain.isoDriveMissing !== true) steps.push({ do: 'media', path: desired.spec.iso });
  }
  const rebooting = facts.rebootToken ? reboot(facts, domain, facts.rebootToken, steps) : {};
  return { steps, running: condition(true, 'Running'), ...rebooting };
}
