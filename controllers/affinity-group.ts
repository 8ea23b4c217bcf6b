/**
 * AffinityGroup: Ready, with its member VMs (those naming it in spec.affinityGroupRefs) in
 * status. The planner reads the members' placements; a group with members is not deleted
 * until they have left it.
 */
import { AffinityGroup, type AffinityGroupObject, type VirtualMachineObject } from '../crds/index.ts';
import { keyOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { COMPUTE_INDEX, type ComputeContext } from './compute-context.ts';
import { registerKindReconciler } from './reconciler.ts';

const MEMBERS_FINALIZER = 'compute.kumulus.io/members';

export function registerAffinityGroupController(manager: Manager, ctx: ComputeContext): void {
  const vms = ctx.informers.vms;
  const members = (group: AffinityGroupObject): string[] =>
    vms
      .byIndex(COMPUTE_INDEX.affinityGroup, keyOf(group))
      .filter((vm) => vm.metadata.deletionTimestamp === undefined)
      .map((vm) => vm.metadata.name ?? '')
      .sort();
  registerKindReconciler<AffinityGroupObject>(manager, ctx, {
    name: 'affinitygroup',
    kind: AffinityGroup,
    informer: ctx.compute.affinityGroups,
    ownership: { fields: ['vmCount', 'virtualMachines'], conditions: ['Ready'] },
    finalizer: MEMBERS_FINALIZER,
    remaining: (group) => members(group).map((name) => `VirtualMachine ${group.metadata.namespace ?? ''}/${name}`),
    observe: (group) => {
      const names = members(group);
      return {
        state: 'Ready',
        fields: { vmCount: names.length, virtualMachines: names },
        conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: '' }],
      };
    },
    stateEvents: (from) => (from === undefined ? [{ reason: 'AG.CREATE', note: 'affinity group created' }] : []),
    deletedEvent: () => ({ reason: 'AG.DELETE', note: 'affinity group deleted' }),
    watches: [
      {
        informer: vms,
        map: (vm) => ((vm as VirtualMachineObject).spec.affinityGroupRefs ?? []).map((g) => ({ namespace: vm.metadata.namespace, name: g.name })),
      },
    ],
  });
}
