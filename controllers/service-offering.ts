/** ServiceOffering: Active, or Inactive while deleted and still used by VMs. */
import { ServiceOffering } from '../crds/index.ts';
import type { Manager } from '../lib/manager.ts';
import { INDEX, type InfraContext } from './infra-context.ts';
import { registerOfferingController } from './offering.ts';
import { watchNames } from './reconciler.ts';

export function registerServiceOfferingController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  registerOfferingController(manager, ctx, {
    name: 'serviceoffering',
    kind: ServiceOffering,
    informer: i.serviceOfferings,
    eventPrefix: 'SERVICE.OFFERING',
    users: (o) => i.vms.byIndex(INDEX.serviceOffering, o.metadata.name ?? '').map((vm) => `VirtualMachine ${vm.metadata.namespace}/${vm.metadata.name}`),
    watches: [watchNames(i.vms, (vm) => [vm.spec.serviceOfferingRef.name])],
  });
}
