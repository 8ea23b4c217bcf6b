/**
 * What the operator, the admission webhooks and the CloudStack API agree on about compute
 * objects: the operator's finalizer on VMs, the names of the Volumes a VM gets, whether a
 * template can serve a zone, and the checks both doors make on a VM or a Volume. Each check is
 * a pure function over objects the caller has read, returning field errors that name the fix,
 * so kubectl (through the webhook) and the CloudStack API give the same answers.
 */
import type { FieldError, TemplateObject, VirtualMachineObject, VolumeObject } from '../crds/index.ts';

/**
 * The operator's finalizer on a VirtualMachine: it releases the NICs' addresses after the
 * agent has undefined the domain. Admission adds it when the VM is created (as Kubernetes'
 * own admission adds pvc-protection), which saves the operator a write per VM; the operator
 * adds it itself if it is missing.
 */
export const VM_FINALIZER = 'compute.kumulus.io/vm';

/** The ROOT volume a VM's template is copied to. */
export function rootVolumeName(vmName: string): string {
  return `${vmName}-root`;
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

type VmLike = Pick<VirtualMachineObject, 'spec' | 'status'> & { metadata: { name?: string; namespace?: string; deletionTimestamp?: string } };
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
  if (!volume.spec.vmRef || !holds(vm)) return [];
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
