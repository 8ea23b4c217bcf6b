/**
 * The placement decision, a pure function of the capacity index and the request (time and
 * randomness are inputs): zone → pod → cluster → host, as CloudStack's deployment planner walks
 * it. Clusters and hosts are tried in the strategy's order (order.ts); a host is taken when it
 * passes every filter, in this order (what never changes first, then what an administrator
 * sets, then what changes by itself), so that the deepest filter a host reached says the most:
 *
 *   Avoided               the host refused the VM before (the caller's avoid set)
 *   Hypervisor            the cluster's hypervisor is the template's
 *   HostTags              the host carries every host tag of the offering
 *   StorageTags           for each volume, a pool of its storage type in the host's scope carries its storage tags
 *   AllocationState       zone, pod and cluster Enabled, host resourceState Enabled
 *   NoHostUp              the host is Up
 *   NoReachableStorage    ... and such a pool is Up and mounted there
 *   Affinity              strict host affinity / anti-affinity of the VM's groups
 *   InsufficientCapacity  cores, MHz per core, and free CPU and memory with the overcommit factors
 *   DisableThreshold      the cluster stays within cluster.{cpu,memory}.allocated.capacity.disablethreshold
 *   InsufficientStorage   a pool with room: storage.overprovisioning.factor and the pool disable thresholds
 *
 * Non-strict affinity groups are preferences: among the hosts that pass, the one that breaks
 * the fewest wins, in strategy order. When no host passes, the result names the filter that
 * eliminated the last candidates (the latest in the list above that eliminated any), and counts
 * every filter's eliminations, as kube-scheduler's "0/5 nodes are available" does.
 */
import type { ClusterObject, HostObject } from '../../crds/index.ts';
import { clusterOvercommit, poolOverprovision } from '../../lib/settings.ts';
import type { VmDemand } from '../../lib/usage.ts';
import type { CapacityIndex, HostSlot, Load, PoolSlot } from './capacity-index.ts';
import { orderClusters, orderHosts, type ClusterCandidate, type DeploymentPlanner, type HostAllocator, type HostCandidate, type OrderSettings } from './order.ts';

export type AffinityType = 'host anti-affinity' | 'host affinity' | 'non-strict host anti-affinity' | 'non-strict host affinity';

export interface VolumeRequest {
  /** namespace/name of the Volume. */
  key: string;
  type: 'ROOT' | 'DATADISK';
  bytes: number;
  storageTags: readonly string[];
  storageType: 'shared' | 'local';
  /** The pool the volume is on already: the host must reach it, and it stays there. */
  pool?: string;
}

export interface PlanRequest {
  uid: string;
  /** namespace/name of the VM. */
  key: string;
  namespace: string;
  zone: string;
  demand: VmDemand;
  /** MHz of each core. */
  cpuSpeed: number;
  hypervisor: string;
  hostTags: readonly string[];
  planner: DeploymentPlanner;
  allocator: HostAllocator;
  /** spec.hostRef: only this host is considered. */
  explicitHost?: string;
  /** Tried first when it passes every filter (the host a stopped VM last ran on). */
  preferHost?: string;
  groups: readonly { key: string; type: AffinityType }[];
  volumes: readonly VolumeRequest[];
  avoidHosts: ReadonlySet<string>;
}

export interface Placement {
  zone: string;
  pod: string;
  cluster: string;
  host: string;
}

export interface Decision {
  scheduled: true;
  placement: Placement;
  /** The pool of every requested volume, in request order. */
  volumes: { key: string; pool: string; bytes: number }[];
  demand: VmDemand;
  /** The strategy that ordered the candidates, as `planner/allocator`. */
  strategy: string;
}

export const CONSTRAINTS = [
  'Avoided',
  'Hypervisor',
  'HostTags',
  'StorageTags',
  'AllocationState',
  'NoHostUp',
  'NoReachableStorage',
  'Affinity',
  'InsufficientCapacity',
  'DisableThreshold',
  'InsufficientStorage',
] as const;
export type Constraint = (typeof CONSTRAINTS)[number];

/** Nothing fits: `reason` is the constraint that eliminated the last candidates (or why planning could not start), `message` says what and where. */
export interface Unschedulable {
  scheduled: false;
  reason: Constraint | 'ZoneNotFound' | 'HostNotFound' | 'NoHosts' | 'OfferingNotFound' | 'TemplateNotFound' | 'AffinityGroupNotFound';
  message: string;
}

export type PlanResult = Decision | Unschedulable;

export interface PlanEnv {
  /** Epoch milliseconds: stopped VMs' holds and assumptions are judged at this time. */
  now: number;
  random: () => number;
}

const PHRASE: Record<Constraint, string> = {
  Avoided: 'refused the VM before',
  AllocationState: 'not in an Enabled zone, pod, cluster and resource state',
  Hypervisor: "of another hypervisor than the template's",
  NoHostUp: 'not Up',
  HostTags: "lacking the offering's host tags",
  Affinity: "excluded by the VM's affinity groups",
  DisableThreshold: 'in clusters past a capacity disable threshold',
  InsufficientCapacity: 'without enough free CPU or memory',
  NoReachableStorage: 'reaching no Up pool of the needed storage type',
  StorageTags: "reaching no pool with the volume's storage tags",
  InsufficientStorage: 'reaching no pool with room for the volume',
};

export function formatBytes(bytes: number): string {
  const units: [number, string][] = [
    [2 ** 40, 'TiB'],
    [2 ** 30, 'GiB'],
    [2 ** 20, 'MiB'],
  ];
  for (const [size, unit] of units) if (bytes >= size) return `${Math.round((bytes / size) * 10) / 10} ${unit}`;
  return `${bytes} B`;
}

function unschedulable(reason: Unschedulable['reason'], message: string): Unschedulable {
  return { scheduled: false, reason, message };
}

interface Funnel {
  /** `detail` is called only while the stage has fewer than three examples: unschedulable plans examine every host. */
  eliminate(stage: Constraint, hosts: number, detail: () => string): void;
  result(req: PlanRequest, considered: number): Unschedulable;
}

function createFunnel(): Funnel {
  const tally = new Map<Constraint, { hosts: number; details: string[] }>();
  return {
    eliminate(stage, hosts, detail) {
      let t = tally.get(stage);
      if (!t) tally.set(stage, (t = { hosts: 0, details: [] }));
      t.hosts += hosts;
      if (t.details.length >= 3) return;
      const text = detail();
      if (!t.details.includes(text)) t.details.push(text);
    },
    result(req, considered) {
      const stages = CONSTRAINTS.filter((c) => tally.has(c)).reverse();
      const last = stages[0] ?? 'NoHostUp';
      const volumes = req.volumes.map((v) => `${v.key.split('/')[1]} ${formatBytes(v.bytes)}`).join(', ');
      const needs = `${req.demand.cores} cores × ${req.cpuSpeed} MHz, ${formatBytes(req.demand.memoryBytes)}${volumes ? `; ${volumes}` : ''}`;
      const parts = stages.map((stage) => {
        const t = tally.get(stage)!;
        return `${t.hosts} ${t.hosts === 1 ? 'host' : 'hosts'} ${PHRASE[stage]} (${t.details.join('; ')})`;
      });
      return unschedulable(last, `0/${considered} hosts in zone ${req.zone} can take VM ${req.key} (${needs}): ${parts.join('; ')}`);
    },
  };
}

interface HostView extends HostCandidate {
  slot: HostSlot;
  host: HostObject;
}

interface ClusterView extends ClusterCandidate {
  cluster: ClusterObject;
}

function resourceState(host: HostObject): string {
  return host.status?.resourceState ?? (host.spec.maintenance ? 'PrepareForMaintenance' : (host.spec.allocationState ?? 'Enabled'));
}

/** Plans the VM: a decision, or why nothing fits. */
export function plan(index: CapacityIndex, req: PlanRequest, env: PlanEnv): PlanResult {
  const zone = index.zone(req.zone);
  if (!zone) return unschedulable('ZoneNotFound', `Zone ${req.zone} does not exist: fix spec.zoneRef.name`);
  const settings = index.settings();
  const orderSettings: OrderSettings = {
    capacityType: settings.value('host.capacityType.to.order.clusters') as OrderSettings['capacityType'],
    dispersionWeight: settings.number('vm.user.dispersion.weight'),
  };
  const now = env.now;

  // What the VM itself holds already (a re-plan) does not count against it.
  const ownEntry = index.vmEntry(req.uid);
  const own = ownEntry ? index.holding(ownEntry, now) : undefined;
  const ownHost = own ? ownEntry?.host : undefined;

  // The account's VMs per host, for the strategies that weigh them (only those pay for it).
  // CloudStack counts Running and Starting VMs; here every VM that holds its host counts, so a
  // VM on its way (or failing to start) is not forgotten.
  const accountOnHost = new Map<string, number>();
  if (req.planner !== 'FirstFitPlanner' || req.allocator === 'userdispersing') {
    for (const entry of index.accountEntries(req.namespace)) {
      if (entry.uid !== req.uid && index.holding(entry, now)) accountOnHost.set(entry.host, (accountOnHost.get(entry.host) ?? 0) + 1);
    }
  }

  // Hosts of the VM's affinity groups: the members that hold a host, by host.
  const strictAvoid = new Map<string, string>();
  let strictOnly: Set<string> | undefined;
  let strictOnlyWhy = '';
  const preferences: { type: AffinityType; members: Map<string, string[]> }[] = [];
  for (const group of req.groups) {
    const members = new Map<string, string[]>();
    for (const entry of index.groupEntries(group.key)) {
      if (entry.uid === req.uid || !index.holding(entry, now)) continue;
      members.set(entry.host, [...(members.get(entry.host) ?? []), entry.key]);
    }
    if (members.size === 0) continue;
    if (group.type === 'host anti-affinity') {
      for (const [host, vms] of members) strictAvoid.set(host, `${group.key} (host anti-affinity): ${vms[0]} runs on ${host}`);
    } else if (group.type === 'host affinity') {
      strictOnly = new Set([...members.keys()].filter((h) => !strictOnly || strictOnly.has(h)));
      strictOnlyWhy = `${group.key} (host affinity) keeps its VMs with ${[...members].slice(0, 3).map(([host, vms]) => `${vms[0]} on ${host}`).join(', ')}`;
    } else {
      preferences.push({ type: group.type, members });
    }
  }

  // The candidate clusters and their hosts, with what each holds.
  let clusterNames: string[];
  if (req.explicitHost !== undefined) {
    const slot = index.host(req.explicitHost);
    if (!slot?.host) return unschedulable('HostNotFound', `Host ${req.explicitHost} (spec.hostRef) does not exist: fix or remove spec.hostRef`);
    const clusterName = slot.host.spec.clusterRef.name;
    const hostZone = index.pod(index.cluster(clusterName)?.spec.podRef.name ?? '')?.spec.zoneRef.name;
    if (hostZone !== req.zone) return unschedulable('HostNotFound', `Host ${req.explicitHost} (spec.hostRef) is in zone ${hostZone ?? 'unknown'}, not in the VM's zone ${req.zone}`);
    clusterNames = [clusterName];
  } else {
    clusterNames = index.podsOfZone(req.zone).flatMap((pod) => index.clustersOfPod(pod));
  }
  // Clusters with their load (cached in the index); a cluster's hosts are looked at only when
  // the walk reaches it.
  const ownCluster = ownHost !== undefined ? index.host(ownHost)?.host?.spec.clusterRef.name : undefined;
  const accountOnCluster = new Map<string, number>();
  for (const [hostName, count] of accountOnHost) {
    const clusterName = index.host(hostName)?.host?.spec.clusterRef.name;
    if (clusterName !== undefined) accountOnCluster.set(clusterName, (accountOnCluster.get(clusterName) ?? 0) + count);
  }
  const minusOwn = (load: Load, mine: boolean): Load =>
    mine && own
      ? { cpu: { total: load.cpu.total, allocated: load.cpu.allocated - own.cpuMhz }, memory: { total: load.memory.total, allocated: load.memory.allocated - own.memoryBytes } }
      : load;
  const views: ClusterView[] = [];
  let considered = 0;
  for (const name of clusterNames) {
    const cluster = index.cluster(name);
    if (!cluster) continue;
    considered += req.explicitHost === undefined ? index.hostsOfCluster(name).length : 1;
    views.push({ name, pod: cluster.spec.podRef.name, cluster, load: minusOwn(index.clusterLoad(name, now), name === ownCluster), accountVms: accountOnCluster.get(name) ?? 0 });
  }
  if (considered === 0) return unschedulable('NoHosts', `zone ${req.zone} has no hosts: add a cluster with hosts, or start the agents of its nodes`);
  const hostsOf = (view: ClusterView): HostView[] => {
    const overcommit = clusterOvercommit(view.cluster, settings);
    const slots = req.explicitHost === undefined ? index.slotsOfCluster(view.name) : [index.host(req.explicitHost)!];
    const out: HostView[] = [];
    for (const slot of slots) {
      if (!slot.host) continue;
      const hostName = slot.name;
      const held = index.hostLoad(slot, now);
      const capacity = slot.host.status?.capacity;
      const mine = hostName === ownHost && own !== undefined;
      out.push({
        name: hostName,
        slot,
        host: slot.host,
        cpuTotal: capacity ? Math.floor(capacity.cpuNumber * capacity.cpuSpeed * overcommit.cpu) : 0,
        cpuAllocated: held.cpuMhz - (mine ? own.cpuMhz : 0),
        memoryTotal: capacity ? Math.floor(capacity.memoryBytes * overcommit.memory) : 0,
        memoryAllocated: held.memoryBytes - (mine ? own.memoryBytes : 0),
        accountVms: accountOnHost.get(hostName) ?? 0,
      });
    }
    return out;
  };

  let funnel = createFunnel();
  const zoneState = zone.spec.allocationState ?? 'Disabled';
  const cpuThreshold = settings.number('cluster.cpu.allocated.capacity.disablethreshold');
  const memoryThreshold = settings.number('cluster.memory.allocated.capacity.disablethreshold');
  const storage = storageChooser(index, req.zone, req.volumes, now);

  /** The filter (Hypervisor or AllocationState) the cluster fails for every host in it, with why. */
  const clusterBlock = (view: ClusterView): [Constraint, string] | undefined => {
    const hypervisor = view.cluster.spec.hypervisor ?? 'KVM';
    if (hypervisor !== req.hypervisor) return ['Hypervisor', `cluster ${view.name} is ${hypervisor}, the template ${req.hypervisor}`];
    if (zoneState !== 'Enabled') return ['AllocationState', `zone ${req.zone} is ${zoneState}`];
    const pod = index.pod(view.pod);
    const podState = pod?.spec.allocationState ?? 'Enabled';
    if (podState !== 'Enabled') return ['AllocationState', `pod ${view.pod} is ${podState}`];
    const clusterState = view.cluster.spec.allocationState ?? 'Enabled';
    if (clusterState !== 'Enabled') return ['AllocationState', `cluster ${view.name} is ${clusterState}`];
    return undefined;
  };
  /** The cluster disable thresholds, checked after the per-host filters that come before them. */
  const thresholdBlock = (view: ClusterView): string | undefined => {
    const over = (t: { total: number; allocated: number }, requested: number, threshold: number) => t.total > 0 && (t.allocated + requested) / t.total > threshold;
    const pct = (t: { total: number; allocated: number }, requested: number) => `${Math.round(((t.allocated + requested) / t.total) * 1000) / 10}%`;
    if (over(view.load.cpu, req.demand.cpuMhz, cpuThreshold)) {
      return `cluster ${view.name}: CPU would be ${pct(view.load.cpu, req.demand.cpuMhz)} allocated, above cluster.cpu.allocated.capacity.disablethreshold ${cpuThreshold * 100}%`;
    }
    if (over(view.load.memory, req.demand.memoryBytes, memoryThreshold)) {
      return `cluster ${view.name}: memory would be ${pct(view.load.memory, req.demand.memoryBytes)} allocated, above cluster.memory.allocated.capacity.disablethreshold ${memoryThreshold * 100}%`;
    }
    return undefined;
  };

  /** The host's pools for every volume, or the first filter it fails. */
  const evaluate = (view: ClusterView, h: HostView, block: [Constraint, string] | undefined, threshold: string | undefined): Decision['volumes'] | undefined => {
    const fail = (stage: Constraint, detail: () => string) => {
      funnel.eliminate(stage, 1, detail);
      return undefined;
    };
    if (req.avoidHosts.has(h.name)) return fail('Avoided', () => h.name);
    if (block?.[0] === 'Hypervisor') return fail('Hypervisor', () => block[1]);
    for (const tag of req.hostTags) {
      if (!h.slot.tags.has(tag)) return fail('HostTags', () => `${h.name} lacks ${req.hostTags.filter((t) => !h.slot.tags.has(t)).join(', ')}`);
    }
    const pools = storage(view.cluster, h.name);
    if ('stage' in pools && pools.stage === 'StorageTags') return fail(pools.stage, () => pools.detail);
    if (block) return fail(block[0], () => block[1]);
    const state = resourceState(h.host);
    if (state !== 'Enabled') return fail('AllocationState', () => `host ${h.name} is ${state}`);
    const up = h.host.status?.state ?? 'Connecting';
    if (up !== 'Up') return fail('NoHostUp', () => `${h.name} ${up}`);
    if ('stage' in pools && pools.stage === 'NoReachableStorage') return fail(pools.stage, () => pools.detail);
    const avoided = strictAvoid.get(h.name);
    if (avoided) return fail('Affinity', () => avoided);
    if (strictOnly && !strictOnly.has(h.name)) return fail('Affinity', () => strictOnlyWhy);
    const capacity = h.host.status?.capacity;
    if (!capacity) return fail('InsufficientCapacity', () => `${h.name} has not reported its capacity`);
    if (capacity.cpuNumber < req.demand.cores) return fail('InsufficientCapacity', () => `${h.name} has ${capacity.cpuNumber} cores`);
    if (capacity.cpuSpeed < req.cpuSpeed) return fail('InsufficientCapacity', () => `${h.name} cores run at ${capacity.cpuSpeed} MHz`);
    const freeCpu = h.cpuTotal - h.cpuAllocated;
    const freeMemory = h.memoryTotal - h.memoryAllocated;
    if (freeCpu < req.demand.cpuMhz || freeMemory < req.demand.memoryBytes) {
      return fail('InsufficientCapacity', () => `${h.name} has ${Math.max(0, freeCpu)} MHz and ${formatBytes(Math.max(0, freeMemory))} free`);
    }
    if (threshold) return fail('DisableThreshold', () => threshold);
    if ('stage' in pools) return fail(pools.stage, () => pools.detail);
    return pools;
  };

  const choose = (view: ClusterView, h: HostView, volumes: Decision['volumes']): Decision => ({
    scheduled: true,
    placement: { zone: req.zone, pod: view.pod, cluster: view.name, host: h.name },
    volumes,
    demand: req.demand,
    strategy: `${req.planner}/${req.allocator}`,
  });

  const ordered = orderClusters(req.planner, views, orderSettings);
  const blocks = new Map<ClusterView, { block: [Constraint, string] | undefined; threshold: string | undefined }>();
  const blocksOf = (view: ClusterView) => {
    let b = blocks.get(view);
    if (!b) blocks.set(view, (b = { block: clusterBlock(view), threshold: thresholdBlock(view) }));
    return b;
  };

  if (req.preferHost !== undefined) {
    const preferred = req.preferHost;
    const view = views.find((v) => v.name === index.host(preferred)?.host?.spec.clusterRef.name);
    const h = view && hostsOf(view).find((x) => x.name === preferred);
    if (view && h) {
      const b = blocksOf(view);
      const volumes = evaluate(view, h, b.block, b.threshold);
      if (volumes) return choose(view, h, volumes);
      // Start the count afresh: the walk below meets this host again.
      funnel = createFunnel();
    }
  }

  let best: { view: ClusterView; host: HostView; volumes: Decision['volumes']; penalty: number } | undefined;
  for (const view of ordered) {
    const b = blocksOf(view);
    for (const h of orderHosts(req.allocator, hostsOf(view), orderSettings, env.random)) {
      const volumes = evaluate(view, h, b.block, b.threshold);
      if (!volumes) continue;
      if (preferences.length === 0) return choose(view, h, volumes);
      const penalty = preferences.reduce((n, p) => {
        const here = p.members.get(h.name)?.length ?? 0;
        return n + (p.type === 'non-strict host anti-affinity' ? here : here > 0 ? 0 : 1);
      }, 0);
      if (!best || penalty < best.penalty) best = { view, host: h, volumes, penalty };
    }
  }
  if (best) return choose(best.view, best.host, best.volumes);
  return funnel.result(req, considered);
}

export type PoolsOrFailure = Decision['volumes'] | { stage: Constraint; detail: string };

/**
 * Chooses a pool per volume on a host. The pools in the host's scope (host-scoped ones for
 * local storage; the cluster's, then the zone's, of the cluster's hypervisor, for shared) must
 * carry the volume's storage tags (StorageTags); of those, one must be Up, out of maintenance
 * and not reported unmounted on the host (NoReachableStorage), and have room by
 * storage.overprovisioning.factor and the pool disable thresholds (InsufficientStorage). Among
 * those, cluster-scoped pools come before zone-wide ones, as in CloudStack, then the roomiest.
 * Volumes of the same VM add up on a pool. A failure names the earliest of the three stages
 * any volume failed, so the planner can place each stage among its filters.
 */
export function storageChooser(index: CapacityIndex, zone: string, volumes: readonly VolumeRequest[], now: number): (cluster: ClusterObject, host: string) => PoolsOrFailure {
  const settings = index.settings();
  const allocatedThreshold = settings.number('pool.storage.allocated.capacity.disablethreshold');
  const usedThreshold = settings.number('pool.storage.capacity.disablethreshold');
  const room = (slot: PoolSlot): number => {
    const pool = slot.pool!;
    const capacity = pool.status?.capacityBytes ?? 0;
    if (capacity <= 0 || (pool.status?.usedBytes ?? 0) / capacity >= usedThreshold) return 0;
    return Math.floor(capacity * poolOverprovision(pool, settings) * allocatedThreshold) - index.poolAllocated(slot, now);
  };
  const serves = (slot: PoolSlot | undefined, cluster: ClusterObject): slot is PoolSlot => {
    const pool = slot?.pool;
    return !!pool && (pool.spec.scope !== 'Zone' || pool.spec.hypervisor === undefined || pool.spec.hypervisor === (cluster.spec.hypervisor ?? 'KVM'));
  };
  const up = (slot: PoolSlot, host: string): boolean => slot.pool?.status?.state === 'Up' && !slot.pool.spec.maintenance && !slot.unmounted.has(host);
  const shared = new Map<string, PoolSlot[]>();
  const sharedOf = (cluster: ClusterObject): PoolSlot[] => {
    const name = cluster.metadata.name ?? '';
    let list = shared.get(name);
    if (!list) {
      const names = [...index.poolsScopedTo('cluster', name), ...index.poolsScopedTo('zone', zone)];
      shared.set(name, (list = names.map((n) => index.pool(n)).filter((s) => serves(s, cluster))));
    }
    return list;
  };
  const rank: Record<string, number> = { StorageTags: 0, NoReachableStorage: 1, InsufficientStorage: 2 };

  return (cluster, host) => {
    const chosen: Decision['volumes'] = [];
    const extra = new Map<string, number>();
    let failure: { stage: Constraint; detail: string } | undefined;
    const fail = (stage: Constraint, detail: string) => {
      if (!failure || rank[stage]! < rank[failure.stage]!) failure = { stage, detail };
    };
    for (const v of volumes) {
      if (v.pool !== undefined) {
        const slot = index.pool(v.pool);
        if (!serves(slot, cluster) || !reachable(slot, cluster.metadata.name ?? '', host, zone) || !up(slot, host)) fail('NoReachableStorage', `${host} does not reach pool ${v.pool} of volume ${v.key}`);
        else chosen.push({ key: v.key, pool: v.pool, bytes: v.bytes });
        continue;
      }
      const inScope = v.storageType === 'local' ? index.poolsScopedTo('host', host).map((n) => index.pool(n)).filter((s) => serves(s, cluster)) : sharedOf(cluster);
      if (inScope.length === 0) {
        fail('NoReachableStorage', `${host} has no ${v.storageType} pool for ${v.key}`);
        continue;
      }
      const tagged = inScope.filter((s) => v.storageTags.every((t) => s.tags.has(t)));
      if (tagged.length === 0) {
        fail('StorageTags', `no pool of ${host} carries ${v.storageTags.join(', ')} for ${v.key}`);
        return failure!;
      }
      const live = tagged.filter((s) => up(s, host));
      if (live.length === 0) {
        fail('NoReachableStorage', `${host} reaches no Up ${v.storageType} pool for ${v.key} (${tagged.map((s) => `${s.name} ${s.pool?.status?.state ?? 'unknown'}`).join(', ')})`);
        continue;
      }
      let pick: { slot: PoolSlot; free: number; rank: number } | undefined;
      for (const slot of live) {
        const free = room(slot) - (extra.get(slot.name) ?? 0);
        const scopeRank = slot.pool?.spec.scope === 'Zone' ? 1 : 0;
        if (free >= v.bytes && (!pick || scopeRank < pick.rank || (scopeRank === pick.rank && free > pick.free))) pick = { slot, free, rank: scopeRank };
      }
      if (!pick) {
        const most = Math.max(...live.map((s) => room(s) - (extra.get(s.name) ?? 0)));
        fail('InsufficientStorage', `${v.key} needs ${formatBytes(v.bytes)}, the roomiest pool of ${host} has ${formatBytes(Math.max(0, most))}`);
        continue;
      }
      extra.set(pick.slot.name, (extra.get(pick.slot.name) ?? 0) + v.bytes);
      chosen.push({ key: v.key, pool: pick.slot.name, bytes: v.bytes });
    }
    return failure ?? chosen;
  };
}

function reachable(slot: PoolSlot, cluster: string, host: string, zone: string): boolean {
  const spec = slot.pool!.spec;
  switch (spec.scope ?? 'Cluster') {
    case 'Zone':
      return spec.zoneRef.name === zone;
    case 'Host':
      return spec.hostRef?.name === host;
    default:
      return spec.clusterRef?.name === cluster;
  }
}
