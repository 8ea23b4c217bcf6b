/**
 * Capacity arithmetic with CloudStack's `listCapacity` semantics. A rollup maps a capacity
 * type to three figures in one unit: total (physical × overcommit), allocated (promised to
 * every VM placed or volume created) and used (what running VMs take, bytes written, ids and
 * addresses handed out). Parents add their children's rollups; nothing here reads the API.
 */
import { CAPACITY_TYPES } from '../crds/index.ts';
import { ipToInt } from '../lib/ipv4.ts';
import type { VmUsage } from '../lib/usage.ts';

export type CapacityType = (typeof CAPACITY_TYPES)[number];

export interface Tally {
  total: number;
  allocated: number;
  used: number;
}

export type Rollup = ReadonlyMap<CapacityType, Tally>;

/** What a status lists for one type. */
export interface CapacityFigure {
  type: CapacityType;
  total: number;
  allocated: number;
  used: number;
  percentUsed: number;
}

/** Physical capacity of a host, as its agent reports it. */
export interface HostFacts {
  cpuNumber: number;
  /** MHz of one core. */
  cpuSpeed: number;
  memoryBytes: number;
}

export interface Overcommit {
  cpu: number;
  memory: number;
}


export interface PoolFacts {
  /** Host-scoped (local) pools count as LOCAL_STORAGE, the others as STORAGE and STORAGE_ALLOCATED. */
  local: boolean;
  capacityBytes: number;
  usedBytes: number;
  allocatedBytes: number;
  overprovisionFactor: number;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/**
 * A host's CPU, cores and memory from the VMs that hold it (lib/usage.ts): each counts as
 * allocated, the running ones also as used. `facts` is undefined when the host's capacity does
 * not count (no report yet, Down, in maintenance): its VMs still count as allocated and used.
 */
export function hostRollup(facts: HostFacts | undefined, overcommit: Overcommit, vms: readonly Omit<VmUsage, 'holdsUntil'>[]): Rollup {
  const running = vms.filter((vm) => vm.running);
  return new Map<CapacityType, Tally>([
    ['CPU', { total: facts ? Math.floor(facts.cpuNumber * facts.cpuSpeed * overcommit.cpu) : 0, allocated: sum(vms.map((v) => v.cpuMhz)), used: sum(running.map((v) => v.cpuMhz)) }],
    ['CPU_CORE', { total: facts?.cpuNumber ?? 0, allocated: sum(vms.map((v) => v.cores)), used: sum(running.map((v) => v.cores)) }],
    ['MEMORY', { total: facts ? Math.floor(facts.memoryBytes * overcommit.memory) : 0, allocated: sum(vms.map((v) => v.memoryBytes)), used: sum(running.map((v) => v.memoryBytes)) }],
  ]);
}

/**
 * A primary storage pool. STORAGE is the device (total physical, used as written);
 * STORAGE_ALLOCATED is what volumes were promised against physical × overprovisioning.
 */
export function poolRollup(pool: PoolFacts): Rollup {
  if (pool.local) {
    return new Map([['LOCAL_STORAGE', { total: pool.capacityBytes, allocated: pool.allocatedBytes, used: pool.usedBytes }]]);
  }
  return new Map<CapacityType, Tally>([
    ['STORAGE', { total: pool.capacityBytes, allocated: pool.usedBytes, used: pool.usedBytes }],
    ['STORAGE_ALLOCATED', { total: Math.floor(pool.capacityBytes * pool.overprovisionFactor), allocated: pool.allocatedBytes, used: pool.allocatedBytes }],
  ]);
}

/** A pool of countable things (addresses, VLAN ids, secondary storage bytes): handed out is both allocated and used. */
export function countRollup(type: CapacityType, total: number, used: number): Rollup {
  return new Map([[type, { total, allocated: used, used }]]);
}

export function sumRollups(rollups: readonly Rollup[]): Rollup {
  const out = new Map<CapacityType, Tally>();
  for (const rollup of rollups) {
    for (const [type, tally] of rollup) {
      const acc = out.get(type) ?? { total: 0, allocated: 0, used: 0 };
      out.set(type, { total: acc.total + tally.total, allocated: acc.allocated + tally.allocated, used: acc.used + tally.used });
    }
  }
  return out;
}

/** used / total × 100 with two decimals; 0 when there is no capacity. */
export function percentOf(part: number, total: number): number {
  return total > 0 ? Math.round((part / total) * 10_000) / 100 : 0;
}

/** The status list: every type in `types` (zeros when absent), in CloudStack's order. */
export function capacityStatus(rollup: Rollup, types: readonly CapacityType[]): CapacityFigure[] {
  return CAPACITY_TYPES.filter((type) => types.includes(type)).map((type) => {
    const tally = rollup.get(type) ?? { total: 0, allocated: 0, used: 0 };
    return { type, total: tally.total, allocated: tally.allocated, used: tally.used, percentUsed: percentOf(tally.used, tally.total) };
  });
}

export interface ThresholdRule {
  type: CapacityType;
  /** Which figure is compared with the total. */
  measure: 'allocated' | 'used';
  /** A fraction from 0 to 1. */
  threshold: number;
  /** The setting that holds it, for the message. */
  setting: string;
}

/**
 * The rules the rollup reaches or exceeds, each as a sentence naming the figure and the
 * setting. Capacity of 0 breaches nothing: the lack of capacity is reported elsewhere.
 */
export function thresholdBreaches(rollup: Rollup, rules: readonly ThresholdRule[]): string[] {
  const out: string[] = [];
  for (const rule of rules) {
    const tally = rollup.get(rule.type);
    if (!tally || tally.total <= 0) continue;
    const fraction = tally[rule.measure] / tally.total;
    if (fraction >= rule.threshold) {
      out.push(`${rule.type} ${rule.measure} ${percentOf(tally[rule.measure], tally.total)}% reached ${rule.setting} ${percentOf(rule.threshold, 1)}%`);
    }
  }
  return out;
}

/** Addresses from `start` to `end` inclusive (dotted IPv4). */
export function rangeSize(start: string, end: string): number {
  return Math.max(0, addressOf(end) - addressOf(start) + 1);
}

function addressOf(ip: string): number {
  const n = ipToInt(ip);
  if (n === undefined) throw new Error(`"${ip}" is not a dotted IPv4 address`);
  return n;
}

export function ipInRange(ip: string, start: string, end: string): boolean {
  const n = addressOf(ip);
  return n >= addressOf(start) && n <= addressOf(end);
}
