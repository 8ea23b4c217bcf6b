/**
 * InstanceGroup: Ready, with the number of its members (the VMs of its namespace whose
 * spec.group is its name). Membership is the VMs' own field, so deleting a group leaves its
 * VMs running; the CloudStack API clears their spec.group when it deletes one.
 */
import { InstanceGroup, type InstanceGroupObject, type VirtualMachineObject } from '../crds/index.ts';
import type { Informer } from '../lib/informer.ts';
import { resourceTypeOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { byField } from '../lib/store.ts';
import type { ComputeContext } from './compute-context.ts';
import { registerKindReconciler } from './reconciler.ts';

const GROUP_INDEX = 'compute.instance-group';

/** The group a VM is in, as `namespace/name of the group` (its spec.group is the group's displayName). */
const groupKey = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

export function registerInstanceGroupController(manager: Manager, ctx: ComputeContext): void {
  const vms = ctx.informers.vms;
  vms.addIndex(GROUP_INDEX, byField((vm: VirtualMachineObject) => (vm.spec.group ? groupKey(vm.metadata.namespace, vm.spec.group) : undefined)));
  const groups: Informer<InstanceGroupObject> = manager.informer<InstanceGroupObject>(resourceTypeOf(InstanceGroup));
  const shownName = (group: InstanceGroupObject) => group.spec.displayName ?? group.metadata.name ?? '';
  registerKindReconciler<InstanceGroupObject>(manager, ctx, {
    name: 'instancegroup',
    kind: InstanceGroup,
    informer: groups,
    ownership: { fields: ['vmCount'], conditions: ['Ready'] },
    observe: (group) => ({
      state: 'Ready',
      fields: { vmCount: vms.byIndex(GROUP_INDEX, groupKey(group.metadata.namespace, shownName(group))).filter((vm) => vm.metadata.deletionTimestamp === undefined).length },
      conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: '' }],
    }),
    watches: [
      {
        informer: vms,
        map: (vm) => {
          const group = (vm as VirtualMachineObject).spec.group;
          return group ? groups.list(vm.metadata.namespace).filter((g) => shownName(g) === group).map((g) => ({ namespace: g.metadata.namespace, name: g.metadata.name ?? '' })) : [];
        },
      },
    ],
  });
}
