/**
 * What the compute controllers (VirtualMachine, Volume, SSHKeyPair, AffinityGroup) share on
 * top of the infrastructure context: informers over the compute kinds, and the two services
 * the VM controller calls into, the deployment planner and the NIC allocator, which live in
 * their own modules and are handed in at registration.
 */
import {
  AffinityGroup,
  SSHKeyPair,
  Template,
  type AffinityGroupObject,
  type SSHKeyPairObject,
  type TemplateObject,
  type VirtualMachineObject,
} from '../crds/index.ts';
import type { WatchSource } from '../lib/controller.ts';
import type { Informer } from '../lib/informer.ts';
import { resourceTypeOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { byField } from '../lib/store.ts';
import type { InfraContext } from './infra-context.ts';
import type { Planner } from './planner/planner.ts';
import { NOT_STARTED } from './vm-state.ts';

export type { Placement } from './vm-state.ts';
export type Nic = NonNullable<NonNullable<VirtualMachineObject['status']>['nics']>[number];

/**
 * NICs as the network controllers allocate them (the entries of status.nics, in spec.networks
 * order), or why the VM waits (a network not ready yet), or why it cannot have them (the spec
 * field to fix; `insufficientCapacity` is CloudStack's 533).
 */
export type NicOutcome =
  | { result: 'ready'; nics: Nic[] }
  | { result: 'waiting'; reason: string; message: string }
  | { result: 'refused'; reason: string; field: string; message: string; insufficientCapacity: boolean };

export interface NicAllocator {
  /** Allocates (or finds) an address and MAC per network of spec.networks; idempotent, crash-safe. */
  ensureNics(vm: VirtualMachineObject, signal: AbortSignal): Promise<NicOutcome>;
  /** Frees what ensureNics allocated for the VM; called once its domain is gone (expunge). */
  releaseNics(vm: VirtualMachineObject, signal: AbortSignal): Promise<unknown>;
  /** What else re-queues a VM for its NIC pass (its addresses appearing or going), if anything. */
  watches?: WatchSource[];
}

export const COMPUTE_INDEX = {
  /** `namespace/name` of each template a VM's root disk comes from. */
  template: 'compute.template',
  /** `namespace/name` of each affinity group a VM is in. */
  affinityGroup: 'compute.affinity-group',
  /** `namespace/name` of the key pair a VM uses. */
  keyPair: 'compute.key-pair',
  /** VMs waiting for a placement (Scheduled False, other than stopped ones): retried when capacity appears. */
  unscheduled: 'compute.unscheduled',
} as const;

export interface ComputeInformers {
  templates: Informer<TemplateObject>;
  sshKeyPairs: Informer<SSHKeyPairObject>;
  affinityGroups: Informer<AffinityGroupObject>;
}

export interface ComputeContext extends InfraContext {
  compute: ComputeInformers;
  planner: Planner;
  nics: NicAllocator;
}

/** The template a VM boots from, as `namespace/name` (a reference without namespace means the VM's). */
export function templateKeyOf(vm: VirtualMachineObject): string | undefined {
  const ref = vm.spec.templateRef ?? vm.spec.isoRef;
  return ref ? `${ref.namespace ?? vm.metadata.namespace ?? ''}/${ref.name}` : undefined;
}

export function createComputeContext(manager: Manager, infra: InfraContext, services: { planner: Planner; nics: NicAllocator }): ComputeContext {
  const compute: ComputeInformers = {
    templates: manager.informer<TemplateObject>(resourceTypeOf(Template)),
    sshKeyPairs: manager.informer<SSHKeyPairObject>(resourceTypeOf(SSHKeyPair)),
    affinityGroups: manager.informer<AffinityGroupObject>(resourceTypeOf(AffinityGroup)),
  };
  const vms = infra.informers.vms;
  vms.addIndex(COMPUTE_INDEX.template, byField(templateKeyOf));
  vms.addIndex(COMPUTE_INDEX.affinityGroup, (vm: VirtualMachineObject) => (vm.spec.affinityGroupRefs ?? []).map((g) => `${vm.metadata.namespace ?? ''}/${g.name}`));
  vms.addIndex(COMPUTE_INDEX.keyPair, byField((vm: VirtualMachineObject) => (vm.spec.sshKeyPairRef ? `${vm.metadata.namespace ?? ''}/${vm.spec.sshKeyPairRef.name}` : undefined)));
  vms.addIndex(
    COMPUTE_INDEX.unscheduled,
    byField((vm: VirtualMachineObject) => (vm.status?.conditions?.some((c) => c.type === 'Scheduled' && c.status === 'False' && c.reason !== NOT_STARTED) ? 'yes' : undefined)),
  );
  return { ...infra, compute, ...services };
}
