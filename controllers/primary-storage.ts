/**
 * PrimaryStorage: its state follows the mount reports the agents of the hosts in scope write
 * into status.mounts (Up once a connected host has it mounted, Down when none has), goes
 * through PrepareForMaintenance to Maintenance on request (once no running VM uses a volume on
 * it) and back on cancel. Capacity comes from the reports (or spec.capacityBytes), allocation
 * from the volumes on it; the disable thresholds stop new volumes. Held while volumes remain.
 */
import { PrimaryStorage, type HostObject, type PrimaryStorageObject } from '../crds/index.ts';
import type { ConditionUpdate } from '../lib/conditions.ts';
import type { EventInput } from '../lib/events.ts';
import type { Manager } from '../lib/manager.ts';
import { ALLOCATABLE, allocatableCondition, thresholdRules } from './allocation.ts';
import { thresholdBreaches, type CapacityType, type Tally } from './capacity.ts';
import { poolOverprovision } from '../lib/settings.ts';
import { clusterAncestry, hostsOfCluster, hostsOfZone, vmKey } from './hierarchy.ts';
import { CHILDREN_FINALIZER, INDEX, LABEL_CLUSTER, LABEL_HOST, LABEL_POD, LABEL_ZONE, listNames, type InfraContext } from './infra-context.ts';
import { volumeBytes } from '../lib/usage.ts';
import { everyObject, registerKindReconciler, watchNames } from './reconciler.ts';

const MOUNTED = 'Mounted';
const MAINTENANCE_STATES = new Set(['PrepareForMaintenance', 'Maintenance', 'ErrorInMaintenance']);
const RUNNING = new Set(['Starting', 'Running', 'Stopping', 'Migrating']);

function hostsInScope(ctx: InfraContext, pool: PrimaryStorageObject): HostObject[] {
  const spec = pool.spec;
  if (spec.scope === 'Host') {
    const host = spec.hostRef ? ctx.informers.hosts.get(spec.hostRef.name) : undefined;
    return host ? [host] : [];
  }
  if (spec.scope === 'Zone') {
    const hosts = hostsOfZone(ctx, spec.zoneRef.name);
    return spec.hypervisor ? hosts.filter((h) => (ctx.informers.clusters.get(h.spec.clusterRef.name)?.spec.hypervisor ?? 'KVM') === spec.hypervisor) : hosts;
  }
  return spec.clusterRef ? hostsOfCluster(ctx, spec.clusterRef.name) : [];
}

function stateEvents(from: string | undefined, to: string): EventInput[] {
  if (from === undefined) return [{ reason: 'PRIMARY.STORAGE.CREATE', note: `storage pool added, ${to}` }];
  if (to === 'PrepareForMaintenance') return [{ reason: 'MAINT.PREPARE.PS', note: 'preparing the pool for maintenance' }];
  if (to === 'Maintenance') return [{ reason: 'PRIMARY.STORAGE.MAINTENANCE', note: 'pool in maintenance' }];
  if (MAINTENANCE_STATES.has(from)) return [{ reason: 'MAINT.CANCEL.PS', note: `maintenance cancelled; pool ${to}` }];
  if (to === 'Up') return [{ reason: 'PRIMARY.STORAGE.UP', note: `pool up (was ${from})` }];
  if (to === 'Down') return [{ type: 'Warning', reason: 'PRIMARY.STORAGE.DOWN', note: `pool down (was ${from})` }];
  return [];
}

export function registerPrimaryStorageController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  const poolsOfHost = (host: HostObject): string[] => {
    const a = clusterAncestry(ctx, host.spec.clusterRef.name);
    return [
      ...(a.zone ? i.primaryStorages.byIndex(INDEX.zone, a.zone).filter((p) => p.spec.scope === 'Zone') : []),
      ...i.primaryStorages.byIndex(INDEX.cluster, host.spec.clusterRef.name),
      ...i.primaryStorages.byIndex(INDEX.host, host.metadata.name ?? ''),
    ].map((p) => p.metadata.name ?? '');
  };

  registerKindReconciler<PrimaryStorageObject>(manager, ctx, {
    name: 'primarystorage',
    kind: PrimaryStorage,
    informer: i.primaryStorages,
    ownership: { fields: ['capacityBytes', 'allocatedBytes', 'usedBytes'], conditions: ['Ready', MOUNTED, ALLOCATABLE] },
    labels(pool) {
      const hostCluster = pool.spec.hostRef ? i.hosts.get(pool.spec.hostRef.name)?.spec.clusterRef.name : undefined;
      const clusterName = pool.spec.clusterRef?.name ?? hostCluster;
      const a = clusterName ? clusterAncestry(ctx, clusterName) : {};
      return { [LABEL_ZONE]: pool.spec.zoneRef.name, [LABEL_POD]: a.pod, [LABEL_CLUSTER]: clusterName, [LABEL_HOST]: pool.spec.hostRef?.name };
    },
    finalizer: CHILDREN_FINALIZER,
    remaining: (pool) => i.volumes.byIndex(INDEX.pool, pool.metadata.name ?? '').map((v) => `Volume ${v.metadata.namespace}/${v.metadata.name}`),
    observe(pool) {
      const name = pool.metadata.name ?? '';
      const settings = ctx.settings();
      const zone = i.zones.get(pool.spec.zoneRef.name);
      const hosts = hostsInScope(ctx, pool);
      const connected = hosts.filter((h) => h.status?.state === 'Up' || h.status?.state === 'Alert');
      const inScope = new Set(hosts.map((h) => h.metadata.name));
      const reports = new Map((pool.status?.mounts ?? []).filter((m) => inScope.has(m.host)).map((m) => [m.host, m]));
      const mounted = connected.filter((h) => reports.get(h.metadata.name ?? '')?.mounted === true);
      const notMounted = connected.filter((h) => reports.get(h.metadata.name ?? '')?.mounted !== true);
      const mountedReports = [...reports.values()].filter((m) => m.mounted);
      const capacityBytes = pool.spec.capacityBytes ?? Math.max(0, ...mountedReports.map((m) => m.capacityBytes ?? 0));
      const usedBytes = Math.max(0, ...mountedReports.map((m) => m.usedBytes ?? 0));
      const volumes = i.volumes.byIndex(INDEX.pool, name);
      const allocatedBytes = volumes.reduce((n, v) => n + volumeBytes(v, v.spec.diskOfferingRef ? i.diskOfferings.get(v.spec.diskOfferingRef.name)?.spec : undefined), 0);

      const describe = (h: HostObject) => {
        const report = reports.get(h.metadata.name ?? '');
        return `${h.metadata.name}: ${report ? report.message || 'not mounted' : 'no report yet'}`;
      };
      let state: string;
      let why = '';
      if (pool.spec.maintenance) {
        const users = volumes
          .map((v) => (v.spec.vmRef ? i.vms.get({ namespace: v.metadata.namespace, name: v.spec.vmRef.name }) : undefined))
          .filter((vm) => vm !== undefined && RUNNING.has(vm.status?.state ?? ''))
          .map((vm) => vmKey(vm!));
        const current = pool.status?.state ?? '';
        if (!MAINTENANCE_STATES.has(current) || users.length) {
          state = 'PrepareForMaintenance';
          why = users.length ? `waiting for ${users.length} running VM(s) using it to stop: ${listNames(users)}` : 'preparing for maintenance';
        } else {
          state = 'Maintenance';
          why = 'in maintenance (spec.maintenance is true)';
        }
      } else if (!zone) {
        state = 'Down';
        why = `Zone ${pool.spec.zoneRef.name} does not exist: create it or fix spec.zoneRef.name`;
      } else if (hosts.length === 0) {
        state = 'Initialized';
        why = `no host is in the pool's scope (${pool.spec.scope ?? 'Cluster'}) yet`;
      } else if (mounted.length > 0) {
        state = 'Up';
      } else if (connected.length === 0) {
        state = 'Down';
        why = `no host in scope is connected (${listNames(hosts.map((h) => `${h.metadata.name} ${h.status?.state ?? 'unknown'}`))})`;
      } else if (notMounted.every((h) => !reports.has(h.metadata.name ?? ''))) {
        state = 'Initialized';
        why = `waiting for the agents of ${listNames(notMounted.map((h) => h.metadata.name ?? ''))} to mount it`;
      } else {
        state = 'Down';
        why = `not mounted on any connected host: ${notMounted.map(describe).join('; ')}`;
      }

      const mountedCondition: ConditionUpdate =
        connected.length > 0 && notMounted.length === 0
          ? { type: MOUNTED, status: 'True', reason: 'MountedOnAllHosts', message: `mounted on ${mounted.length} connected host(s)` }
          : { type: MOUNTED, status: 'False', reason: connected.length ? 'NotMountedEverywhere' : 'NoConnectedHost', message: connected.length ? `not mounted on ${notMounted.map(describe).join('; ')}` : 'no connected host in scope' };
      const factor = poolOverprovision(pool, ctx.settings());
      const tallies = new Map<CapacityType, Tally>([
        ['STORAGE', { total: capacityBytes, allocated: usedBytes, used: usedBytes }],
        ['STORAGE_ALLOCATED', { total: Math.floor(capacityBytes * factor), allocated: allocatedBytes, used: allocatedBytes }],
      ]);
      const full = thresholdBreaches(tallies, thresholdRules(settings, [
        ['STORAGE_ALLOCATED', 'allocated', 'pool.storage.allocated.capacity.disablethreshold'],
        ['STORAGE', 'used', 'pool.storage.capacity.disablethreshold'],
      ]));
      const blockers = [
        state === 'Up' ? undefined : { reason: 'NotUp', message: `the pool is ${state}${why ? `: ${why}` : ''}` },
        full.length ? { reason: 'CapacityThresholdReached', message: `capacity disable threshold reached: ${full.join('; ')}` } : undefined,
      ].filter((b) => b !== undefined);
      const degraded = state === 'Up' && notMounted.length ? `not mounted on ${notMounted.map(describe).join('; ')}` : '';
      return {
        state,
        fields: { capacityBytes, allocatedBytes, usedBytes },
        conditions: [
          state === 'Up' ? { type: 'Ready', status: 'True', reason: 'PoolUp', message: degraded } : { type: 'Ready', status: 'False', reason: `Pool${state}`, message: `${state}: ${why}` },
          mountedCondition,
          allocatableCondition(blockers),
        ],
      };
    },
    stateEvents,
    deletedEvent: () => ({ reason: 'PRIMARY.STORAGE.DELETE', note: 'storage pool removed' }),
    watches: [
      watchNames(i.hosts, (h) => poolsOfHost(h)),
      watchNames(i.volumes, (v) => [v.status?.pool]),
      watchNames(i.vms, (vm) => i.volumes.byIndex(INDEX.vm, vmKey(vm)).map((v) => v.status?.pool)),
      watchNames(i.zones, (z) => i.primaryStorages.byIndex(INDEX.zone, z.metadata.name ?? '').map((p) => p.metadata.name)),
      watchNames(i.clusters, (c) => i.primaryStorages.byIndex(INDEX.cluster, c.metadata.name ?? '').map((p) => p.metadata.name)),
      everyObject(i.configurations, i.primaryStorages),
    ],
  });
}
