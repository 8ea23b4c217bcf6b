/** DiskOffering: Active, or Inactive while deleted and still used by volumes, VMs or service offerings. */
import { DiskOffering } from '../crds/index.ts';
import type { Manager } from '../lib/manager.ts';
import { INDEX, type InfraContext } from './infra-context.ts';
import { registerOfferingController } from './offering.ts';
import { watchNames } from './reconciler.ts';

export function registerDiskOfferingController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  registerOfferingController(manager, ctx, {
    name: 'diskoffering',
    kind: DiskOffering,
    informer: i.diskOfferings,
    eventPrefix: 'DISK.OFFERING',
    users: (o) => {
      const name = o.metadata.name ?? '';
      return [
        ...i.volumes.byIndex(INDEX.diskOffering, name).map((v) => `Volume ${v.metadata.namespace}/${v.metadata.name}`),
        ...i.vms.byIndex(INDEX.diskOffering, name).map((vm) => `VirtualMachine ${vm.metadata.namespace}/${vm.metadata.name}`),
        ...i.serviceOfferings.byIndex(INDEX.diskOffering, name).map((so) => `ServiceOffering ${so.metadata.name}`),
      ];
    },
    watches: [
      watchNames(i.volumes, (v) => [v.spec.diskOfferingRef?.name]),
      watchNames(i.vms, (vm) => [vm.spec.rootDiskOfferingRef?.name, ...(vm.spec.dataDisks ?? []).map((d) => d.diskOfferingRef.name)]),
      watchNames(i.serviceOfferings, (so) => [so.spec.diskOfferingRef?.name]),
    ],
  });
}
