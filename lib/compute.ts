/**
 * What the operator, the admission webhooks and the CloudStack API agree on about compute
 * objects: the operator's finalizer on VMs, the names of the Volumes a VM gets, whether a
 * template can serve a zone, and the checks both doors make on a VM or a Volume. Each check is
 * a pure function over objects the caller has read, returning field errors that name the fix,
 * so kubectl (through the webhook) and the CloudStack API give the same answers.
 */
import { createHash } from 'node:crypto';
import { parseQuantity, type DiskOfferingObject, type FieldError, type ServiceOfferingObject, type TemplateObject, type VirtualMachineObject, type VolumeObject } from '../crds/index.ts';

/**
 * The operator's finalizer on a VirtualMachine: it releases the NICs' addresses after the
 * agent has undefined the domain. The operator adds it once the VM holds addresses, and with
 * the host's labels when it hands the VM to that host's agent.
 */
export const VM_FINALIZER = 'compute.kumulus.io/vm';

/**
 * The ROOT volume a VM's template is copied to: `<vm>-root`, and after a restore
 * (spec.restoreRequestedAt) a new name derived from the VM's uid and the request, so each
 * restore makes one new disk however often a crashed operator or agent starts over, and the
 * replaced root is told apart from the current one by name alone.
 */
export function rootVolumeName(vm: { metadata: { name?: string; uid?: string }; spec: { restoreRequestedAt?: string } }): string {
  const name = vm.metadata.name ?? '';
  const restore = vm.spec.restoreRequestedAt;
  if (restore === undefined) return `${name}-root`;
  return `${name}-root-${createHash('sha256').update(`${vm.metadata.uid ?? ''}/${restore}`).digest('hex').slice(0, 8)}`;
}

/**
 * A ROOT volume the VM made (owned by its uid) that a restore replaced: its disk is deleted once
 * the domain lets it go. A ROOT volume someone else made is never taken for one: two roots then
 * stay an error to fix.
 */
export function isReplacedRoot(
  volume: { metadata: { name?: string; ownerReferences?: readonly { uid: string }[] }; spec: { type?: string } },
  vm: Parameters<typeof rootVolumeName>[0],
): boolean {
  const owned = vm.metadata.uid !== undefined && (volume.metadata.ownerReferences ?? []).some((r) => r.uid === vm.metadata.uid);
  return owned && (volume.spec.type ?? 'DATADISK') === 'ROOT' && volume.metadata.name !== rootVolumeName(vm);
}

/** A restore asked for (spec.restoreRequestedAt) that the operator has not recorded done (status.lastRestoreAt). */
export function restorePending(vm: Pick<VirtualMachineObject, 'spec' | 'status'>): boolean {
  return vm.spec.restoreRequestedAt !== undefined && vm.status?.lastRestoreAt !== vm.spec.restoreRequestedAt;
}

/** The volume of one entry of a VM's spec.dataDisks. */
export function dataVolumeName(vmName: string, diskName: string): string {
  return `${vmName}-${diskName}`;
}

/** How a template stands in one zone: usable, still coming, failed, or not meant for it. */
export type TemplateReadiness = { state: 'ready' } | { state: 'pending' | 'failed' | 'absent'; message: string };

type TemplateLike = Pick<TemplateObject, 'spec' | 'status'> & { metadata: { name?: string; namespace?: string; deletionTimestamp?: string } };

/**
 * Whether `template` can give a VM of `zone` its root disk. Downloading (or not yet looked at by
 * the template controller) is `pending`: a VM declared together with its template waits for it.
 * A failed download, a template deleted while in use, or one not registered in the zone is not.
 */
export function templateReadiness(template: TemplateLike, zone: string): TemplateReadiness {
  const name = `${template.metadata.namespace ?? ''}/${template.metadata.name ?? ''}`;
  if (template.metadata.deletionTimestamp !== undefined || template.status?.state === 'Inactive') {
    return { state: 'failed', message: `template ${name} is being deleted and takes no new VMs; choose another template` };
  }
  if (!template.spec.crossZones && !(template.spec.zoneRefs ?? []).some((z) => z.name === zone)) {
    const zones = (template.spec.zoneRefs ?? []).map((z) => z.name).join(', ') || 'none';
    return { state: 'absent', message: `template ${name} is not registered in zone ${zone} (its zones: ${zones}); add the zone to its spec.zoneRefs` };
  }
  const inZone = template.status?.zones?.find((z) => z.zone === zone);
  switch (inZone?.downloadState) {
    case 'DOWNLOADED':
      return { state: 'ready' };
    case 'DOWNLOAD_ERROR':
    case 'ABANDONED':
      return {
        state: 'failed',
        message: `template ${name} failed to download to zone ${zone}${inZone.message ? `: ${inZone.message}` : ''}; fix its spec.url or spec.checksum (register it again), or choose another template`,
      };
    case 'DOWNLOAD_IN_PROGRESS':
      return { state: 'pending', message: `template ${name} is downloading to zone ${zone} (${inZone.downloadPercent}%)` };
    default:
      return { state: 'pending', message: `template ${name} is not downloaded to zone ${zone} yet` };
  }
}

type VmLike = Pick<VirtualMachineObject, 'spec' | 'status'> & { metadata: { name?: string; uid?: string; namespace?: string; deletionTimestamp?: string } };
type VolumeLike = Pick<VolumeObject, 'spec'> & { metadata: { name?: string; namespace?: string } };

/** A VM that exists and is not being expunged holds the volumes that name it. */
function holds(vm: VmLike | undefined): vm is VmLike {
  return vm !== undefined && vm.metadata.deletionTimestamp === undefined;
}

/**
 * A ROOT volume stays with its VM: detaching it (clearing or changing spec.vmRef) is refused,
 * as CloudStack refuses detachVolume on a root disk.
 */
export function rootDetachErrors(volume: VolumeLike, old: VolumeLike | undefined, vm: VmLike | undefined): FieldError[] {
  if (!old || (old.spec.type ?? 'DATADISK') !== 'ROOT' || !old.spec.vmRef || !holds(vm)) return [];
  if (volume.spec.vmRef?.name === old.spec.vmRef.name) return [];
  return [
    {
      field: 'spec.vmRef',
      message: `volume ${old.metadata.name} is the ROOT disk of VM ${old.spec.vmRef.name} and cannot be detached; delete the VM (which expunges its root disk) or keep spec.vmRef`,
    },
  ];
}

/** A volume attached to a live VM cannot be deleted (CloudStack's deleteVolume refuses it too). */
export function attachedDeleteErrors(volume: VolumeLike, vm: VmLike | undefined): FieldError[] {
  // A root a restore replaced goes: the operator deletes it, and its disk waits for the domain to let it go.
  if (!volume.spec.vmRef || !holds(vm) || isReplacedRoot(volume, vm)) return [];
  const root = (volume.spec.type ?? 'DATADISK') === 'ROOT';
  return [
    {
      field: 'spec.vmRef',
      message: root
        ? `volume ${volume.metadata.name} is the ROOT disk of VM ${volume.spec.vmRef.name}; delete the VM instead, which expunges it`
        : `volume ${volume.metadata.name} is attached to VM ${volume.spec.vmRef.name}; detach it first (remove spec.vmRef), then delete it`,
    },
  ];
}

/** The service offering (or custom sizes) of a VM change only while it is stopped: CloudStack's changeServiceForVirtualMachine. */
export function scaleErrors(vm: VmLike, old: VmLike | undefined): FieldError[] {
  if (!old) return [];
  const sizing = (v: VmLike) => JSON.stringify([v.spec.serviceOfferingRef.name, v.spec.cpuNumber, v.spec.cpuSpeed, v.spec.memory]);
  if (sizing(vm) === sizing(old)) return [];
  const state = old.status?.state;
  const stopping = (vm.spec.state ?? 'Running') !== 'Running';
  if (state === undefined || state === 'Stopped' || state === 'Destroyed' || stopping) return [];
  return [
    {
      field: 'spec.serviceOfferingRef.name',
      message: `VM ${old.metadata.name} is ${state}: its offering changes only while it is stopped; set spec.state Stopped (in the same change or first), then change the offering`,
    },
  ];
}

/** A quantity as a number, or undefined when it does not parse (the schema reports that). */
function quantityOf(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseQuantity(value);
  } catch {
    return undefined;
  }
}

type ServiceOfferingLike = Pick<ServiceOfferingObject, 'spec'> & { metadata: { name?: string } };
type DiskOfferingLike = Pick<DiskOfferingObject, 'spec'> & { metadata: { name?: string } };

/**
 * A VM's cores and memory against its service offering: a fixed offering takes none, a
 * customized one needs both within its ranges (CloudStack's deployVirtualMachine details).
 */
export function computeSizeErrors(spec: Pick<VirtualMachineObject['spec'], 'cpuNumber' | 'cpuSpeed' | 'memory'>, offering: ServiceOfferingLike): FieldError[] {
  const name = offering.metadata.name ?? '';
  const custom = offering.spec.customized;
  const errors: FieldError[] = [];
  if (!custom) {
    for (const field of ['cpuNumber', 'cpuSpeed', 'memory'] as const) {
      if (spec[field] !== undefined) errors.push({ field: `spec.${field}`, message: `service offering ${name} is a fixed size; remove spec.${field}, or use a customized offering` });
    }
    return errors;
  }
  const minCpu = custom.minCpuNumber ?? 1;
  if (spec.cpuNumber === undefined) errors.push({ field: 'spec.cpuNumber', message: `is required: service offering ${name} is customized; give ${minCpu} to ${custom.maxCpuNumber} cores` });
  else if (spec.cpuNumber < minCpu || spec.cpuNumber > custom.maxCpuNumber) {
    errors.push({ field: 'spec.cpuNumber', message: `${spec.cpuNumber} is outside service offering ${name}'s range ${minCpu}-${custom.maxCpuNumber}; give a core count within it` });
  }
  const [minMemory, maxMemory] = [custom.minMemory ?? '512Mi', custom.maxMemory];
  const memory = quantityOf(spec.memory);
  if (spec.memory === undefined) errors.push({ field: 'spec.memory', message: `is required: service offering ${name} is customized; give ${minMemory} to ${maxMemory}` });
  else if (memory !== undefined && (memory < quantityOf(minMemory)! || memory > quantityOf(maxMemory)!)) {
    errors.push({ field: 'spec.memory', message: `${spec.memory} is outside service offering ${name}'s range ${minMemory}-${maxMemory}; give an amount within it` });
  }
  return errors;
}

/** A disk's size against its disk offering: none for a fixed one, one within bounds for a customized one (`required`: at creation). */
export function diskSizeErrors(path: string, size: string | number | undefined, offering: DiskOfferingLike | undefined, required: boolean): FieldError[] {
  if (!offering) return [];
  const name = offering.metadata.name ?? '';
  const custom = offering.spec.customized;
  if (!custom) {
    return size === undefined ? [] : [{ field: path, message: `disk offering ${name} has the fixed size ${offering.spec.diskSize}; remove the size, or use a customized disk offering` }];
  }
  const [min, max] = [custom.minSize ?? '1Gi', custom.maxSize ?? '1Ti'];
  if (size === undefined) return required ? [{ field: path, message: `is required: disk offering ${name} is customized; give a size from ${min} to ${max}` }] : [];
  const value = quantityOf(size);
  if (value === undefined || (value >= quantityOf(min)! && value <= quantityOf(max)!)) return [];
  return [{ field: path, message: `${size} is outside disk offering ${name}'s range ${min}-${max}; give a size within it` }];
}

/**
 * A volume grows, never shrinks: its new spec.size must be at least what it had, the larger of
 * its old spec.size, its disk offering's fixed size and the disk's measured size. (CEL compares
 * two spec.size values; only admission knows the offering and the disk.)
 */
export function shrinkErrors(volume: Pick<VolumeObject, 'spec'>, old: Pick<VolumeObject, 'spec' | 'status'> | undefined, offering: DiskOfferingLike | undefined): FieldError[] {
  if (!old || volume.spec.size === undefined || volume.spec.size === old.spec.size) return [];
  const wanted = quantityOf(volume.spec.size);
  const had = Math.max(quantityOf(old.spec.size) ?? 0, offering?.spec.customized ? 0 : (quantityOf(offering?.spec.diskSize) ?? 0), old.status?.sizeBytes ?? 0);
  if (wanted === undefined || wanted >= had) return [];
  return [{ field: 'spec.size', message: `${volume.spec.size} would shrink the volume (it has ${had} bytes); volumes only grow: give at least that much` }];
}
