import { setTimeout as sleep } from 'node:timers/promises';
import { isAlreadyExists, isConflict, isNotFound, retryOnConflict, type KubeClient, type KubeObject, type ResourceType } from './kube-client.ts';
import type { Logger } from './log.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { metav1MicroTime } from './time.ts';
import { errorMessage } from './error-message.ts';

/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's algorithm:
 * - a candidate takes the lease only when the holder's record has not changed for a whole
 *   lease duration, as timed on the candidate's own clock (no clock sync needed);
 * - the leader renews every retry period and gives up leadership, synchronously and at
 *   once, when it has not renewed for the renew deadline, which is shorter than the lease
 *   duration: so the old leader has stopped before anyone else can take over;
 * - on shutdown the leader empties the holder, so a successor takes over at once.
 */
export const LEASES: ResourceType = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true };

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

/** Which lease to hold, as whom, and its timings (client-go's defaults when omitted). */
export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface LeaderElectionOptions extends LeaderElectionConfig {
  client: KubeClient;
  onStartedLeading: () => void;
  /** Called synchronously the moment leadership is lost or given up. */
  onStoppedLeading: () => void;
  logger: Logger;
  metrics?: RuntimeMetrics;
}

export interface LeaderElector {
  /** Campaigns, then leads until leadership is lost or the signal aborts (releasing the lease). */
  run(signal: AbortSignal): Promise<void>;
  isLeader(): boolean;
  /** The holder of the lease as last observed. */
  holder(): string | undefined;
}

export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;

export function createLeaderElector(options: LeaderElectionOptions): LeaderElector {
  const leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
  const renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
  const retryPeriodMs = options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
  if (!(leaseDurationMs > renewDeadlineMs)) throw new Error(`leader election: the lease duration (${leaseDurationMs} ms) must exceed the renew deadline (${renewDeadlineMs} ms)`);
  if (!(renewDeadlineMs > retryPeriodMs * 1.2)) throw new Error(`leader election: the renew deadline (${renewDeadlineMs} ms) must exceed 1.2 × the retry period (${retryPeriodMs} ms)`);
  const leases = options.client.resource<Lease>(LEASES);
  const key = { namespace: options.namespace, name: options.name };
  const log = options.logger.child({ component: 'leader-election', lease: `${options.namespace}/${options.name}`, identity: options.identity });
  const leaseSeconds = Math.ceil(leaseDurationMs / 1000);
  let observedSpec = '';
  let observedAt = 0;
  let observedHolder: string | undefined;
  let leader = false;
  let observedAny = false;

  function observe(lease: Lease): void {
    observedAny = true;
    const spec = JSON.stringify(lease.spec ?? {});
    observedHolder = lease.spec?.holderIdentity || undefined;
    if (spec !== observedSpec) {
      observedSpec = spec;
      observedAt = performance.now();
    }
  }

  async function tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = Date.now();
    let lease: Lease;
    try {
      lease = await leases.get(key, { signal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const spec: LeaseSpec = { holderIdentity: options.identity, leaseDurationSeconds: leaseSeconds, acquireTime: metav1MicroTime(now), renewTime: metav1MicroTime(now), leaseTransitions: 0 };
      try {
        observe(await leases.create({ metadata: { ...key }, spec }, { signal }));
        return true;
      } catch (createErr) {
        if (isAlreadyExists(createErr)) return false;
        throw createErr;
      }
    }
    observe(lease);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity;
    const duration = (spec.leaseDurationSeconds ?? leaseSeconds) * 1000;
    if (holder && holder !== options.identity && performance.now() < observedAt + duration) return false;
    const mine = holder === options.identity;
    const next: LeaseSpec = {
      holderIdentity: options.identity,
      leaseDurationSeconds: leaseSeconds,
      acquireTime: mine ? spec.acquireTime : metav1MicroTime(now),
      renewTime: metav1MicroTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
    try {
      observe(await leases.update({ ...lease, spec: next }, { signal }));
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  async function attempt(signal: AbortSignal, timeoutMs: number): Promise<boolean> {
    try {
      return await tryAcquireOrRenew(AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)))]));
    } catch (err) {
      if (!signal.aborted) log.warn('lease request failed', { error: errorMessage(err) });
      return false;
    }
  }

  function setLeader(value: boolean): void {
    if (leader === value) return;
    leader = value;
    options.metrics?.leaderStatus.set({ name: options.name }, value ? 1 : 0);
    if (value) {
      log.info('successfully acquired lease');
      options.onStartedLeading();
    } else {
      options.onStoppedLeading();
    }
  }

  /** Empties the holder; re-reads first, since a renewal cut short by the stop may still have landed. */
  async function release(): Promise<void> {
    if (!observedAny) return;
    const signal = AbortSignal.timeout(retryPeriodMs * 2);
    try {
      await retryOnConflict(async () => {
        const lease = await leases.get(key, { signal });
        if (lease.spec?.holderIdentity !== options.identity) return;
        const now = metav1MicroTime(Date.now());
        const spec: LeaseSpec = { leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: lease.spec.leaseTransitions ?? 0 };
        await leases.update({ ...lease, spec }, { signal });
        log.info('released lease');
      });
    } catch (err) {
      log.warn('could not release the lease; the successor waits for it to expire', { error: errorMessage(err) });
    }
  }

  options.metrics?.leaderStatus.set({ name: options.name }, 0);

  return {
    async run(signal) {
      log.info('attempting to acquire leader lease');
      while (!signal.aborted) {
        if (await attempt(signal, retryPeriodMs)) break;
        await sleep(retryPeriodMs * (1 + Math.random() * 0.2), undefined, { signal }).catch(() => undefined);
      }
      if (signal.aborted) return;
      let renewedAt = performance.now();
      setLeader(true);
      let deadline: NodeJS.Timeout | undefined;
      const lost = new AbortController();
      const armDeadline = () => {
        clearTimeout(deadline);
        deadline = setTimeout(() => {
          log.error('failed to renew the lease within the renew deadline; leadership lost', { renewDeadlineMs });
          setLeader(false);
          lost.abort();
        }, Math.max(0, renewedAt + renewDeadlineMs - performance.now()));
      };
      armDeadline();
      const both = AbortSignal.any([signal, lost.signal]);
      while (!both.aborted) {
        await sleep(retryPeriodMs, undefined, { signal: both }).catch(() => undefined);
        if (both.aborted) break;
        const sentAt = performance.now();
        const remaining = renewedAt + renewDeadlineMs - sentAt;
        if ((await attempt(both, Math.min(retryPeriodMs, remaining))) && leader) {
          renewedAt = sentAt;
          armDeadline();
        }
      }
      clearTimeout(deadline);
      if (leader) {
        setLeader(false);
        await release();
      }
    },
    isLeader: () => leader,
    holder: () => observedHolder,
  };
}
