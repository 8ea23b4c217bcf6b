/**
 * PrimaryStorage (agent side): for every pool in this host's scope (its zone, its cluster, or
 * this host), make it usable (create the directory, verify the mount point, mount NFS), write
 * the pool's heartbeat file every heartbeat period, and report one status.mounts entry keyed by
 * this host, with this host's field manager. A pool that leaves the scope loses the entry.
 */
import { HEARTBEAT_PERIOD_SECONDS, agentMountStatus } from '../lib/agent-contract.ts';
import type { PrimaryStorageObject } from '../crds/index.ts';
import type { Informer } from '../lib/informer.ts';
import { errorMessage } from '../lib/error-message.ts';
import type { Manager } from '../lib/manager.ts';
import { commitStatus } from '../lib/status.ts';
import { metav1Time } from '../lib/time.ts';
import type { FileStorageDriver } from './drivers/storage/driver.ts';
import type { PoolObservation, PoolSpec } from './drivers/storage/types.ts';
import type { HostPlacement } from './host-join.ts';
import { RESOURCES } from './resources.ts';

type MountEntry = NonNullable<NonNullable<PrimaryStorageObject['status']>['mounts']>[number];

/** True when the pool is reached from this host. */
export function poolInScope(pool: PrimaryStorageObject, at: HostPlacement): boolean {
  const spec = pool.spec;
  switch (spec.scope ?? 'Cluster') {
    case 'Host':
      return spec.hostRef?.name === at.host;
    case 'Zone':
      return spec.zoneRef.name === at.zone && (spec.hypervisor === undefined || spec.hypervisor === 'KVM');
    default:
      return spec.clusterRef?.name === at.cluster;
  }
}

/** The storage driver's view of a pool, or why the agent cannot serve it. */
export function poolSpecOf(pool: PrimaryStorageObject): PoolSpec {
  const uid = pool.metadata.uid ?? '';
  const spec = pool.spec;
  switch (spec.protocol) {
    case 'Local':
    case 'SharedMountPoint':
      return { type: spec.protocol, uid, path: spec.path };
    case 'NFS':
      return {
        type: 'NFS',
        uid,
        server: spec.server ?? '',
        exportPath: spec.path,
        ...(spec.nfsMountOptions !== undefined ? { mountOptions: spec.nfsMountOptions } : {}),
      };
    default:
      throw new Error(`PrimaryStorage ${pool.metadata.name ?? ''} spec.protocol: ${spec.protocol} pools are not served by the KVM agent yet; use Local, SharedMountPoint or NFS`);
  }
}

/** This host's mount entry, when it reports the pool mounted. */
export function mountedHere(pool: PrimaryStorageObject, host: string): boolean {
  return pool.status?.mounts?.some((m) => m.host === host && m.mounted) ?? false;
}

function entryFor(host: string, observed: PoolObservation | undefined, problem: string | undefined, previous: MountEntry | undefined): MountEntry {
  const mounted = observed?.ready === true;
  return {
    host,
    mounted,
    capacityBytes: observed?.capacityBytes ?? 0,
    usedBytes: observed?.usedBytes ?? 0,
    message: problem ?? observed?.problem ?? '',
    lastTransitionTime: previous && previous.mounted === mounted && previous.lastTransitionTime ? previous.lastTransitionTime : metav1Time(),
  };
}

/** Worth a write: anything but small drifts of the used bytes (which every write would chase). */
function changed(a: MountEntry | undefined, b: MountEntry): boolean {
  if (!a) return true;
  const drift = Math.abs((a.usedBytes ?? 0) - (b.usedBytes ?? 0));
  return a.mounted !== b.mounted || a.message !== b.message || a.capacityBytes !== b.capacityBytes || drift > (b.capacityBytes ?? 0) / 200;
}

export function registerPrimaryStorageReconciler(
  manager: Manager,
  deps: {
    pools: Informer<PrimaryStorageObject>;
    storage: FileStorageDriver;
    at: HostPlacement;
    /** Told when the storage driver fails on a pool (the host is then Alert) and when it works again. */
    onHealth?: (pool: string, problem: string | undefined) => void;
  },
): void {
  const { pools, storage, at } = deps;
  const client = manager.client.resource<PrimaryStorageObject>(RESOURCES.primaryStorages);
  const writer = agentMountStatus(at.host);
  manager.addController({
    name: 'agent-primarystorage',
    for: pools,
    maxConcurrentReconciles: 2,
    reconcile: async (ctx, request) => {
      const pool = pools.get(request);
      if (!pool) return;
      const previous = pool.status?.mounts?.find((m) => m.host === at.host);
      if (!poolInScope(pool, at) || pool.metadata.deletionTimestamp !== undefined) {
        // Out of scope (or going): give up this host's entry; an NFS mount is released.
        if (previous) {
          if (pool.spec.protocol === 'NFS') await storage.releasePool(poolSpecOf(pool));
          await commitStatus(client, pool, writer, { conditions: [] }, ctx.signal);
        }
        return;
      }
      let observed: PoolObservation | undefined;
      let problem: string | undefined;
      try {
        observed = await storage.applyPool(poolSpecOf(pool));
      } catch (err) {
        problem = errorMessage(err);
      }
      deps.onHealth?.(request.name, problem === undefined ? undefined : `PrimaryStorage ${request.name}: ${problem}`);
      const entry = entryFor(at.host, observed, problem, previous);
      if (changed(previous, entry) && (await commitStatus(client, pool, writer, { fields: { mounts: [entry] }, conditions: [] }, ctx.signal))) {
        ctx.log.info('pool reported', { mounted: entry.mounted, message: entry.message, capacityBytes: entry.capacityBytes });
      }
      // applyPool rewrote the heartbeat file; the next one is due in one heartbeat period.
      return { requeueAfter: HEARTBEAT_PERIOD_SECONDS * 1000 };
    },
  });
}
