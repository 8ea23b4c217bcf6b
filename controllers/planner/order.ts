/**
 * CloudStack's placement strategies, as orderings. The deployment planner (vm.deployment.planner,
 * or the service offering's deploymentPlanner) orders clusters; the host allocator
 * (vm.allocation.algorithm) orders hosts inside a cluster. The planner takes the first host, in
 * that order, that passes every filter.
 *
 * - FirstFitPlanner: clusters with the most free capacity first (host.capacityType.to.order.clusters:
 *   CPU, RAM or COMBINED).
 * - UserDispersingPlanner: clusters with the fewest of the account's VMs first, blended
 *   with free capacity by vm.user.dispersion.weight (1: dispersion only).
 * - UserConcentratedPodPlanner: pods with the most of the account's VMs first; clusters
 *   keep their capacity order inside a pod.
 * - Hosts: random (shuffled), firstfit (by name), userdispersing (fewest of the account's running
 *   VMs first), firstfitleastconsumed (least used first); userconcentratedpod_random and
 *   userconcentratedpod_firstfit order hosts as random and firstfit.
 */
import type { DEPLOYMENT_PLANNERS } from '../../crds/index.ts';
import type { SETTINGS } from '../../lib/settings.ts';
import type { Load } from './capacity-index.ts';

export type DeploymentPlanner = (typeof DEPLOYMENT_PLANNERS)[number];
export type HostAllocator = (typeof SETTINGS)['vm.allocation.algorithm']['check']['values'][number];
export type CapacityType = (typeof SETTINGS)['host.capacityType.to.order.clusters']['check']['values'][number];


function ratio(allocated: number, total: number): number {
  return total > 0 ? allocated / total : Number.POSITIVE_INFINITY;
}

function byType(cpu: number, memory: number, type: CapacityType): number {
  switch (type) {
    case 'CPU':
      return cpu;
    case 'RAM':
      return memory;
    case 'COMBINED':
      return (cpu + memory) / 2;
  }
}

/** Allocated over total of the capacity type that orders; a cluster with no capacity sorts last. */
export function usedRatio(load: Load, type: CapacityType): number {
  return byType(ratio(load.cpu.allocated, load.cpu.total), ratio(load.memory.allocated, load.memory.total), type);
}

export interface ClusterCandidate {
  name: string;
  pod: string;
  load: Load;
  /** The account's VMs in the cluster. */
  accountVms: number;
}

export interface OrderSettings {
  capacityType: CapacityType;
  dispersionWeight: number;
}

function byKey<T>(items: readonly T[], key: (item: T) => number): T[] {
  // Array.prototype.sort is stable: ties keep the incoming (name) order.
  return items.map((item) => ({ item, k: key(item) })).sort((a, b) => a.k - b.k).map((e) => e.item);
}

/** Clusters in the order the deployment planner tries them; `clusters` come sorted by pod, then name. */
export function orderClusters<C extends ClusterCandidate>(planner: DeploymentPlanner, clusters: readonly C[], s: OrderSettings): C[] {
  const byCapacity = byKey(clusters, (c) => usedRatio(c.load, s.capacityType));
  switch (planner) {
    case 'FirstFitPlanner':
      return byCapacity;
    case 'UserDispersingPlanner': {
      const most = Math.max(0, ...clusters.map((c) => c.accountVms));
      const finite = (r: number) => (Number.isFinite(r) ? r : 2);
      return byKey(clusters, (c) => s.dispersionWeight * (most > 0 ? c.accountVms / most : 0) + (1 - s.dispersionWeight) * finite(usedRatio(c.load, s.capacityType)));
    }
    case 'UserConcentratedPodPlanner': {
      const perPod = new Map<string, number>();
      for (const c of clusters) perPod.set(c.pod, (perPod.get(c.pod) ?? 0) + c.accountVms);
      return byKey(byCapacity, (c) => -(perPod.get(c.pod) ?? 0));
    }
  }
}

/** A host's figures, flat: the planner makes one per host it looks at. */
export interface HostCandidate {
  name: string;
  /** MHz and bytes, totals with the overcommit factors. */
  cpuTotal: number;
  cpuAllocated: number;
  memoryTotal: number;
  memoryAllocated: number;
  /** The account's VMs on the host. */
  accountVms: number;
}

/** Fisher–Yates with the given source of randomness. */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Hosts of one cluster in the order the host allocator tries them; `hosts` come sorted by name. */
export function orderHosts<H extends HostCandidate>(allocator: HostAllocator, hosts: readonly H[], s: OrderSettings, random: () => number): H[] {
  switch (allocator) {
    case 'random':
    case 'userconcentratedpod_random':
      return shuffle(hosts, random);
    case 'firstfit':
    case 'userconcentratedpod_firstfit':
      return [...hosts];
    case 'userdispersing':
      return byKey(hosts, (h) => h.accountVms);
    case 'firstfitleastconsumed':
      return byKey(hosts, (h) => byType(ratio(h.cpuAllocated, h.cpuTotal), ratio(h.memoryAllocated, h.memoryTotal), s.capacityType));
  }
}
