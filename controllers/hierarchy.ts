/**
 * Reads of the zone → pod → cluster → host tree from the informer caches: ancestry, the VMs
 * placed on a host and what they take, and the capacity rollup of a cluster, pod or zone.
 * Parents compute from the caches directly rather than from their children's status, so a
 * rollup never waits for a chain of status writes.
 */
import { countRollup, hostRollup, poolRollup, rangeSize, ipInRange, sumRollups, type HostFacts, type PoolFacts, type Rollup } from './capacity.ts';
import type { ClusterObject, HostObject, PodObject, PrimaryStorageObject, VirtualMachineObject, ZoneObject } from '../crds/index.ts';
import {
  INDEX,
  type InfraContext,
} from './infra-context.ts';
import { clusterOvercommit, poolOverprovision } from '../lib/settings.ts';
import { holdsAt, vmUsage, type VmUsage } from '../lib/usage.ts';

export interface Ancestry {
  zone?: string;
  pod?: string;
  cluster?: string;
}

export function clusterAncestry(ctx: InfraContext, clusterName: string): Ancestry {
  const cluster = ctx.informers.clusters.get(clusterName);
  const podName = cluster?.spec.podRef.name;
  const pod = podName ? ctx.informers.pods.get(podName) : undefined;
  return { cluster: clusterName, pod: podName, zone: pod?.spec.zoneRef.name };
}

export function hostAncestry(ctx: InfraContext, host: HostObject): Ancestry {
  return clusterAncestry(ctx, host.spec.clusterRef.name);
}

export function zoneOfHostName(ctx: InfraContext, hostName: string): string | undefined {
  const host = ctx.informers.hosts.get(hostName);
  return host ? hostAncestry(ctx, host).zone : undefined;
}

export function clustersOfZone(ctx: InfraContext, zoneName: string): ClusterObject[] {
  return ctx.informers.pods.byIndex(INDEX.zone, zoneName).flatMap((pod) => ctx.informers.clusters.byIndex(INDEX.pod, pod.metadata.name ?? ''));
}

export function hostsOfCluster(ctx: InfraContext, clusterName: string): HostObject[] {
  return ctx.informers.hosts.byIndex(INDEX.cluster, clusterName);
}

export function hostsOfPod(ctx: InfraContext, podName: string): HostObject[] {
  return ctx.informers.clusters.byIndex(INDEX.pod, podName).flatMap((c) => hostsOfCluster(ctx, c.metadata.name ?? ''));
}

export function hostsOfZone(ctx: InfraContext, zoneName: string): HostObject[] {
  return clustersOfZone(ctx, zoneName).flatMap((c) => hostsOfCluster(ctx, c.metadata.name ?? ''));
}

const GONE_VM_STATES = new Set(['Destroyed', 'Expunging']);

/** A VM stays on its host from placement until it is destroyed: the host cannot go away under it. */
export function isPlaced(vm: VirtualMachineObject): boolean {
  return vm.status?.placement?.host !== undefined && !GONE_VM_STATES.has(vm.status.state ?? '');
}

export function vmsOnHost(ctx: InfraContext, hostName: string): VirtualMachineObject[] {
  return ctx.informers.vms.byIndex(INDEX.host, hostName).filter(isPlaced);
}

export function vmKey(vm: VirtualMachineObject): string {
  return `${vm.metadata.namespace ?? ''}/${vm.metadata.name ?? ''}`;
}

/** What the VM takes from its host now, by lib/usage.ts (the planner counts the same way), or undefined when it holds nothing. */
export function vmHolding(ctx: InfraContext, vm: VirtualMachineObject): VmUsage | undefined {
  const usage = vmUsage(vm, ctx.informers.serviceOfferings.get(vm.spec.serviceOfferingRef.name)?.spec, ctx.settings());
  return usage && holdsAt(usage, ctx.now().getTime()) ? usage : undefined;
}

/** What the VMs holding the host take: running ones, and stopped ones within capacity.skipcounting.hours. */
export function holdingsOfHost(ctx: InfraContext, hostName: string): VmUsage[] {
  return ctx.informers.vms.byIndex(INDEX.host, hostName).flatMap((vm) => vmHolding(ctx, vm) ?? []);
}

const MAINTENANCE = new Set(['Maintenance', 'ErrorInMaintenance']);
const COUNTED_CONNECTIONS = new Set(['Up', 'Alert', 'Disconnected']);

/** A host's capacity counts while it is connected (or briefly late) and not in maintenance. */
export function hostFacts(host: HostObject): HostFacts | undefined {
  const capacity = host.status?.capacity;
  if (!capacity || !COUNTED_CONNECTIONS.has(host.status?.state ?? '') || MAINTENANCE.has(host.status?.resourceState ?? '')) return undefined;
  return { cpuNumber: capacity.cpuNumber, cpuSpeed: capacity.cpuSpeed, memoryBytes: capacity.memoryBytes };
}


/** A pool's figures as its controller reported them; only an Up pool contributes capacity. */
export function poolFacts(ctx: InfraContext, pool: PrimaryStorageObject): PoolFacts {
  const up = pool.status?.state === 'Up';
  return {
    local: pool.spec.scope === 'Host',
    capacityBytes: up ? (pool.status?.capacityBytes ?? 0) : 0,
    usedBytes: pool.status?.usedBytes ?? 0,
    allocatedBytes: pool.status?.allocatedBytes ?? 0,
    overprovisionFactor: poolOverprovision(pool, ctx.settings()),
  };
}

function hostRollupOf(ctx: InfraContext, host: HostObject, cluster: ClusterObject | undefined): Rollup {
  return hostRollup(hostFacts(host), clusterOvercommit(cluster, ctx.settings()), holdingsOfHost(ctx, host.metadata.name ?? ''));
}

/** Pools whose capacity belongs to the cluster: cluster-scoped ones and its hosts' local ones. */
function poolsOfCluster(ctx: InfraContext, clusterName: string): PrimaryStorageObject[] {
  const local = hostsOfCluster(ctx, clusterName).flatMap((h) => ctx.informers.primaryStorages.byIndex(INDEX.host, h.metadata.name ?? ''));
  return [...ctx.informers.primaryStorages.byIndex(INDEX.cluster, clusterName), ...local];
}

export function clusterRollup(ctx: InfraContext, cluster: ClusterObject): Rollup {
  const name = cluster.metadata.name ?? '';
  return sumRollups([
    ...hostsOfCluster(ctx, name).map((h) => hostRollupOf(ctx, h, cluster)),
    ...poolsOfCluster(ctx, name).map((p) => poolRollup(poolFacts(ctx, p))),
  ]);
}

/**
 * Management addresses: the pod's reserved range, used by its hosts' management addresses,
 * plus its Management and Storage IPRanges, used by the IPAddress objects taken from them.
 */
function privateIpRollup(ctx: InfraContext, pod: PodObject): Rollup {
  const start = pod.spec.startIp;
  const end = pod.spec.endIp ?? pod.spec.startIp;
  const reservedUsed = hostsOfPod(ctx, pod.metadata.name ?? '').filter((h) => h.status?.ipAddress !== undefined && ipInRange(h.status.ipAddress, start, end)).length;
  const ranges = ctx.informers.ipRanges.byIndex(INDEX.pod, pod.metadata.name ?? '');
  return sumRollups([
    countRollup('PRIVATE_IP', rangeSize(start, end), reservedUsed),
    ...ranges.map((r) => countRollup('PRIVATE_IP', rangeSize(r.spec.startIp, r.spec.endIp), ctx.informers.ipAddresses.byIndex(INDEX.ipRange, r.metadata.name ?? '').length)),
  ]);
}

export function podRollup(ctx: InfraContext, pod: PodObject): Rollup {
  const clusters = ctx.informers.clusters.byIndex(INDEX.pod, pod.metadata.name ?? '');
  return sumRollups([...clusters.map((c) => clusterRollup(ctx, c)), privateIpRollup(ctx, pod)]);
}

function idCount(ranges: readonly { start: number; end: number }[] | undefined): number {
  return (ranges ?? []).reduce((n, r) => n + (r.end - r.start + 1), 0);
}

export function zoneRollup(ctx: InfraContext, zone: ZoneObject): Rollup {
  const name = zone.metadata.name ?? '';
  const i = ctx.informers;
  const zonePools = i.primaryStorages.byIndex(INDEX.zone, name).filter((p) => p.spec.scope === 'Zone');
  const ranges = i.ipRanges.byIndex(INDEX.zone, name);
  const addressesOf = (purpose: string) =>
    ranges.filter((r) => r.spec.purpose === purpose).map((r) => ({ total: rangeSize(r.spec.startIp, r.spec.endIp), used: i.ipAddresses.byIndex(INDEX.ipRange, r.metadata.name ?? '').length }));
  const physicalNetworks = i.physicalNetworks.byIndex(INDEX.zone, name);
  const secondary = i.secondaryStorages.byIndex(INDEX.zone, name);
  return sumRollups([
    ...i.pods.byIndex(INDEX.zone, name).map((p) => podRollup(ctx, p)),
    ...zonePools.map((p) => poolRollup(poolFacts(ctx, p))),
    ...addressesOf('Public').map((r) => countRollup('VIRTUAL_NETWORK_PUBLIC_IP', r.total, r.used)),
    ...addressesOf('Guest').map((r) => countRollup('DIRECT_ATTACHED_PUBLIC_IP', r.total, r.used)),
    ...physicalNetworks.map((pn) =>
      countRollup('VLAN', idCount(pn.spec.vlanRanges) + idCount(pn.spec.vniRanges), i.vlanAllocations.byIndex(INDEX.physicalNetwork, pn.metadata.name ?? '').length),
    ),
    ...secondary.map((s) => countRollup('SECONDARY_STORAGE', s.status?.capacityBytes ?? 0, s.status?.usedBytes ?? 0)),
  ]);
}
