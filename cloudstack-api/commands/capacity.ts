import { Cluster, Pod, Zone, type ClusterObject, type PodObject, type ZoneObject } from '../../crds/index.ts';
import { findOptional, keywordMatches } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { type Command, defineCommand } from './define.ts';
import type { Infra } from './context.ts';
import { ancestryFields, clusterAncestry, podAncestry } from './infra-views.ts';

/**
 * listCapacity, served from the capacity the controllers roll up in the status of each zone,
 * pod and cluster (derived from hosts, pools, addresses and VMs, never from a counter).
 */

/** CloudStack's capacity type numbers (Capacity.CAPACITY_TYPE_*). */
export const CAPACITY_TYPE_NUMBERS: Readonly<Record<string, number>> = {
  MEMORY: 0,
  CPU: 1,
  STORAGE: 2,
  STORAGE_ALLOCATED: 3,
  VIRTUAL_NETWORK_PUBLIC_IP: 4,
  PRIVATE_IP: 5,
  SECONDARY_STORAGE: 6,
  VLAN: 7,
  DIRECT_ATTACHED_PUBLIC_IP: 8,
  LOCAL_STORAGE: 9,
  CPU_CORE: 90,
};

interface Scope {
  readonly zone?: ZoneObject;
  readonly pod?: PodObject;
  readonly cluster?: ClusterObject;
}

interface Figure {
  type: string;
  total: number;
  used: number;
  allocated?: number;
  percentUsed?: number;
}

/** The capacity entries of the innermost object of `scope`, as listCapacity items (and zones' `capacity`). */
export function capacityFields(infra: Infra, scope: Scope): Fields[] {
  const owner = scope.cluster ?? scope.pod ?? scope.zone;
  const figures = (owner?.status?.capacity ?? []) as Figure[];
  const where = scope.cluster ? clusterAncestry(infra, scope.cluster.metadata.name) : scope.pod ? podAncestry(infra, scope.pod.metadata.name) : { zone: scope.zone };
  return figures.map((f) => ({
    type: CAPACITY_TYPE_NUMBERS[f.type] ?? -1,
    name: f.type,
    capacitytotal: f.total,
    capacityused: f.used,
    capacityallocated: f.allocated ?? 0,
    percentused: (f.percentUsed ?? (f.total > 0 ? (f.used / f.total) * 100 : 0)).toFixed(2),
    ...ancestryFields(where),
  }));
}

export function capacityCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const listCapacity = defineCommand({
    name: 'listCapacity',
    kind: 'list',
    description: 'Lists all the system wide capacities.',
    params: {
      zoneid: { type: 'uuid', description: 'lists capacity by the Zone ID', entity: 'zone' },
      podid: { type: 'uuid', description: 'lists capacity by the Pod ID', entity: 'pod' },
      clusterid: { type: 'uuid', description: 'lists capacity by the Cluster ID', entity: 'cluster' },
      type: { type: 'integer', description: 'lists capacity by type* CAPACITY_TYPE_MEMORY = 0* CAPACITY_TYPE_CPU = 1* CAPACITY_TYPE_STORAGE = 2* CAPACITY_TYPE_STORAGE_ALLOCATED = 3* CAPACITY_TYPE_VIRTUAL_NETWORK_PUBLIC_IP = 4* CAPACITY_TYPE_PRIVATE_IP = 5* CAPACITY_TYPE_SECONDARY_STORAGE = 6* CAPACITY_TYPE_VLAN = 7* CAPACITY_TYPE_DIRECT_ATTACHED_PUBLIC_IP = 8* CAPACITY_TYPE_LOCAL_STORAGE = 9* CAPACITY_TYPE_CPU_CORE = 90.' },
      keyword: { type: 'string', description: 'List by keyword' },
      fetchlatest: { type: 'boolean', description: 'recalculate capacities and fetch the latest' },
      sortby: { type: 'string', description: 'Sort the results. Available values: Usage' },
    },
    async handle(p, ctx) {
      const label = 'listcapacity';
      const cluster = findOptional(cache.clusters, p.clusterid, label, 'clusterid');
      const pod = findOptional(cache.pods, p.podid, label, 'podid');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      let rows: Fields[];
      if (cluster) {
        await infra.mayRead(ctx, Cluster);
        rows = capacityFields(infra, { cluster });
      } else if (pod) {
        await infra.mayRead(ctx, Pod);
        rows = capacityFields(infra, { pod });
      } else {
        await infra.mayRead(ctx, Zone);
        rows = (zone ? [zone] : cache.zones.list()).flatMap((z) => capacityFields(infra, { zone: z }));
      }
      const filtered = rows.filter((row) => (p.type === undefined || row['type'] === p.type) && keywordMatches(p.keyword, row['name'] as string, row['zonename'] as string));
      if (p.sortby?.toLowerCase() === 'usage') filtered.sort((a, b) => Number(b['percentused']) - Number(a['percentused']));
      return filtered;
    },
    mapItem: (row) => row,
  });
  return [listCapacity];
}
