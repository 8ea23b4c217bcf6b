/**
 * Zone: counts its pods, clusters and hosts, rolls up capacity over everything in it
 * (listCapacity), says whether it is Ready (a Ready pod, primary storage Up, a Ready image
 * store) and Allocatable (Enabled and Ready), and cannot be deleted while anything lives in it.
 */
import { CAPACITY_TYPES, Zone, type ZoneObject } from '../crds/index.ts';
import type { Manager } from '../lib/manager.ts';
import { ALLOCATABLE, CAPACITY_ALERT, allocatableCondition, allocationLifecycleEvents, capacityAlert, disabledBlocker, readyFromChildren, thresholdRules, type RuleSpec } from './allocation.ts';
import { capacityStatus } from './capacity.ts';
import { clustersOfZone, hostsOfZone, zoneOfHostName, zoneRollup } from './hierarchy.ts';
import { CHILDREN_FINALIZER, INDEX, isTrue, type InfraContext } from './infra-context.ts';
import { everyObject, registerKindReconciler, someChildReady, watchNames } from './reconciler.ts';

/** Past these the zone raises CapacityAlert. */
const NOTIFICATION_RULES: RuleSpec[] = [
  ['VIRTUAL_NETWORK_PUBLIC_IP', 'used', 'zone.virtualnetwork.publicip.capacity.notificationthreshold'],
  ['DIRECT_ATTACHED_PUBLIC_IP', 'used', 'zone.directnetwork.publicip.capacity.notificationthreshold'],
  ['VLAN', 'used', 'zone.vlan.capacity.notificationthreshold'],
  ['SECONDARY_STORAGE', 'used', 'zone.secstorage.capacity.notificationthreshold'],
];

export function registerZoneController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  const zoneOfPod = (name: string | undefined) => (name ? i.pods.get(name)?.spec.zoneRef.name : undefined);
  const zoneOfCluster = (name: string | undefined) => zoneOfPod(name ? i.clusters.get(name)?.spec.podRef.name : undefined);
  const zoneOfRange = (name: string | undefined) => (name ? i.ipRanges.get(name)?.spec.zoneRef.name : undefined);

  registerKindReconciler<ZoneObject>(manager, ctx, {
    name: 'zone',
    kind: Zone,
    informer: i.zones,
    ownership: { fields: ['capacity', 'podCount', 'clusterCount', 'hostCount'], conditions: ['Ready', ALLOCATABLE, CAPACITY_ALERT] },
    finalizer: CHILDREN_FINALIZER,
    remaining(zone) {
      const name = zone.metadata.name ?? '';
      return [
        ...i.pods.byIndex(INDEX.zone, name).map((o) => `Pod ${o.metadata.name}`),
        ...i.primaryStorages.byIndex(INDEX.zone, name).map((o) => `PrimaryStorage ${o.metadata.name}`),
        ...i.secondaryStorages.byIndex(INDEX.zone, name).map((o) => `SecondaryStorage ${o.metadata.name}`),
        ...i.physicalNetworks.byIndex(INDEX.zone, name).map((o) => `PhysicalNetwork ${o.metadata.name}`),
        ...i.ipRanges.byIndex(INDEX.zone, name).map((o) => `IPRange ${o.metadata.name}`),
      ];
    },
    observe(zone) {
      const name = zone.metadata.name ?? '';
      const settings = ctx.settings();
      const pods = i.pods.byIndex(INDEX.zone, name);
      const pools = i.primaryStorages.byIndex(INDEX.zone, name);
      const stores = i.secondaryStorages.byIndex(INDEX.zone, name);
      const podHealth = someChildReady('Pod', pods, `the zone has no pods: create a Pod with spec.zoneRef.name ${name}`);
      const poolHealth = someChildReady('PrimaryStorage', pools, `the zone has no primary storage: create a PrimaryStorage with spec.zoneRef.name ${name}`);
      const storeHealth = someChildReady('SecondaryStorage', stores, `the zone has no image store: create a SecondaryStorage with spec.zoneRef.name ${name}`);
      const parts = [podHealth, poolHealth, storeHealth];
      const ready = parts.every((p) => p.ok);
      const message = parts.map((p) => p.message).filter(Boolean).join('; ');
      const state = zone.spec.allocationState ?? 'Disabled';
      const rollup = zoneRollup(ctx, zone);
      const alert = capacityAlert(rollup, thresholdRules(settings, NOTIFICATION_RULES), isTrue(zone, CAPACITY_ALERT));
      const blockers = [disabledBlocker('zone', state), ready ? undefined : { reason: 'NotReady', message: `the zone is not Ready: ${message}` }].filter((b) => b !== undefined);
      return {
        state,
        fields: {
          capacity: capacityStatus(rollup, CAPACITY_TYPES),
          podCount: pods.length,
          clusterCount: clustersOfZone(ctx, name).length,
          hostCount: hostsOfZone(ctx, name).length,
        },
        conditions: [
          readyFromChildren({ ok: ready, message }, 'ZoneReady'),
          allocatableCondition(blockers),
          alert.condition,
        ],
        events: alert.events,
      };
    },
    ...allocationLifecycleEvents('ZONE'),
    watches: [
      watchNames(i.pods, (o) => [o.spec.zoneRef.name]),
      watchNames(i.clusters, (o) => [zoneOfPod(o.spec.podRef.name)]),
      watchNames(i.hosts, (o) => [zoneOfCluster(o.spec.clusterRef.name)]),
      watchNames(i.primaryStorages, (o) => [o.spec.zoneRef.name]),
      watchNames(i.secondaryStorages, (o) => [o.spec.zoneRef.name]),
      watchNames(i.physicalNetworks, (o) => [o.spec.zoneRef.name]),
      watchNames(i.ipRanges, (o) => [o.spec.zoneRef.name]),
      watchNames(i.ipAddresses, (o) => [o.spec.ipRangeRef ? zoneOfRange(o.spec.ipRangeRef.name) : undefined]),
      watchNames(i.vlanAllocations, (o) => [i.physicalNetworks.get(o.spec.physicalNetworkRef.name)?.spec.zoneRef.name]),
      watchNames(i.vms, (o) => [o.status?.placement?.zone, o.status?.placement?.host ? zoneOfHostName(ctx, o.status.placement.host) : undefined]),
      everyObject(i.configurations, i.zones),
    ],
  });
}
