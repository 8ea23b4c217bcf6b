/**
 * The Volumes a VM declares: its ROOT disk (from the template, or blank from the root disk
 * offering for an ISO) and one DATADISK per spec.dataDisks entry, each owned by the VM so it
 * goes with it. Names derive from the VM's (the root's from its uid and restore request too),
 * so a crashed operator finds what it made.
 */
import { Volume, type ServiceOfferingObject, type VirtualMachineObject, type VolumeObject } from '../crds/index.ts';
import { AGENT_FINALIZER } from '../lib/agent-contract.ts';
import { dataVolumeName, isReplacedRoot, rootVolumeName } from '../lib/compute.ts';
import { LABEL_CLUSTER, LABEL_HOST, LABEL_POD, LABEL_ZONE } from '../lib/hierarchy-labels.ts';
import { ownerReference } from '../lib/ownership.ts';
import type { Placement } from './vm-state.ts';

export function placementLabels(placement: Placement): Record<string, string> {
  return { [LABEL_ZONE]: placement.zone, [LABEL_POD]: placement.pod, [LABEL_CLUSTER]: placement.cluster, [LABEL_HOST]: placement.host };
}

/**
 * The VM's volumes as they should be created; labelled with the placement once there is one.
 * The ROOT volume states its size when the VM or its offering does (rootDiskSize), so the
 * planner and the pool's accounting count the same bytes; otherwise the template's decides.
 */
export function desiredVolumes(vm: VirtualMachineObject, placement: Placement | undefined, offering?: ServiceOfferingObject): VolumeObject[] {
  const vmName = vm.metadata.name ?? '';
  const namespace = vm.metadata.namespace;
  const owner = [ownerReference(vm, { controller: true, blockOwnerDeletion: true })];
  const labels = placement ? placementLabels(placement) : undefined;
  // Labelled, a Volume is its host's agent's to make and delete: it carries the agent's finalizer from the start, which saves the agent a write.
  const meta = (name: string) => ({ name, namespace, ownerReferences: owner, ...(labels ? { labels, finalizers: [AGENT_FINALIZER] } : {}) });
  const base = { apiVersion: Volume.apiVersion, kind: Volume.kind };
  const image = vm.spec.templateRef ?? vm.spec.isoRef;
  const root: VolumeObject = {
    ...base,
    metadata: meta(rootVolumeName(vm)),
    spec: {
      displayName: `ROOT-${vm.spec.displayName ?? vmName}`,
      type: 'ROOT',
      zoneRef: { name: vm.spec.zoneRef.name },
      ...(image ? { templateRef: { name: image.name, namespace: image.namespace ?? namespace } } : {}),
      ...(vm.spec.rootDiskOfferingRef ? { diskOfferingRef: { name: vm.spec.rootDiskOfferingRef.name } } : {}),
      ...((vm.spec.rootDiskSize ?? offering?.spec.rootDiskSize) !== undefined ? { size: vm.spec.rootDiskSize ?? offering?.spec.rootDiskSize } : {}),
      vmRef: { name: vmName },
      deviceId: 0,
    },
  };
  const data = (vm.spec.dataDisks ?? []).map(
    (disk, i): VolumeObject =>
      ({
        ...base,
        metadata: meta(dataVolumeName(vmName, disk.name)),
        spec: {
          displayName: `DATA-${vm.spec.displayName ?? vmName}-${disk.name}`,
          type: 'DATADISK',
          zoneRef: { name: vm.spec.zoneRef.name },
          diskOfferingRef: { name: disk.diskOfferingRef.name },
          ...(disk.size !== undefined ? { size: disk.size } : {}),
          vmRef: { name: vmName },
          deviceId: i + 1,
        },
      }),
  );
  return [root, ...data];
}

/** Whether `volume` is one the VM made (owned by this VM's uid), as opposed to a leftover of an earlier VM of the same name. */
export function ownedBy(volume: VolumeObject, vm: VirtualMachineObject): boolean {
  return (volume.metadata.ownerReferences ?? []).some((r) => r.uid === vm.metadata.uid);
}

/** The labels `volume` lacks (or has wrong) for `placement`; empty when they are right. */
export function missingLabels(obj: { metadata: { labels?: Record<string, string> } }, placement: Placement): Record<string, string> {
  const wanted = placementLabels(placement);
  return Object.fromEntries(Object.entries(wanted).filter(([k, v]) => obj.metadata.labels?.[k] !== v));
}

/** The VM's own ROOT volumes that a restore replaced (lib/compute.ts rootVolumeName): the operator deletes them. */
export function replacedRoots(vm: VirtualMachineObject, volumes: readonly VolumeObject[]): VolumeObject[] {
  return volumes.filter((v) => ownedBy(v, vm) && isReplacedRoot(v, vm));
}
