import type { HostObject } from '../../crds/index.ts';
import type { Settings } from '../../lib/settings.ts';
import { INDEX } from '../lists/indexes.ts';
import type { Fields } from '../protocol/envelope.ts';
import type { RequestParams } from '../protocol/params.ts';
import { catalogueEntry } from './catalogue.ts';
import { globalSettings, type Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import type { ParamSpecs } from './params.ts';

/**
 * The *Metrics twins of the infrastructure lists, which the web UI's Zones, Clusters, Hosts and
 * Primary Storage pages are built on (each page exists only when its Metrics command is in
 * listApis). Each answers the rows of its base list, with the same filters, plus the figures
 * CloudStack's MetricsServiceImpl adds, in its formats ("12.50%", "4.00 Ghz", "16.00 GB",
 * "3 / 4"), computed from the capacity the controllers roll up and the agents report.
 */

const GIB = 1024 ** 3;
const ghz = (mhz: number) => `${(mhz / 1000).toFixed(2)} Ghz`;
const gb = (bytes: number) => `${(bytes / GIB).toFixed(2)} GB`;
const pct = (part: number, whole: number) => (whole > 0 ? `${((part * 100) / whole).toFixed(2)}%` : undefined);
const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : 0);
const upOf = (up: number, total: number) => `${up} / ${total}`;

/** Typed values back into request parameters, for the base list: lists comma-joined, maps indexed. */
function requestParamsOf(values: Readonly<Record<string, unknown>>): RequestParams {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(values)) {
    // The base answers every row; the Metrics command pages them.
    if (value === undefined || name === 'page' || name === 'pagesize') continue;
    if (Array.isArray(value)) {
      if (value.every((item) => typeof item === 'string')) out.set(name, value.join(','));
      else value.forEach((entry: Record<string, string>, i) => Object.entries(entry).forEach(([key, v]) => out.set(`${name}[${i}].${key}`, v)));
    } else if (value instanceof Date) {
      out.set(name, value.toISOString().slice(0, 10));
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      out.set(name, String(value));
    }
  }
  return out;
}

interface CapacityFigure {
  total: number;
  used: number;
  allocated: number;
}

/** A capacity row of a zone's or cluster's `capacity` (listCapacity's fields), by CloudStack type number. */
function figure(row: Fields, type: number): CapacityFigure | undefined {
  const found = (row['capacity'] as Fields[] | undefined)?.find((c) => c['type'] === type);
  if (!found) return undefined;
  return { total: Number(found['capacitytotal'] ?? 0), used: Number(found['capacityused'] ?? 0), allocated: Number(found['capacityallocated'] ?? 0) };
}

interface Thresholds {
  usedNotify: number;
  usedDisable: number;
  allocatedNotify: number;
  allocatedDisable: number;
}

const cpuThresholds = (s: Settings): Thresholds => ({
  usedNotify: s.number('cluster.cpu.allocated.capacity.notificationthreshold'),
  usedDisable: s.number('cluster.cpu.allocated.capacity.disablethreshold'),
  allocatedNotify: s.number('cluster.cpu.allocated.capacity.notificationthreshold'),
  allocatedDisable: s.number('cluster.cpu.allocated.capacity.disablethreshold'),
});

const memoryThresholds = (s: Settings): Thresholds => ({
  usedNotify: s.number('cluster.memory.allocated.capacity.notificationthreshold'),
  usedDisable: s.number('cluster.memory.allocated.capacity.disablethreshold'),
  allocatedNotify: s.number('cluster.memory.allocated.capacity.notificationthreshold'),
  allocatedDisable: s.number('cluster.memory.allocated.capacity.disablethreshold'),
});

/** cputhreshold, cpudisablethreshold, cpuallocatedthreshold, cpuallocateddisablethreshold (and memory's). */
function thresholdFields(prefix: 'cpu' | 'memory', used: number, allocated: number, t: Thresholds): Fields {
  return {
    [`${prefix}threshold`]: used > t.usedNotify,
    [`${prefix}disablethreshold`]: used > t.usedDisable,
    [`${prefix}allocatedthreshold`]: allocated > t.allocatedNotify,
    [`${prefix}allocateddisablethreshold`]: allocated > t.allocatedDisable,
  };
}

/** The spread between the busiest host and the average, in percent (CloudStack's *maxdeviation). */
function maxDeviation(values: number[]): string | undefined {
  if (values.length === 0) return undefined;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return `${(Math.max(...values) - mean).toFixed(2)}%`;
}

function hostPercents(hosts: HostObject[]): { cpu: number[]; memory: number[] } {
  const withUsage = hosts.filter((h) => h.status?.usage !== undefined && h.status.capacity !== undefined);
  return {
    cpu: withUsage.map((h) => h.status!.usage!.cpuUsedPercent),
    memory: withUsage.map((h) => ratio(h.status!.usage!.memoryUsedBytes ?? 0, h.status!.capacity!.memoryBytes) * 100),
  };
}

export function infraMetricsCommands(infra: Infra, bases: readonly Command[]): Command[] {
  const { cache } = infra;
  const base = (name: string): Command => {
    const found = bases.find((c) => c.name === name);
    if (!found) throw new Error(`the Metrics twin needs ${name} in the table`);
    return found;
  };

  /** The base list's parameters that the Metrics command also takes (paging is added again by defineCommand). */
  function sharedParams(metrics: string, of: Command): ParamSpecs {
    const types = catalogueEntry(metrics)?.paramTypes ?? {};
    return Object.fromEntries(Object.entries(of.params).filter(([name]) => name in types && name !== 'page' && name !== 'pagesize'));
  }

  /** Every row of the base list for these filters (unpaged), with capacities when `capacities`. */
  async function baseRows(of: Command, values: Readonly<Record<string, unknown>>, ctx: CommandContext, capacities: boolean): Promise<Fields[]> {
    const body = await of.execute(requestParamsOf(capacities ? { ...values, showcapacities: true } : values), ctx);
    return body.kind === 'list' ? [...body.items] : [];
  }

  /** The capacity figures a zone's or cluster's metrics add, from its rolled-up capacity and its hosts. */
  function computeFigures(row: Fields, hosts: HostObject[], settings: Settings): Fields {
    const cpu = figure(row, 1);
    const memory = figure(row, 0);
    const percents = hostPercents(hosts);
    return {
      cputotal: cpu ? ghz(cpu.total) : undefined,
      cpuused: cpu ? pct(cpu.used, cpu.total) : undefined,
      cpuallocated: cpu ? pct(cpu.allocated, cpu.total) : undefined,
      cpumaxdeviation: maxDeviation(percents.cpu),
      ...(cpu ? thresholdFields('cpu', ratio(cpu.used, cpu.total), ratio(cpu.allocated, cpu.total), cpuThresholds(settings)) : {}),
      memorytotal: memory ? gb(memory.total) : undefined,
      memoryused: memory ? pct(memory.used, memory.total) : undefined,
      memoryallocated: memory ? pct(memory.allocated, memory.total) : undefined,
      memorymaxdeviation: maxDeviation(percents.memory),
      ...(memory ? thresholdFields('memory', ratio(memory.used, memory.total), ratio(memory.allocated, memory.total), memoryThresholds(settings)) : {}),
    };
  }

  /** A row without its capacity list unless the caller asked for it. */
  const withoutCapacity = (row: Fields, keep: boolean | undefined): Fields => (keep === true ? row : { ...row, capacity: undefined });

  const listZones = base('listZones');
  const listZonesMetrics = defineCommand({
    name: 'listZonesMetrics',
    kind: 'list',
    description: 'Lists zone metrics',
    params: sharedParams('listZonesMetrics', listZones),
    async handle(p, ctx) {
      const rows = await baseRows(listZones, p, ctx, true);
      const settings = globalSettings(infra);
      return rows.map((row) => {
        const zone = cache.zones.byUid(row['id'] as string);
        const name = zone?.metadata.name ?? '';
        const clusters = cache.clusters.byIndex(INDEX.zone, name);
        const hosts = cache.hosts.byIndex(INDEX.zone, name);
        const enabled = clusters.filter((c) => (c.spec.allocationState ?? 'Enabled') === 'Enabled').length;
        return {
          ...withoutCapacity(row, (p as { showcapacities?: boolean }).showcapacities),
          ...computeFigures(row, hosts, settings),
          clusters: upOf(enabled, clusters.length),
          state: row['allocationstate'],
        };
      });
    },
    mapItem: (row) => row,
  });

  const listClusters = base('listClusters');
  const listClustersMetrics = defineCommand({
    name: 'listClustersMetrics',
    kind: 'list',
    description: 'Lists clusters metrics',
    params: sharedParams('listClustersMetrics', listClusters),
    async handle(p, ctx) {
      const rows = await baseRows(listClusters, p, ctx, true);
      const settings = globalSettings(infra);
      return rows.map((row) => {
        const cluster = cache.clusters.byUid(row['id'] as string);
        const hosts = cluster ? cache.hosts.byIndex(INDEX.cluster, cluster.metadata.name ?? '') : [];
        return {
          ...withoutCapacity(row, (p as { showcapacities?: boolean }).showcapacities),
          ...computeFigures(row, hosts, settings),
          hosts: upOf(hosts.filter((h) => h.status?.state === 'Up').length, hosts.length),
          state: row['allocationstate'],
        };
      });
    },
    mapItem: (row) => row,
  });

  const listHosts = base('listHosts');
  const listHostsMetrics = defineCommand({
    name: 'listHostsMetrics',
    kind: 'list',
    description: 'Lists hosts metrics',
    params: sharedParams('listHostsMetrics', listHosts),
    async handle(p, ctx) {
      const rows = await baseRows(listHosts, p, ctx, false);
      const settings = globalSettings(infra);
      return rows.map((row) => {
        const host = cache.hosts.byUid(row['id'] as string);
        const cpuTotal = Number(row['cpunumber'] ?? 0) * Number(row['cpuspeed'] ?? 0);
        const cpuUsedPercent = host?.status?.usage?.cpuUsedPercent;
        const cpuAllocated = Number(row['cpuallocatedvalue'] ?? 0);
        const memTotal = Number(row['memorytotal'] ?? 0);
        const memUsed = host?.status?.usage?.memoryUsedBytes;
        const memAllocated = Number(row['memoryallocatedbytes'] ?? 0);
        const vms = host ? cache.virtualMachines.byIndex(INDEX.host, host.metadata.name ?? '') : [];
        return {
          ...row,
          cputotalghz: row['cpunumber'] === undefined ? undefined : ghz(cpuTotal),
          cpuusedghz: cpuUsedPercent === undefined ? undefined : ghz((cpuTotal * cpuUsedPercent) / 100),
          cpuallocatedghz: ghz(cpuAllocated),
          ...(cpuTotal > 0 ? thresholdFields('cpu', (cpuUsedPercent ?? 0) / 100, ratio(cpuAllocated, cpuTotal), cpuThresholds(settings)) : {}),
          memorytotalgb: row['memorytotal'] === undefined ? undefined : gb(memTotal),
          memoryusedgb: memUsed === undefined ? undefined : gb(memUsed),
          memoryallocatedgb: gb(memAllocated),
          ...(memTotal > 0 ? thresholdFields('memory', ratio(memUsed ?? 0, memTotal), ratio(memAllocated, memTotal), memoryThresholds(settings)) : {}),
          instances: upOf(vms.filter((vm) => vm.status?.state === 'Running').length, vms.length),
          systeminstances: upOf(0, 0),
          // No out-of-band management: CloudStack reports its power state as Disabled.
          powerstate: 'Disabled',
        };
      });
    },
    mapItem: (row) => row,
  });

  const listStoragePools = base('listStoragePools');
  const listStoragePoolsMetrics = defineCommand({
    name: 'listStoragePoolsMetrics',
    kind: 'list',
    description: 'Lists storage pool metrics',
    params: sharedParams('listStoragePoolsMetrics', listStoragePools),
    async handle(p, ctx) {
      const rows = await baseRows(listStoragePools, p, ctx, false);
      const s = globalSettings(infra);
      return rows.map((row) => {
        const total = Number(row['disksizetotal'] ?? 0);
        const used = Number(row['disksizeused'] ?? 0);
        const allocated = Number(row['disksizeallocated'] ?? 0);
        const allocatable = total * Number(row['overprovisionfactor'] ?? 1);
        return {
          ...row,
          disksizetotalgb: gb(total),
          disksizeusedgb: gb(used),
          disksizeallocatedgb: gb(allocated),
          disksizeunallocatedgb: gb(Math.max(0, allocatable - allocated)),
          storageusagethreshold: ratio(used, total) > s.number('cluster.storage.capacity.notificationthreshold'),
          storageusagedisablethreshold: ratio(used, total) > s.number('pool.storage.capacity.disablethreshold'),
          storageallocatedthreshold: ratio(allocated, allocatable) > s.number('cluster.storage.allocated.capacity.notificationthreshold'),
          storageallocateddisablethreshold: ratio(allocated, allocatable) > s.number('pool.storage.allocated.capacity.disablethreshold'),
        };
      });
    },
    mapItem: (row) => row,
  });

  return [listZonesMetrics, listClustersMetrics, listHostsMetrics, listStoragePoolsMetrics];
}
