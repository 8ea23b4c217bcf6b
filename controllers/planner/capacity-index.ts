/**
 * The planner's capacity index: the zone → pod → cluster → host tree, the primary storage
 * pools, offerings, templates, affinity groups and settings, and what the VMs and volumes
 * placed on them take, kept up to date from informer events (tests feed it plain objects the
 * same way).
 *
 * Usage is derived from the VM and Volume objects, never from a counter: each host keeps an
 * entry per VM placed on it (by uid), each pool an entry per volume on it, and their sums are a
 * cache that any change to an entry, an offering or the settings discards. What a VM takes and
 * for how long is lib/usage.ts, the rule the capacity rollups count with, so a stopped VM stops
 * holding its host after capacity.skipcounting.hours without any event.
 *
 * The assume cache (kube-scheduler's): a placement being written is assumed at once on its host
 * and its volumes on their pools, so the next decision already counts it. The assumption ends
 * when the informer shows the VM on that host (confirmed), when the write fails (forget), or
 * when it lapses after `assumeTtlMs` without either.
 */
import type {
  AffinityGroupObject,
  ClusterObject,
  ConfigurationObject,
  DiskOfferingObject,
  HostObject,
  PodObject,
  PrimaryStorageObject,
  ServiceOfferingObject,
  TemplateObject,
  VirtualMachineObject,
  VolumeObject,
  ZoneObject,
} from '../../crds/index.ts';
import { DEFAULT_SETTINGS, GLOBAL_CONFIGURATION, clusterOvercommit, resolveSettings, type Settings } from '../../lib/settings.ts';
import { vmUsage, volumeBytes, type VmDemand, type VmUsage } from '../../lib/usage.ts';
import { hostFacts } from '../hierarchy.ts';

/** One VM on a host: from its object, or assumed from a decision not yet seen by the informer. */
export interface VmEntry {
  readonly uid: string;
  /** namespace/name */
  readonly key: string;
  readonly namespace: string;
  readonly host: string;
  /** Its affinity groups, as namespace/name. */
  readonly groups: readonly string[];
  readonly vm?: VirtualMachineObject;
  /** Set while the entry is only assumed: what it takes, and when the assumption lapses. */
  readonly assumed?: { demand: VmDemand; until: number };
  cache?: { generation: number; usage: VmUsage | undefined };
}

interface Sums {
  generation: number;
  cpuMhz: number;
  memoryBytes: number;
  /** The sums hold for now in [validFrom, validUntil): no entry's hold starts or lapses in between. */
  validFrom: number;
  validUntil: number;
}

/** Total and allocated CPU (MHz) and memory (bytes), totals with the overcommit factors. */
export interface Load {
  cpu: { total: number; allocated: number };
  memory: { total: number; allocated: number };
}

interface ClusterSums extends Load {
  generation: number;
  validFrom: number;
  validUntil: number;
}

export interface HostSlot {
  readonly name: string;
  /** Undefined while VMs name a host the informer has not delivered. */
  host?: HostObject;
  tags: ReadonlySet<string>;
  readonly vms: Map<string, VmEntry>;
  sums?: Sums;
}

interface VolumeEntry {
  readonly key: string;
  readonly pool: string;
  readonly volume?: Pick<VolumeObject, 'spec' | 'status'>;
  readonly assumed?: { bytes: number; until: number };
}

export interface PoolSlot {
  readonly name: string;
  pool?: PrimaryStorageObject;
  tags: ReadonlySet<string>;
  /** Hosts that report the pool not mounted. */
  unmounted: ReadonlySet<string>;
  readonly volumes: Map<string, VolumeEntry>;
  allocated?: { generation: number; bytes: number; validUntil: number };
}

export interface IndexOptions {
  /** The clock (epoch ms): stopped VMs' holds and assumptions lapse by it. */
  now?: () => number;
  /** How long an assumed placement counts without the informer confirming it (default 60 s). */
  assumeTtlMs?: number;
}

/** The kinds the index follows, by informer name. */
export interface IndexFeed {
  zones: ZoneObject;
  pods: PodObject;
  clusters: ClusterObject;
  hosts: HostObject;
  primaryStorages: PrimaryStorageObject;
  serviceOfferings: ServiceOfferingObject;
  diskOfferings: DiskOfferingObject;
  templates: TemplateObject;
  affinityGroups: AffinityGroupObject;
  configurations: ConfigurationObject;
  vms: VirtualMachineObject;
  volumes: VolumeObject;
}

export type FeedKind = keyof IndexFeed;

function keyOf(obj: { metadata: { namespace?: string; name?: string } }): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K | undefined, value: V): void {
  if (key === undefined) return;
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

export type CapacityIndex = ReturnType<typeof createCapacityIndex>;

export function createCapacityIndex(options: IndexOptions = {}) {
  const now = options.now ?? Date.now;
  const assumeTtlMs = options.assumeTtlMs ?? 60_000;
  /** Bumped when what entries take may change wholesale (an offering, the settings): every cached sum is then stale. */
  let generation = 0;
  let settings: Settings = DEFAULT_SETTINGS;

  const zones = new Map<string, ZoneObject>();
  const pods = new Map<string, PodObject>();
  const clusters = new Map<string, ClusterObject>();
  const hosts = new Map<string, HostSlot>();
  const pools = new Map<string, PoolSlot>();
  const podsByZone = new Map<string, Set<string>>();
  const clustersByPod = new Map<string, Set<string>>();
  const hostsByCluster = new Map<string, Set<string>>();
  /** Pools by what they are scoped to: `zone:<name>`, `cluster:<name>` or `host:<name>`. */
  const poolsByScope = new Map<string, Set<string>>();
  const serviceOfferings = new Map<string, ServiceOfferingObject>();
  const diskOfferings = new Map<string, DiskOfferingObject>();
  const templates = new Map<string, TemplateObject>();
  const affinityGroups = new Map<string, AffinityGroupObject>();
  const vmEntries = new Map<string, VmEntry>();
  const entriesByAccount = new Map<string, Set<VmEntry>>();
  const entriesByGroup = new Map<string, Set<VmEntry>>();
  const volumeEntries = new Map<string, VolumeEntry>();
  const clusterSums = new Map<string, ClusterSums>();
  /** Sorted member lists, dropped when membership changes. */
  const sorted = new Map<string, readonly string[]>();

  const scopeKey = (pool: PrimaryStorageObject): string => {
    switch (pool.spec.scope ?? 'Cluster') {
      case 'Zone':
        return `zone:${pool.spec.zoneRef.name}`;
      case 'Host':
        return `host:${pool.spec.hostRef?.name ?? ''}`;
      default:
        return `cluster:${pool.spec.clusterRef?.name ?? ''}`;
    }
  };

  /** A host's sums changed: so did its cluster's. */
  const touchHost = (slot: HostSlot | undefined): void => {
    if (!slot) return;
    slot.sums = undefined;
    if (slot.host) clusterSums.delete(slot.host.spec.clusterRef.name);
  };

  const hostSlot = (name: string): HostSlot => {
    let slot = hosts.get(name);
    if (!slot) hosts.set(name, (slot = { name, tags: new Set(), vms: new Map() }));
    return slot;
  };
  const poolSlot = (name: string): PoolSlot => {
    let slot = pools.get(name);
    if (!slot) pools.set(name, (slot = { name, tags: new Set(), unmounted: new Set(), volumes: new Map() }));
    return slot;
  };

  const slotLists = new Map<string, readonly HostSlot[]>();
  /** The host slots of a cluster, by name: the planner's hot loop reads these without a lookup per host. */
  function slotsOfCluster(cluster: string): readonly HostSlot[] {
    let list = slotLists.get(cluster);
    if (!list) slotLists.set(cluster, (list = sortedMembers(`hosts:${cluster}`, hostsByCluster, cluster).flatMap((n) => hosts.get(n) ?? [])));
    return list;
  }

  function sortedMembers(cacheKey: string, members: Map<string, Set<string>>, key: string): readonly string[] {
    let list = sorted.get(cacheKey);
    if (!list) sorted.set(cacheKey, (list = [...(members.get(key) ?? [])].sort()));
    return list;
  }

  // VM entries ---------------------------------------------------------------------------

  function usageOf(entry: VmEntry): VmUsage | undefined {
    if (entry.cache?.generation === generation) return entry.cache.usage;
    let usage: VmUsage | undefined;
    if (entry.assumed) usage = { ...entry.assumed.demand, running: true, holdsUntil: entry.assumed.until };
    else if (entry.vm) usage = vmUsage(entry.vm, serviceOfferings.get(entry.vm.spec.serviceOfferingRef.name)?.spec, settings);
    entry.cache = { generation, usage };
    return usage;
  }

  function setEntry(uid: string, entry: VmEntry | undefined): void {
    const old = vmEntries.get(uid);
    if (old) {
      const slot = hosts.get(old.host);
      slot?.vms.delete(uid);
      touchHost(slot);
      removeFrom(entriesByAccount, old.namespace, old);
      for (const group of old.groups) removeFrom(entriesByGroup, group, old);
      vmEntries.delete(uid);
    }
    if (!entry) return;
    vmEntries.set(uid, entry);
    const slot = hostSlot(entry.host);
    slot.vms.set(uid, entry);
    touchHost(slot);
    addTo(entriesByAccount, entry.namespace, entry);
    for (const group of entry.groups) addTo(entriesByGroup, group, entry);
  }

  function groupsOf(vm: VirtualMachineObject): string[] {
    return (vm.spec.affinityGroupRefs ?? []).map((g) => `${vm.metadata.namespace ?? ''}/${g.name}`);
  }

  function entryFromObject(vm: VirtualMachineObject): VmEntry | undefined {
    const host = vm.status?.placement?.host;
    if (host === undefined) return undefined;
    return { uid: vm.metadata.uid ?? keyOf(vm), key: keyOf(vm), namespace: vm.metadata.namespace ?? '', host, groups: groupsOf(vm), vm };
  }

  function upsertVm(vm: VirtualMachineObject): void {
    const uid = vm.metadata.uid ?? keyOf(vm);
    const current = vmEntries.get(uid);
    const real = entryFromObject(vm);
    // An assumption stands until the informer shows the VM on the assumed host, or it lapses.
    if (current?.assumed && real?.host !== current.host && current.assumed.until > now()) return;
    setEntry(uid, real);
  }

  // Volume entries ----------------------------------------------------------------------

  function setVolume(key: string, entry: VolumeEntry | undefined): void {
    const old = volumeEntries.get(key);
    if (old) {
      const slot = pools.get(old.pool);
      if (slot) {
        slot.volumes.delete(key);
        slot.allocated = undefined;
      }
      volumeEntries.delete(key);
    }
    if (!entry) return;
    volumeEntries.set(key, entry);
    const slot = poolSlot(entry.pool);
    slot.volumes.set(key, entry);
    slot.allocated = undefined;
  }

  function upsertVolume(volume: VolumeObject): void {
    const key = keyOf(volume);
    const current = volumeEntries.get(key);
    const pool = volume.status?.pool;
    if (current?.assumed && pool !== current.pool && current.assumed.until > now()) return;
    setVolume(key, pool === undefined ? undefined : { key, pool, volume });
  }

  /** MHz and bytes the VMs holding the host take at `nowMs`. */
  function hostLoad(slot: HostSlot, nowMs: number): { cpuMhz: number; memoryBytes: number; validFrom: number; validUntil: number } {
    const s = slot.sums;
    if (s && s.generation === generation && nowMs >= s.validFrom && nowMs < s.validUntil) return s;
    const sums: Sums = { generation, cpuMhz: 0, memoryBytes: 0, validFrom: Number.NEGATIVE_INFINITY, validUntil: Number.POSITIVE_INFINITY };
    for (const entry of slot.vms.values()) {
      const usage = usageOf(entry);
      if (!usage) continue;
      if (usage.holdsUntil > nowMs) {
        sums.cpuMhz += usage.cpuMhz;
        sums.memoryBytes += usage.memoryBytes;
        sums.validUntil = Math.min(sums.validUntil, usage.holdsUntil);
      } else {
        sums.validFrom = Math.max(sums.validFrom, usage.holdsUntil);
      }
    }
    slot.sums = sums;
    return sums;
  }

  // Feeding -----------------------------------------------------------------------------

  const upserts: { [K in FeedKind]: (obj: IndexFeed[K]) => void } = {
    zones: (z) => zones.set(z.metadata.name ?? '', z),
    pods: (p) => {
      const old = pods.get(p.metadata.name ?? '');
      if (old) removeFrom(podsByZone, old.spec.zoneRef.name, p.metadata.name ?? '');
      pods.set(p.metadata.name ?? '', p);
      addTo(podsByZone, p.spec.zoneRef.name, p.metadata.name ?? '');
      sorted.delete(`pods:${p.spec.zoneRef.name}`);
      if (old) sorted.delete(`pods:${old.spec.zoneRef.name}`);
    },
    clusters: (c) => {
      clusterSums.delete(c.metadata.name ?? '');
      const old = clusters.get(c.metadata.name ?? '');
      if (old) removeFrom(clustersByPod, old.spec.podRef.name, c.metadata.name ?? '');
      clusters.set(c.metadata.name ?? '', c);
      addTo(clustersByPod, c.spec.podRef.name, c.metadata.name ?? '');
      sorted.delete(`clusters:${c.spec.podRef.name}`);
      if (old) sorted.delete(`clusters:${old.spec.podRef.name}`);
    },
    hosts: (h) => {
      const slot = hostSlot(h.metadata.name ?? '');
      touchHost(slot);
      if (slot.host) removeFrom(hostsByCluster, slot.host.spec.clusterRef.name, slot.name);
      if (slot.host) sorted.delete(`hosts:${slot.host.spec.clusterRef.name}`);
      if (slot.host) slotLists.delete(slot.host.spec.clusterRef.name);
      slot.host = h;
      clusterSums.delete(h.spec.clusterRef.name);
      slot.tags = new Set(h.spec.hostTags ?? []);
      addTo(hostsByCluster, h.spec.clusterRef.name, slot.name);
      sorted.delete(`hosts:${h.spec.clusterRef.name}`);
      slotLists.delete(h.spec.clusterRef.name);
    },
    primaryStorages: (p) => {
      const slot = poolSlot(p.metadata.name ?? '');
      if (slot.pool) {
        removeFrom(poolsByScope, scopeKey(slot.pool), slot.name);
        sorted.delete(`pools:${scopeKey(slot.pool)}`);
      }
      slot.pool = p;
      slot.tags = new Set(p.spec.tags ?? []);
      slot.unmounted = new Set((p.status?.mounts ?? []).filter((m) => !m.mounted).map((m) => m.host));
      addTo(poolsByScope, scopeKey(p), slot.name);
      sorted.delete(`pools:${scopeKey(p)}`);
    },
    serviceOfferings: (o) => {
      serviceOfferings.set(o.metadata.name ?? '', o);
      generation++;
    },
    diskOfferings: (o) => {
      diskOfferings.set(o.metadata.name ?? '', o);
      generation++;
    },
    templates: (t) => templates.set(keyOf(t), t),
    affinityGroups: (g) => affinityGroups.set(keyOf(g), g),
    configurations: (c) => {
      if (c.metadata.name !== GLOBAL_CONFIGURATION) return;
      settings = resolveSettings(c.spec.settings).settings;
      generation++;
    },
    vms: upsertVm,
    volumes: upsertVolume,
  };

  const removals: { [K in FeedKind]: (obj: IndexFeed[K]) => void } = {
    zones: (z) => zones.delete(z.metadata.name ?? ''),
    pods: (p) => {
      pods.delete(p.metadata.name ?? '');
      removeFrom(podsByZone, p.spec.zoneRef.name, p.metadata.name ?? '');
      sorted.delete(`pods:${p.spec.zoneRef.name}`);
    },
    clusters: (c) => {
      clusters.delete(c.metadata.name ?? '');
      removeFrom(clustersByPod, c.spec.podRef.name, c.metadata.name ?? '');
      sorted.delete(`clusters:${c.spec.podRef.name}`);
    },
    hosts: (h) => {
      const slot = hosts.get(h.metadata.name ?? '');
      if (!slot) return;
      touchHost(slot);
      removeFrom(hostsByCluster, h.spec.clusterRef.name, slot.name);
      sorted.delete(`hosts:${h.spec.clusterRef.name}`);
      slotLists.delete(h.spec.clusterRef.name);
      slot.host = undefined;
      if (slot.vms.size === 0) hosts.delete(slot.name);
    },
    primaryStorages: (p) => {
      const slot = pools.get(p.metadata.name ?? '');
      if (!slot) return;
      removeFrom(poolsByScope, scopeKey(p), slot.name);
      sorted.delete(`pools:${scopeKey(p)}`);
      slot.pool = undefined;
      if (slot.volumes.size === 0) pools.delete(slot.name);
    },
    serviceOfferings: (o) => {
      serviceOfferings.delete(o.metadata.name ?? '');
      generation++;
    },
    diskOfferings: (o) => {
      diskOfferings.delete(o.metadata.name ?? '');
      generation++;
    },
    templates: (t) => templates.delete(keyOf(t)),
    affinityGroups: (g) => affinityGroups.delete(keyOf(g)),
    configurations: (c) => {
      if (c.metadata.name !== GLOBAL_CONFIGURATION) return;
      settings = DEFAULT_SETTINGS;
      generation++;
    },
    vms: (vm) => setEntry(vm.metadata.uid ?? keyOf(vm), undefined),
    volumes: (v) => setVolume(keyOf(v), undefined),
  };

  return {
    now,

    /** An informer add or update of `kind`. */
    upsert<K extends FeedKind>(kind: K, obj: IndexFeed[K]): void {
      upserts[kind](obj);
    },

    /** An informer delete of `kind`. */
    remove<K extends FeedKind>(kind: K, obj: IndexFeed[K]): void {
      removals[kind](obj);
    },

    /** Counts a VM on `host` at once, before the informer shows it there (see the module comment). */
    assumeVm(vm: VirtualMachineObject, host: string, demand: VmDemand): void {
      const uid = vm.metadata.uid ?? keyOf(vm);
      setEntry(uid, { uid, key: keyOf(vm), namespace: vm.metadata.namespace ?? '', host, groups: groupsOf(vm), assumed: { demand, until: now() + assumeTtlMs } });
    },

    /** Counts a volume (namespace/name) on `pool` at once. */
    assumeVolume(key: string, pool: string, bytes: number): void {
      setVolume(key, { key, pool, assumed: { bytes, until: now() + assumeTtlMs } });
    },

    /** Restarts the time to live of the assumptions still standing for a VM (uid) and volumes (namespace/name). */
    refreshAssumptions(uid: string | undefined, volumeKeys: readonly string[]): void {
      const until = now() + assumeTtlMs;
      const entry = uid === undefined ? undefined : vmEntries.get(uid);
      if (entry?.assumed) setEntry(entry.uid, { ...entry, assumed: { ...entry.assumed, until }, cache: undefined });
      for (const key of volumeKeys) {
        const v = volumeEntries.get(key);
        if (v?.assumed) setVolume(key, { ...v, assumed: { ...v.assumed, until } });
      }
    },

    /** Drops the assumption about a VM whose claim failed: it counts as `latest` (its newest object, if any) says. */
    forgetVm(uid: string, latest: VirtualMachineObject | undefined): void {
      if (vmEntries.get(uid)?.assumed) setEntry(uid, latest ? entryFromObject(latest) : undefined);
    },

    /** Drops the assumption about a volume (namespace/name): it counts as `latest` says. */
    forgetVolume(key: string, latest: VolumeObject | undefined): void {
      if (!volumeEntries.get(key)?.assumed) return;
      const pool = latest?.status?.pool;
      setVolume(key, latest && pool !== undefined ? { key, pool, volume: latest } : undefined);
    },

    settings: (): Settings => settings,
    zone: (name: string): ZoneObject | undefined => zones.get(name),
    pod: (name: string): PodObject | undefined => pods.get(name),
    cluster: (name: string): ClusterObject | undefined => clusters.get(name),
    host(name: string): HostSlot | undefined {
      const slot = hosts.get(name);
      return slot?.host ? slot : undefined;
    },
    pool(name: string): PoolSlot | undefined {
      const slot = pools.get(name);
      return slot?.pool ? slot : undefined;
    },
    serviceOffering: (name: string): ServiceOfferingObject | undefined => serviceOfferings.get(name),
    diskOffering: (name: string): DiskOfferingObject | undefined => diskOfferings.get(name),
    template: (namespace: string, name: string): TemplateObject | undefined => templates.get(`${namespace}/${name}`),
    affinityGroup: (namespace: string, name: string): AffinityGroupObject | undefined => affinityGroups.get(`${namespace}/${name}`),

    /** Pod names of a zone, sorted. */
    podsOfZone: (zone: string): readonly string[] => sortedMembers(`pods:${zone}`, podsByZone, zone),
    /** Cluster names of a pod, sorted. */
    clustersOfPod: (pod: string): readonly string[] => sortedMembers(`clusters:${pod}`, clustersByPod, pod),
    /** Host names of a cluster, sorted. */
    hostsOfCluster: (cluster: string): readonly string[] => sortedMembers(`hosts:${cluster}`, hostsByCluster, cluster),
    /** The slots of a cluster's hosts, sorted by name. */
    slotsOfCluster,
    /** Pool names scoped to a zone (scope Zone), a cluster (Cluster) or a host (Host), sorted. */
    poolsScopedTo: (scope: 'zone' | 'cluster' | 'host', name: string): readonly string[] => sortedMembers(`pools:${scope}:${name}`, poolsByScope, `${scope}:${name}`),

    /** What the entry takes now, or undefined when it holds nothing. */
    holding(entry: VmEntry, nowMs: number): VmUsage | undefined {
      const usage = usageOf(entry);
      return usage && usage.holdsUntil > nowMs ? usage : undefined;
    },

    hostLoad,

    /**
     * A cluster's CPU and memory: totals of the hosts whose capacity counts (as the rollups
     * count them) with the overcommit factors, and what the VMs on all its hosts hold.
     */
    clusterLoad(name: string, nowMs: number): Load {
      const c = clusterSums.get(name);
      if (c && c.generation === generation && nowMs >= c.validFrom && nowMs < c.validUntil) return c;
      const overcommit = clusterOvercommit(clusters.get(name), settings);
      const sums: ClusterSums = { generation, cpu: { total: 0, allocated: 0 }, memory: { total: 0, allocated: 0 }, validFrom: Number.NEGATIVE_INFINITY, validUntil: Number.POSITIVE_INFINITY };
      for (const slot of slotsOfCluster(name)) {
        if (!slot.host) continue;
        const facts = hostFacts(slot.host);
        if (facts) {
          sums.cpu.total += Math.floor(facts.cpuNumber * facts.cpuSpeed * overcommit.cpu);
          sums.memory.total += Math.floor(facts.memoryBytes * overcommit.memory);
        }
        const held = hostLoad(slot, nowMs);
        sums.cpu.allocated += held.cpuMhz;
        sums.memory.allocated += held.memoryBytes;
        sums.validFrom = Math.max(sums.validFrom, held.validFrom);
        sums.validUntil = Math.min(sums.validUntil, held.validUntil);
      }
      clusterSums.set(name, sums);
      return sums;
    },

    /** Bytes promised to the volumes on the pool (assumed ones included while they stand). */
    poolAllocated(slot: PoolSlot, nowMs: number): number {
      const a = slot.allocated;
      if (a && a.generation === generation && nowMs < a.validUntil) return a.bytes;
      let bytes = 0;
      let validUntil = Number.POSITIVE_INFINITY;
      for (const v of slot.volumes.values()) {
        if (v.assumed) {
          if (v.assumed.until <= nowMs) continue;
          bytes += v.assumed.bytes;
          validUntil = Math.min(validUntil, v.assumed.until);
        } else if (v.volume) {
          bytes += volumeBytes(v.volume, v.volume.spec.diskOfferingRef ? diskOfferings.get(v.volume.spec.diskOfferingRef.name)?.spec : undefined);
        }
      }
      slot.allocated = { generation, bytes, validUntil };
      return bytes;
    },

    /** The VMs of an account (namespace) on any host. */
    accountEntries: (namespace: string): ReadonlySet<VmEntry> => entriesByAccount.get(namespace) ?? new Set(),
    /** The members of an affinity group (namespace/name) placed on a host. */
    groupEntries: (group: string): ReadonlySet<VmEntry> => entriesByGroup.get(group) ?? new Set(),
    /** The entry of a VM (by uid), if it is placed or assumed. */
    vmEntry: (uid: string): VmEntry | undefined => vmEntries.get(uid),
    /** The pool a volume (namespace/name) is on or assumed on. */
    volumePool: (key: string): string | undefined => volumeEntries.get(key)?.pool,
  };
}
