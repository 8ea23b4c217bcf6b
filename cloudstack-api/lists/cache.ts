import { createHash } from 'node:crypto';
import {
  Account,
  AffinityGroup,
  AsyncJob,
  InstanceGroup,
  UserData,
  Cluster,
  Configuration,
  DiskOffering,
  Domain,
  Host,
  IPRange,
  Network,
  NetworkOffering,
  PhysicalNetwork,
  Pod,
  PrimaryStorage,
  SecondaryStorage,
  ServiceOffering,
  SSHKeyPair,
  Template,
  User,
  VirtualMachine,
  VlanAllocation,
  Volume,
  Zone,
  type AccountObject,
  type AffinityGroupObject,
  type InstanceGroupObject,
  type UserDataObject,
  type AsyncJobObject,
  type ClusterObject,
  type ConfigurationObject,
  type DiskOfferingObject,
  type DomainObject,
  type HostObject,
  type IPRangeObject,
  type KindInfo,
  type NetworkObject,
  type NetworkOfferingObject,
  type PhysicalNetworkObject,
  type PodObject,
  type PrimaryStorageObject,
  type SecondaryStorageObject,
  type ServiceOfferingObject,
  type SSHKeyPairObject,
  type TemplateObject,
  type UserObject,
  type VirtualMachineObject,
  type VlanAllocationObject,
  type VolumeObject,
  type ZoneObject,
} from '../../crds/index.ts';
import { LABEL_ZONE } from '../../lib/hierarchy-labels.ts';
import type { Informer } from '../../lib/informer.ts';
import { type KubeObject, type ResourceType, resourceTypeOf } from '../../lib/kube-client.ts';
import { byCreation } from './filters.ts';
import { ACCOUNT_INDEXES, byUid, DOMAIN_INDEXES, type Extract, INDEX, indexed, type InformerSource, USER_INDEXES } from './indexes.ts';

/**
 * The API's read side: the shared informers of every kind the infrastructure commands serve,
 * each with the indexes its lists and lookups need (by uid, which is the CloudStack id, and by
 * parent name). Lists never reach the apiserver; whether a caller may read a cache is decided
 * by RBAC (the `mayList` dependency) before a list is served.
 */

/** events.k8s.io/v1 Event, the fields listEvents reads. */
export interface EventLive extends KubeObject {
  eventTime?: string;
  reason?: string;
  note?: string;
  type?: string;
  action?: string;
  regarding?: { apiVersion?: string; kind?: string; name?: string; namespace?: string; uid?: string };
  series?: { count: number; lastObservedTime: string };
  /** A core/v1 Event's `count`, `firstTimestamp` and `lastTimestamp` as events.k8s.io shows them. */
  deprecatedCount?: number;
  deprecatedFirstTimestamp?: string;
  deprecatedLastTimestamp?: string;
}

export const EVENTS: ResourceType = { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };

export interface Cached<T extends KubeObject> {
  readonly kind: KindInfo;
  readonly type: ResourceType;
  readonly informer: Informer<T>;
  byUid(uid: string): T | undefined;
  byName(name: string, namespace?: string): T | undefined;
  byIndex(index: string, value: string): T[];
  list(): T[];
  /** Counts the changes the cache applied (adds, updates, deletes; not watch bookmarks, which move the resourceVersion alone). */
  changes(): number;
  /** Every object, oldest first (then by name): stable pages on every replica, re-sorted only after a change. */
  sorted(): readonly T[];
}

function cached<T extends KubeObject>(source: InformerSource, kind: KindInfo, indexes: Readonly<Record<string, Extract<T>>> = {}): Cached<T> {
  const type = resourceTypeOf(kind);
  const informer = indexed(source.informer<T>(type), indexes);
  // The informer's resourceVersion moves, in the same tick, with every change it applies.
  let order: { resourceVersion: string; size: number; objects: readonly T[] } | undefined;
  let changes = 0;
  const changed = () => void changes++;
  informer.addHandler({ onAdd: changed, onUpdate: changed, onDelete: changed });
  return {
    kind,
    type,
    informer,
    sorted() {
      const resourceVersion = informer.stats.resourceVersion;
      const objects = informer.list();
      if (order?.resourceVersion !== resourceVersion || order.size !== objects.length) order = { resourceVersion, size: objects.length, objects: objects.sort(byCreation) };
      return order.objects;
    },
    byUid: (uid) => byUid(informer, uid),
    byName: (name, namespace) => informer.get({ name, namespace }),
    byIndex: (index, value) => informer.byIndex(index, value),
    list: () => informer.list(),
    changes: () => changes,
  };
}

export interface InfraCache {
  readonly zones: Cached<ZoneObject>;
  readonly pods: Cached<PodObject>;
  readonly clusters: Cached<ClusterObject>;
  readonly hosts: Cached<HostObject>;
  readonly primaryStorages: Cached<PrimaryStorageObject>;
  readonly secondaryStorages: Cached<SecondaryStorageObject>;
  readonly physicalNetworks: Cached<PhysicalNetworkObject>;
  readonly ipRanges: Cached<IPRangeObject>;
  readonly serviceOfferings: Cached<ServiceOfferingObject>;
  readonly diskOfferings: Cached<DiskOfferingObject>;
  readonly networkOfferings: Cached<NetworkOfferingObject>;
  readonly configurations: Cached<ConfigurationObject>;
  readonly asyncJobs: Cached<AsyncJobObject>;
  readonly accounts: Cached<AccountObject>;
  readonly users: Cached<UserObject>;
  readonly domains: Cached<DomainObject>;
  readonly virtualMachines: Cached<VirtualMachineObject>;
  readonly volumes: Cached<VolumeObject>;
  readonly templates: Cached<TemplateObject>;
  readonly sshKeyPairs: Cached<SSHKeyPairObject>;
  readonly affinityGroups: Cached<AffinityGroupObject>;
  readonly instanceGroups: Cached<InstanceGroupObject>;
  readonly userData: Cached<UserDataObject>;
  readonly networks: Cached<NetworkObject>;
  readonly vlanAllocations: Cached<VlanAllocationObject>;
  readonly events: Informer<EventLive>;
  /** The cache of a kind (`apiVersion` and `kind`, as an AsyncJob's targetRef names them), if the API keeps one. */
  ofKind(apiVersion: string, kind: string): Cached<KubeObject> | undefined;
  /** Resolves once every informer has its first list. */
  synced(): Promise<void>;
}

export function createInfraCache(source: InformerSource): InfraCache {
  const zoneOf = (o: { spec: { zoneRef: { name: string } } }) => o.spec.zoneRef.name;
  const cache = {
    zones: cached<ZoneObject>(source, Zone),
    pods: cached<PodObject>(source, Pod, { [INDEX.zone]: zoneOf }),
    // Clusters and hosts name no zone in their spec: their zone is the label their controllers write.
    clusters: cached<ClusterObject>(source, Cluster, { [INDEX.pod]: (o) => o.spec.podRef.name, [INDEX.zone]: (o) => o.metadata.labels?.[LABEL_ZONE] }),
    hosts: cached<HostObject>(source, Host, { [INDEX.cluster]: (o) => o.spec.clusterRef.name, [INDEX.node]: (o) => o.spec.nodeName, [INDEX.zone]: (o) => o.metadata.labels?.[LABEL_ZONE] }),
    primaryStorages: cached<PrimaryStorageObject>(source, PrimaryStorage, { [INDEX.zone]: zoneOf, [INDEX.cluster]: (o) => o.spec.clusterRef?.name }),
    secondaryStorages: cached<SecondaryStorageObject>(source, SecondaryStorage, { [INDEX.zone]: zoneOf }),
    physicalNetworks: cached<PhysicalNetworkObject>(source, PhysicalNetwork, { [INDEX.zone]: zoneOf }),
    ipRanges: cached<IPRangeObject>(source, IPRange, { [INDEX.zone]: zoneOf, [INDEX.pod]: (o) => o.spec.podRef?.name }),
    serviceOfferings: cached<ServiceOfferingObject>(source, ServiceOffering),
    diskOfferings: cached<DiskOfferingObject>(source, DiskOffering),
    networkOfferings: cached<NetworkOfferingObject>(source, NetworkOffering),
    configurations: cached<ConfigurationObject>(source, Configuration),
    asyncJobs: cached<AsyncJobObject>(source, AsyncJob, { [INDEX.target]: (o) => o.spec.targetRef.uid }),
    accounts: cached<AccountObject>(source, Account, ACCOUNT_INDEXES),
    users: cached<UserObject>(source, User, USER_INDEXES),
    domains: cached<DomainObject>(source, Domain, DOMAIN_INDEXES),
    virtualMachines: cached<VirtualMachineObject>(source, VirtualMachine, { [INDEX.zone]: zoneOf, [INDEX.host]: (o) => o.status?.placement?.host }),
    // A namespaced reference (a VM's volumes, a VM's networks) files as `namespace/name`.
    volumes: cached<VolumeObject>(source, Volume, { [INDEX.vm]: (o) => (o.spec.vmRef ? `${o.metadata.namespace ?? ''}/${o.spec.vmRef.name}` : undefined) }),
    templates: cached<TemplateObject>(source, Template),
    sshKeyPairs: cached<SSHKeyPairObject>(source, SSHKeyPair),
    affinityGroups: cached<AffinityGroupObject>(source, AffinityGroup),
    instanceGroups: cached<InstanceGroupObject>(source, InstanceGroup, { [INDEX.shownName]: (o) => `${o.metadata.namespace ?? ''}/${o.spec.displayName ?? o.metadata.name ?? ''}` }),
    userData: cached<UserDataObject>(source, UserData),
    networks: cached<NetworkObject>(source, Network, { [INDEX.zone]: zoneOf }),
    vlanAllocations: cached<VlanAllocationObject>(source, VlanAllocation),
    events: source.informer<EventLive>(EVENTS),
  };
  const informers: Informer[] = [...Object.values(cache).map((c) => ('informer' in c ? c.informer : c) as unknown as Informer)];
  const kinds = new Map<string, Cached<KubeObject>>();
  for (const c of Object.values(cache)) if ('kind' in c) kinds.set(`${c.kind.apiVersion}/${c.kind.kind}`, c);
  return {
    ...cache,
    ofKind: (apiVersion, kind) => kinds.get(`${apiVersion}/${kind}`),
    synced: async () => void (await Promise.all(informers.map((i) => i.waitForSync()))),
  };
}

/** A text that changes whenever any of these caches applies a change. */
export function cacheStamp(caches: readonly Cached<KubeObject>[]): string {
  let stamp = '';
  for (const c of caches) stamp += `${c.changes()},`;
  return stamp;
}

const DERIVED_MAX = 200_000;
const derived = new Map<string, string>();

/**
 * A stable id for something that lives inside an object rather than being one (a traffic
 * type, a network service provider): a name-based UUID (version 5 layout) from the object's
 * uid and the item's name, so it survives restarts and is the same on every replica.
 */
export function derivedUuid(parentUid: string, name: string): string {
  const key = `${parentUid}/${name}`;
  const known = derived.get(key);
  if (known !== undefined) return known;
  const hash = createHash('sha1').update(key).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  // A page of VMs asks for every NIC's id again on each request (a third of listVirtualMachines' time in bench/cloudstack-api-vms.ts); started over when full.
  if (derived.size >= DERIVED_MAX) derived.clear();
  derived.set(key, id);
  return id;
}

/** One lookup a builder made through readsOf, and what it found. */
interface Lookup {
  readonly again: () => unknown;
  readonly found: unknown;
}

function sameFinding(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  return a.every((item, i) => item === b[i]);
}

function recordedCached<T extends KubeObject>(c: Cached<T>, lookups: Lookup[]): Cached<T> {
  const record = <R>(again: () => R): R => {
    const found = again();
    // An index's answer is a fresh array each time: its members are compared.
    lookups.push({ again, found: Array.isArray(found) ? [...(found as unknown[])] : found });
    return found;
  };
  return {
    kind: c.kind,
    type: c.type,
    informer: c.informer,
    byUid: (uid) => record(() => c.byUid(uid)),
    byName: (name, namespace) => record(() => c.byName(name, namespace)),
    byIndex: (index, value) => record(() => c.byIndex(index, value)),
    // Whole-cache reads depend on every change of the cache.
    list: () => (record(() => c.changes()), c.list()),
    sorted: () => (record(() => c.changes()), c.sorted()),
    changes: () => record(() => c.changes()),
  };
}

/**
 * The caches as a builder reads them, every lookup recorded: what it built from them stands
 * while `unchanged()`, i.e. each lookup still finds the same objects (an update replaces an
 * object in its cache, so a changed parent is a different object). Narrower than a cacheStamp
 * over the same caches: a Host's heartbeat rebuilds the rows of the VMs on that host only.
 * `seal()` once the build is done: until one of the caches it read changes, `unchanged()` then
 * answers from their change counts alone, without looking anything up again.
 */
export function readsOf(cache: InfraCache): { readonly cache: InfraCache; readonly seal: () => void; readonly unchanged: () => boolean } {
  const lookups: Lookup[] = [];
  const wrapped = new Map<Cached<KubeObject>, Cached<KubeObject>>();
  // Events are an informer without a change count: a builder reading them is looked up again each time.
  let uncounted = false;
  const wrap = (c: Cached<KubeObject>) => {
    let w = wrapped.get(c);
    if (w === undefined) wrapped.set(c, (w = recordedCached(c, lookups)));
    return w;
  };
  const recording = new Proxy(cache, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property === 'ofKind') return (apiVersion: string, kind: string) => {
        const c = target.ofKind(apiVersion, kind);
        return c && wrap(c);
      };
      if (property === 'events') {
        uncounted = true;
        lookups.push({ again: () => target.events.stats.resourceVersion, found: target.events.stats.resourceVersion });
        return value;
      }
      if (typeof value === 'object' && value !== null && 'byName' in value) return wrap(value as Cached<KubeObject>);
      return value;
    },
  });
  let sources: Cached<KubeObject>[] = [];
  // Each count only grows, so their sum moves exactly when one of them does.
  const count = () => sources.reduce((sum, c) => sum + c.changes(), 0);
  let checked: number | undefined;
  return {
    cache: recording,
    seal: () => {
      sources = [...wrapped.keys()];
      checked = uncounted ? undefined : count();
    },
    unchanged: () => {
      const now = uncounted ? undefined : count();
      if (now !== undefined && now === checked) return true;
      if (!lookups.every((l) => sameFinding(l.again(), l.found))) return false;
      checked = now;
      return true;
    },
  };
}
