/**
 * What the infrastructure reconcilers share: one set of informers and indexes over the
 * kinds they read, the effective global settings, and the way they write status (server-side
 * apply of the fields the operator owns, only when something changed), labels, finalizers
 * and events.
 */
import {
  Cluster,
  Configuration,
  DiskOffering,
  Host,
  IPAddress,
  IPRange,
  Network,
  NetworkOffering,
  PhysicalNetwork,
  Pod,
  PrimaryStorage,
  SecondaryStorage,
  ServiceOffering,
  VirtualMachine,
  VlanAllocation,
  Volume,
  Zone,
  type ClusterObject,
  type ConfigurationObject,
  type DiskOfferingObject,
  type HostObject,
  type IPAddressObject,
  type IPRangeObject,
  type KindInfo,
  type NetworkObject,
  type NetworkOfferingObject,
  type PhysicalNetworkObject,
  type PodObject,
  type PrimaryStorageObject,
  type SecondaryStorageObject,
  type ServiceOfferingObject,
  type VirtualMachineObject,
  type VlanAllocationObject,
  type VolumeObject,
  type ZoneObject,
} from '../crds/index.ts';
import { SYNCED, type Condition } from '../lib/conditions.ts';
import type { EventRecorder } from '../lib/events.ts';
import type { Informer } from '../lib/informer.ts';
import { type KubeClient, type KubeObject, type ResourceClient, resourceTypeOf } from '../lib/kube-client.ts';
import { LEASES } from '../lib/leader-election.ts';
import type { Manager } from '../lib/manager.ts';
import type { StatusWriter } from '../lib/status.ts';
import { LABEL_NETWORK_UID } from '../lib/guest-identity.ts';
import { byField, byLabel } from '../lib/store.ts';
import { HOST_LEASE_NAMESPACE } from '../lib/agent-contract.ts';
import { DEFAULT_SETTINGS, GLOBAL_CONFIGURATION, resolveSettings, type Settings } from '../lib/settings.ts';



export interface LeaseLive extends KubeObject {
  spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
}


/** The operator's field manager for everything it writes. */
export const OPERATOR_FIELD_MANAGER = 'kumulus-operator';
/** Holds a parent while it has children. */
export const CHILDREN_FINALIZER = 'infra.kumulus.io/children';
/** Holds an offering or range while something uses it. */
export const IN_USE_FINALIZER = 'infra.kumulus.io/in-use';

export { LABEL_CLUSTER, LABEL_HOST, LABEL_POD, LABEL_ZONE } from '../lib/hierarchy-labels.ts';

/** Index names, prefixed so they never collide with other controllers' indexes on shared informers. */
export const INDEX = {
  zone: 'infra.zone',
  pod: 'infra.pod',
  cluster: 'infra.cluster',
  host: 'infra.host',
  pool: 'infra.pool',
  vm: 'infra.vm',
  ipRange: 'infra.ip-range',
  physicalNetwork: 'infra.physical-network',
  serviceOffering: 'infra.service-offering',
  diskOffering: 'infra.disk-offering',
  networkOffering: 'infra.network-offering',
  /** `namespace/name` of each network a VM's NICs are on. */
  network: 'infra.network',
  /** metadata.uid of the guest network an IPAddress or VlanAllocation belongs to. */
  networkUid: 'network.network-uid',
  /** metadata.uid of the VM whose NIC holds an IPAddress. */
  consumerUid: 'network.consumer-uid',
} as const;

export interface InfraInformers {
  zones: Informer<ZoneObject>;
  pods: Informer<PodObject>;
  clusters: Informer<ClusterObject>;
  hosts: Informer<HostObject>;
  primaryStorages: Informer<PrimaryStorageObject>;
  secondaryStorages: Informer<SecondaryStorageObject>;
  physicalNetworks: Informer<PhysicalNetworkObject>;
  ipRanges: Informer<IPRangeObject>;
  serviceOfferings: Informer<ServiceOfferingObject>;
  diskOfferings: Informer<DiskOfferingObject>;
  networkOfferings: Informer<NetworkOfferingObject>;
  configurations: Informer<ConfigurationObject>;
  vms: Informer<VirtualMachineObject>;
  volumes: Informer<VolumeObject>;
  networks: Informer<NetworkObject>;
  ipAddresses: Informer<IPAddressObject>;
  vlanAllocations: Informer<VlanAllocationObject>;
  leases: Informer<LeaseLive>;
}

export interface InfraContext {
  informers: InfraInformers;
  client: KubeClient;
  events: EventRecorder;
  /** The effective global settings, from the cached `global` Configuration (defaults until it exists). */
  settings(): Settings;
  now(): Date;
  /** How long an allocation record may lack its consumer before it is freed (allocation-records.ts). */
  orphanGraceMs: number;
}

export interface InfraOptions {
  /** Default 60 s: KEP-1880's, the apiserver's request timeout. */
  orphanGraceMs?: number;
}

export const DEFAULT_ORPHAN_GRACE_MS = 60_000;

/** The manager's shared informer over a kind. */
export function informerOf<T extends KubeObject>(manager: Manager, kind: KindInfo): Informer<T> {
  return manager.informer<T>(resourceTypeOf(kind));
}

export function createInfraContext(manager: Manager, options: InfraOptions = {}): InfraContext {
  const informers: InfraInformers = {
    zones: informerOf(manager, Zone),
    pods: informerOf(manager, Pod),
    clusters: informerOf(manager, Cluster),
    hosts: informerOf(manager, Host),
    primaryStorages: informerOf(manager, PrimaryStorage),
    secondaryStorages: informerOf(manager, SecondaryStorage),
    physicalNetworks: informerOf(manager, PhysicalNetwork),
    ipRanges: informerOf(manager, IPRange),
    serviceOfferings: informerOf(manager, ServiceOffering),
    diskOfferings: informerOf(manager, DiskOffering),
    networkOfferings: informerOf(manager, NetworkOffering),
    configurations: informerOf(manager, Configuration),
    vms: informerOf(manager, VirtualMachine),
    volumes: informerOf(manager, Volume),
    networks: informerOf(manager, Network),
    ipAddresses: informerOf(manager, IPAddress),
    vlanAllocations: informerOf(manager, VlanAllocation),
    leases: manager.informer<LeaseLive>(LEASES, { namespace: HOST_LEASE_NAMESPACE }),
  };
  const i = informers;
  i.pods.addIndex(INDEX.zone, byField((o: PodObject) => o.spec.zoneRef.name));
  i.clusters.addIndex(INDEX.pod, byField((o: ClusterObject) => o.spec.podRef.name));
  i.hosts.addIndex(INDEX.cluster, byField((o: HostObject) => o.spec.clusterRef.name));
  i.primaryStorages.addIndex(INDEX.zone, byField((o: PrimaryStorageObject) => o.spec.zoneRef.name));
  i.primaryStorages.addIndex(INDEX.cluster, byField((o: PrimaryStorageObject) => o.spec.clusterRef?.name));
  i.primaryStorages.addIndex(INDEX.host, byField((o: PrimaryStorageObject) => o.spec.hostRef?.name));
  i.secondaryStorages.addIndex(INDEX.zone, byField((o: SecondaryStorageObject) => o.spec.zoneRef.name));
  i.physicalNetworks.addIndex(INDEX.zone, byField((o: PhysicalNetworkObject) => o.spec.zoneRef.name));
  i.ipRanges.addIndex(INDEX.zone, byField((o: IPRangeObject) => o.spec.zoneRef.name));
  i.ipRanges.addIndex(INDEX.pod, byField((o: IPRangeObject) => o.spec.podRef?.name));
  i.ipRanges.addIndex(INDEX.physicalNetwork, byField((o: IPRangeObject) => o.spec.physicalNetworkRef?.name));
  i.vms.addIndex(INDEX.host, byField((o: VirtualMachineObject) => o.status?.placement?.host));
  i.vms.addIndex(INDEX.network, (o: VirtualMachineObject) => (o.spec.networks ?? []).map((n) => `${o.metadata.namespace ?? ''}/${n.name}`));
  i.vms.addIndex(INDEX.serviceOffering, byField((o: VirtualMachineObject) => o.spec.serviceOfferingRef.name));
  i.vms.addIndex(INDEX.diskOffering, (o: VirtualMachineObject) => [
    ...(o.spec.rootDiskOfferingRef ? [o.spec.rootDiskOfferingRef.name] : []),
    ...(o.spec.dataDisks ?? []).map((d) => d.diskOfferingRef.name),
  ]);
  i.volumes.addIndex(INDEX.pool, byField((o: VolumeObject) => o.status?.pool));
  i.volumes.addIndex(INDEX.vm, byField((o: VolumeObject) => (o.spec.vmRef ? `${o.metadata.namespace ?? ''}/${o.spec.vmRef.name}` : undefined)));
  i.volumes.addIndex(INDEX.diskOffering, byField((o: VolumeObject) => o.spec.diskOfferingRef?.name));
  i.serviceOfferings.addIndex(INDEX.diskOffering, byField((o: ServiceOfferingObject) => o.spec.diskOfferingRef?.name));
  i.networks.addIndex(INDEX.networkOffering, byField((o: NetworkObject) => o.spec.networkOfferingRef.name));
  i.networks.addIndex(INDEX.physicalNetwork, (o: NetworkObject) => [...new Set([o.spec.physicalNetworkRef?.name, o.status?.physicalNetwork].filter((n): n is string => !!n))]);
  i.ipAddresses.addIndex(INDEX.ipRange, byField((o: IPAddressObject) => o.spec.ipRangeRef?.name));
  i.ipAddresses.addIndex(INDEX.networkUid, byLabel(LABEL_NETWORK_UID));
  i.ipAddresses.addIndex(INDEX.consumerUid, byField((o: IPAddressObject) => o.spec.consumerRef?.uid));
  i.vlanAllocations.addIndex(INDEX.networkUid, byField((o: VlanAllocationObject) => o.spec.networkRef?.uid));
  i.vlanAllocations.addIndex(INDEX.physicalNetwork, byField((o: VlanAllocationObject) => o.spec.physicalNetworkRef.name));

  return {
    informers,
    client: manager.client,
    events: manager.events,
    settings: () => {
      const global = informers.configurations.get(GLOBAL_CONFIGURATION);
      return global ? resolveSettings(global.spec.settings).settings : DEFAULT_SETTINGS;
    },
    now: () => new Date(),
    orphanGraceMs: options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS,
  };
}

export function clientFor<T extends KubeObject>(ctx: { client: KubeClient }, kind: KindInfo): ResourceClient<T> {
  return ctx.client.resource<T>(resourceTypeOf(kind));
}

// Status ----------------------------------------------------------------------------------

/**
 * Which status fields and condition types the operator owns on a kind besides state,
 * observedGeneration and Synced, which it always owns (the agent may own others).
 */
export interface StatusOwnership {
  fields: readonly string[];
  conditions: readonly string[];
}

/** The operator's status writer for a kind (lib/status.ts). */
export function operatorStatus(ownership: StatusOwnership): StatusWriter {
  return { fieldManager: OPERATOR_FIELD_MANAGER, fields: ['observedGeneration', 'state', ...ownership.fields], conditions: [...ownership.conditions, SYNCED] };
}

// Labels and messages ----------------------------------------------------------------------------

/** Sets the ancestor labels (kumulus.io/zone, /pod, /cluster, /host) when any differs. */
export async function ensureLabels<T extends KubeObject>(client: ResourceClient<T>, obj: KubeObject, labels: Record<string, string | undefined>, signal: AbortSignal): Promise<void> {
  const wanted = Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => e[1] !== undefined));
  if (Object.entries(wanted).every(([k, v]) => obj.metadata.labels?.[k] === v)) return;
  await client.patch({ namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' }, { metadata: { labels: wanted } }, 'merge', { fieldManager: OPERATOR_FIELD_MANAGER, signal });
}

/** Names in a list for a message: the first five, then how many more. */
export function listNames(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

export function isTrue(obj: { status?: { conditions?: Condition[] } } | undefined, type: string): boolean {
  return obj?.status?.conditions?.find((c) => c.type === type)?.status === 'True';
}
