/**
 * What a VM and its volumes ask of the planner, read from their objects and the index's
 * offerings, template, affinity groups and settings: demand, hypervisor, host tags, strategy,
 * affinity, and per volume its size, storage type and storage tags.
 *
 * A ROOT volume takes its storage tags from the service offering and its root disk offering
 * (the volume's, else the VM's spec.rootDiskOfferingRef, else the offering's diskOfferingRef),
 * and its size from the volume (status, then spec.size), else the VM's rootDiskSize, the
 * offering's rootDiskSize, the template's size in the zone, the disk offering's. A DATADISK
 * takes both from its disk offering unless it states its size. The pool then counts the
 * volume by lib/usage.ts volumeBytes: give ROOT volumes a spec.size so both agree.
 */
import { parseBytes, type DiskOfferingObject, type ServiceOfferingObject, type VirtualMachineObject, type VolumeObject } from '../../crds/index.ts';
import { vmDemand, volumeBytes } from '../../lib/usage.ts';
import type { CapacityIndex } from './capacity-index.ts';
import type { DeploymentPlanner, HostAllocator } from './order.ts';
import type { AffinityType, PlanRequest, Unschedulable, VolumeRequest } from './plan.ts';

/** A Volume, or one the VM controller is about to create. */
export interface VolumeLike {
  metadata: { name?: string; namespace?: string };
  spec: VolumeObject['spec'];
  status?: VolumeObject['status'];
}

export interface PlanOptions {
  /** Hosts not to use: those whose agent refused the VM (Running False, InsufficientCapacity). */
  avoidHosts?: Iterable<string>;
  /** A host to try first, such as the one a stopped VM last ran on. */
  preferHost?: string;
}

function templateBytes(index: CapacityIndex, vm: VirtualMachineObject): number | undefined {
  const ref = vm.spec.templateRef ?? vm.spec.isoRef;
  if (!ref) return undefined;
  const template = index.template(ref.namespace ?? vm.metadata.namespace ?? '', ref.name);
  return template?.status?.zones?.find((z) => z.zone === vm.spec.zoneRef.name)?.sizeBytes;
}

function union(...lists: (readonly string[] | undefined)[]): string[] {
  return [...new Set(lists.flatMap((l) => l ?? []))];
}

/** What a volume asks for. `vm` and its `offering` matter to a ROOT volume only. */
export function volumeRequest(index: CapacityIndex, volume: VolumeLike, vm?: VirtualMachineObject, offering?: ServiceOfferingObject): VolumeRequest {
  const key = `${volume.metadata.namespace ?? ''}/${volume.metadata.name ?? ''}`;
  const type = volume.spec.type ?? 'DATADISK';
  const pool = volume.status?.pool;
  if (type === 'DATADISK') {
    const disk: DiskOfferingObject | undefined = volume.spec.diskOfferingRef ? index.diskOffering(volume.spec.diskOfferingRef.name) : undefined;
    return { key, type, bytes: volumeBytes(volume, disk?.spec), storageTags: disk?.spec.storageTags ?? [], storageType: disk?.spec.storageType ?? 'shared', ...(pool ? { pool } : {}) };
  }
  const diskRef = volume.spec.diskOfferingRef ?? vm?.spec.rootDiskOfferingRef ?? offering?.spec.diskOfferingRef;
  const disk = diskRef ? index.diskOffering(diskRef.name) : undefined;
  const stated = volume.status?.sizeBytes ?? (volume.spec.size === undefined ? undefined : parseBytes(volume.spec.size));
  const size = vm?.spec.rootDiskSize ?? offering?.spec.rootDiskSize;
  const bytes = stated ?? (size !== undefined ? parseBytes(size) : (vm && templateBytes(index, vm)) ?? volumeBytes(volume, disk?.spec));
  return {
    key,
    type,
    bytes,
    storageTags: union(offering?.spec.storageTags, disk?.spec.storageTags),
    storageType: offering?.spec.storageType ?? disk?.spec.storageType ?? 'shared',
    ...(pool ? { pool } : {}),
  };
}

/** The request for placing `vm` with `volumes`, or why it cannot be planned yet. */
export function planRequest(index: CapacityIndex, vm: VirtualMachineObject, volumes: readonly VolumeLike[], options: PlanOptions = {}): PlanRequest | Unschedulable {
  const namespace = vm.metadata.namespace ?? '';
  const key = `${namespace}/${vm.metadata.name ?? ''}`;
  const offering = index.serviceOffering(vm.spec.serviceOfferingRef.name);
  if (!offering) return { scheduled: false, reason: 'OfferingNotFound', message: `ServiceOffering ${vm.spec.serviceOfferingRef.name} does not exist: fix spec.serviceOfferingRef.name` };
  const ref = vm.spec.templateRef ?? vm.spec.isoRef;
  const templateNamespace = ref?.namespace ?? namespace;
  const template = ref ? index.template(templateNamespace, ref.name) : undefined;
  if (!ref || !template) {
    return { scheduled: false, reason: 'TemplateNotFound', message: `Template ${templateNamespace}/${ref?.name ?? ''} does not exist: fix spec.templateRef (or spec.isoRef)` };
  }
  const groups: { key: string; type: AffinityType }[] = [];
  for (const g of vm.spec.affinityGroupRefs ?? []) {
    const group = index.affinityGroup(namespace, g.name);
    if (!group) return { scheduled: false, reason: 'AffinityGroupNotFound', message: `AffinityGroup ${namespace}/${g.name} does not exist: create it or remove it from spec.affinityGroupRefs` };
    groups.push({ key: `${namespace}/${g.name}`, type: group.spec.type });
  }
  const settings = index.settings();
  const roots = volumes.filter((v) => (v.spec.type ?? 'DATADISK') === 'ROOT');
  const data = volumes.filter((v) => (v.spec.type ?? 'DATADISK') !== 'ROOT');
  return {
    uid: vm.metadata.uid ?? key,
    key,
    namespace,
    zone: vm.spec.zoneRef.name,
    demand: vmDemand(vm, offering.spec),
    cpuSpeed: vm.spec.cpuSpeed ?? offering.spec.cpuSpeed ?? 0,
    hypervisor: template.spec.hypervisor ?? 'KVM',
    hostTags: offering.spec.hostTags ?? [],
    planner: offering.spec.deploymentPlanner ?? (settings.value('vm.deployment.planner') as DeploymentPlanner),
    allocator: settings.value('vm.allocation.algorithm') as HostAllocator,
    ...(vm.spec.hostRef ? { explicitHost: vm.spec.hostRef.name } : {}),
    ...(options.preferHost !== undefined ? { preferHost: options.preferHost } : {}),
    groups,
    volumes: [...roots, ...data].map((v) => volumeRequest(index, v, vm, offering)),
    avoidHosts: new Set(options.avoidHosts ?? []),
  };
}
