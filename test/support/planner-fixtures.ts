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
import { createCapacityIndex, type CapacityIndex, type FeedKind, type IndexFeed, type IndexOptions } from '../../controllers/planner/capacity-index.ts';

/**
 * Objects for the planner's unit tests and benchmark, shaped as the informers deliver them
 * (status as the operator and agents write it), with the defaults a small healthy zone has.
 */

export const GiB = 2 ** 30;
export const TiB = 2 ** 40;

let uidCounter = 0;
const uid = (): string => `00000000-0000-4000-8000-${String(++uidCounter).padStart(12, '0')}`;

export function zone(name: string, o: { allocationState?: 'Enabled' | 'Disabled' } = {}): ZoneObject {
  return { metadata: { name, uid: uid() }, spec: { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', allocationState: o.allocationState ?? 'Enabled' } } as unknown as ZoneObject;
}

export function pod(name: string, zoneName: string, o: { allocationState?: 'Enabled' | 'Disabled' } = {}): PodObject {
  return {
    metadata: { name, uid: uid() },
    spec: { zoneRef: { name: zoneName }, gateway: '10.0.0.1', netmask: '255.255.255.0', startIp: '10.0.0.10', ...(o.allocationState ? { allocationState: o.allocationState } : {}) },
  } as unknown as PodObject;
}

export function cluster(
  name: string,
  podName: string,
  o: { hypervisor?: 'KVM' | 'Simulator' | 'KubeVirt'; allocationState?: 'Enabled' | 'Disabled'; cpuOvercommitRatio?: number; memoryOvercommitRatio?: number } = {},
): ClusterObject {
  return { metadata: { name, uid: uid() }, spec: { podRef: { name: podName }, hypervisor: o.hypervisor ?? 'KVM', ...o } } as unknown as ClusterObject;
}

export interface HostOptions {
  cores?: number;
  mhz?: number;
  memory?: number;
  state?: string;
  resourceState?: string;
  tags?: string[];
  capacity?: false;
}

export function host(name: string, clusterName: string, o: HostOptions = {}): HostObject {
  return {
    metadata: { name, uid: uid() },
    spec: { clusterRef: { name: clusterName }, nodeName: name, ...(o.tags ? { hostTags: o.tags } : {}) },
    status: {
      state: o.state ?? 'Up',
      resourceState: o.resourceState ?? 'Enabled',
      ...(o.capacity === false ? {} : { capacity: { cpuSockets: 1, cpuNumber: o.cores ?? 8, cpuSpeed: o.mhz ?? 2000, memoryBytes: o.memory ?? 32 * GiB } }),
    },
  } as unknown as HostObject;
}

export interface PoolOptions {
  scope?: 'Zone' | 'Cluster' | 'Host';
  cluster?: string;
  host?: string;
  capacity?: number;
  used?: number;
  tags?: string[];
  state?: string;
  overprovisionFactor?: number;
  unmountedOn?: string[];
}

export function pool(name: string, zoneName: string, o: PoolOptions = {}): PrimaryStorageObject {
  const scope = o.scope ?? (o.host ? 'Host' : o.cluster ? 'Cluster' : 'Zone');
  return {
    metadata: { name, uid: uid() },
    spec: {
      zoneRef: { name: zoneName },
      scope,
      ...(o.cluster ? { clusterRef: { name: o.cluster } } : {}),
      ...(o.host ? { hostRef: { name: o.host } } : {}),
      protocol: scope === 'Host' ? 'Local' : 'NFS',
      path: '/export',
      ...(o.tags ? { tags: o.tags } : {}),
      ...(o.overprovisionFactor ? { overprovisionFactor: o.overprovisionFactor } : {}),
    },
    status: {
      state: o.state ?? 'Up',
      capacityBytes: o.capacity ?? TiB,
      usedBytes: o.used ?? 0,
      ...(o.unmountedOn ? { mounts: o.unmountedOn.map((h) => ({ host: h, mounted: false, message: 'mount failed' })) } : {}),
    },
  } as unknown as PrimaryStorageObject;
}

export interface OfferingOptions {
  cpuNumber?: number;
  cpuSpeed?: number;
  memory?: string;
  hostTags?: string[];
  storageTags?: string[];
  storageType?: 'shared' | 'local';
  deploymentPlanner?: 'FirstFitPlanner' | 'UserDispersingPlanner' | 'UserConcentratedPodPlanner';
}

export function offering(name: string, o: OfferingOptions = {}): ServiceOfferingObject {
  return { metadata: { name, uid: uid() }, spec: { cpuNumber: o.cpuNumber ?? 1, cpuSpeed: o.cpuSpeed ?? 1000, memory: o.memory ?? '1Gi', ...o } } as unknown as ServiceOfferingObject;
}

export function diskOffering(name: string, size: string, o: { storageTags?: string[]; storageType?: 'shared' | 'local' } = {}): DiskOfferingObject {
  return { metadata: { name, uid: uid() }, spec: { diskSize: size, ...o } } as unknown as DiskOfferingObject;
}

export function template(namespace: string, name: string, o: { hypervisor?: 'KVM' | 'Simulator'; zone?: string; sizeBytes?: number } = {}): TemplateObject {
  return {
    metadata: { namespace, name, uid: uid() },
    spec: { url: 'file:///t.qcow2', format: 'QCOW2', hypervisor: o.hypervisor ?? 'KVM', crossZones: true },
    status: { state: 'Active', zones: o.zone ? [{ zone: o.zone, downloadState: 'DOWNLOADED', downloadPercent: 100, sizeBytes: o.sizeBytes ?? 10 * GiB }] : [] },
  } as unknown as TemplateObject;
}

export function affinityGroup(namespace: string, name: string, type: AffinityGroupObject['spec']['type']): AffinityGroupObject {
  return { metadata: { namespace, name, uid: uid() }, spec: { type } } as unknown as AffinityGroupObject;
}

export function configuration(settings: Record<string, string>): ConfigurationObject {
  return { metadata: { name: 'global', uid: uid() }, spec: { settings } } as unknown as ConfigurationObject;
}

export interface VmOptions {
  zone?: string;
  offering?: string;
  template?: string;
  /** Placed on this host (status.placement), with status.state. */
  host?: string;
  state?: string;
  /** When the Running condition last flipped to False (a stopped VM). */
  stoppedAt?: string;
  groups?: string[];
  hostRef?: string;
  cpuNumber?: number;
  memory?: string;
}

export function vm(namespace: string, name: string, o: VmOptions = {}): VirtualMachineObject {
  return {
    metadata: { namespace, name, uid: uid(), creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      zoneRef: { name: o.zone ?? 'z1' },
      serviceOfferingRef: { name: o.offering ?? 'small' },
      templateRef: { name: o.template ?? 'tmpl' },
      ...(o.groups ? { affinityGroupRefs: o.groups.map((g) => ({ name: g })) } : {}),
      ...(o.hostRef ? { hostRef: { name: o.hostRef } } : {}),
      ...(o.cpuNumber ? { cpuNumber: o.cpuNumber } : {}),
      ...(o.memory ? { memory: o.memory } : {}),
    },
    status: {
      ...(o.host ? { placement: { zone: o.zone ?? 'z1', pod: '', cluster: '', host: o.host } } : {}),
      ...(o.state ? { state: o.state } : {}),
      ...(o.stoppedAt ? { conditions: [{ type: 'Running', status: 'False', reason: 'Stopped', message: '', lastTransitionTime: o.stoppedAt }] } : {}),
    },
  } as unknown as VirtualMachineObject;
}

export function volume(namespace: string, name: string, o: { type?: 'ROOT' | 'DATADISK'; size?: string; pool?: string; diskOffering?: string; zone?: string } = {}): VolumeObject {
  return {
    metadata: { namespace, name, uid: uid() },
    spec: {
      type: o.type ?? 'ROOT',
      zoneRef: { name: o.zone ?? 'z1' },
      ...(o.type === 'DATADISK' ? {} : { templateRef: { name: 'tmpl' } }),
      ...(o.size ? { size: o.size } : {}),
      ...(o.diskOffering ? { diskOfferingRef: { name: o.diskOffering } } : {}),
    },
    status: o.pool ? { pool: o.pool } : {},
  } as unknown as VolumeObject;
}

export type Objects = { [K in FeedKind]?: IndexFeed[K][] };

/** Feeds objects to an index in the given order, as informers would. */
export function feedAll(index: CapacityIndex, objects: Objects): CapacityIndex {
  for (const [kind, list] of Object.entries(objects) as [FeedKind, IndexFeed[FeedKind][]][]) {
    for (const obj of list) index.upsert(kind, obj);
  }
  return index;
}

export function indexOf(objects: Objects, options: IndexOptions = {}): CapacityIndex {
  return feedAll(createCapacityIndex(options), objects);
}

/** A zone z1 with one pod p1, the given clusters and hosts, a zone-wide pool, offering `small` and template tmpl in namespaces ns and other. */
export function basicWorld(o: { clusters?: string[]; hostsPerCluster?: number; host?: HostOptions } = {}): Objects {
  const clusters = o.clusters ?? ['c1'];
  return {
    zones: [zone('z1')],
    pods: [pod('p1', 'z1')],
    clusters: clusters.map((c) => cluster(c, 'p1')),
    hosts: clusters.flatMap((c) => Array.from({ length: o.hostsPerCluster ?? 2 }, (_, n) => host(`${c}-h${n + 1}`, c, o.host))),
    primaryStorages: [pool('zone-pool', 'z1')],
    serviceOfferings: [offering('small')],
    templates: [template('ns', 'tmpl', { zone: 'z1' }), template('other', 'tmpl', { zone: 'z1' })],
  };
}
