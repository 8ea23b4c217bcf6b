/**
 * The compute controllers (issue #11): VirtualMachine, Volume, Template, SSHKeyPair,
 * AffinityGroup, InstanceGroup and UserData,
 * registered together on the infrastructure context they read, with the deployment planner
 * (controllers/planner/) and the NIC allocator the VM controller calls into.
 */
import type { Manager } from '../lib/manager.ts';
import { registerAffinityGroupController } from './affinity-group.ts';
import { registerInstanceGroupController } from './instance-group.ts';
import { registerUserDataController } from './user-data.ts';
import { createComputeContext, type ComputeContext, type NicAllocator } from './compute-context.ts';
import type { InfraContext } from './infra-context.ts';
import { createPlanner } from './planner/planner.ts';
import { registerSSHKeyPairController } from './ssh-key-pair.ts';
import { registerTemplateController } from './template.ts';
import { registerVirtualMachineController } from './virtual-machine.ts';
import { registerVolumeController } from './volume.ts';

/** `nics` builds the NIC allocator over the infrastructure context's informers. */
export function registerComputeControllers(manager: Manager, infra: InfraContext, nics: (infra: InfraContext) => NicAllocator): ComputeContext {
  const ctx = createComputeContext(manager, infra, { planner: createPlanner(manager, infra), nics: nics(infra) });
  registerVirtualMachineController(manager, ctx);
  registerVolumeController(manager, ctx);
  registerTemplateController(manager, ctx);
  registerSSHKeyPairController(manager, ctx);
  registerAffinityGroupController(manager, ctx);
  registerInstanceGroupController(manager, ctx);
  registerUserDataController(manager, ctx);
  return ctx;
}
