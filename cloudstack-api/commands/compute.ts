import { affinityGroupCommands, affinityGroupJobResults } from './affinity-groups.ts';
import { createInfra, type InfrastructureDeps } from './context.ts';
import type { Command } from './define.ts';
import type { JobResultMapper } from './job-support.ts';
import { guestVlanCommands } from './guest-vlans.ts';
import { keyPairCommands } from './keypairs.ts';
import { networkCommands, networkJobResults } from './networks.ts';
import { networkServiceCommands } from './network-services.ts';
import { osTypeCommands } from './os-types.ts';
import { resourceDetailCommands } from './resource-details.ts';
import { tagCommands } from './tags.ts';
import { templateCommands } from './templates.ts';
import { instanceGroupCommands } from './instance-groups.ts';
import { userDataCommands } from './user-data.ts';
import { vmGuestCommands, vmGuestJobResults } from './vm-guest.ts';
import { vmIsoCommands, vmIsoJobResults } from './vm-iso.ts';
import { vmNicCommands, vmNicJobResults } from './vm-nics.ts';
import { vmRestoreCommands, vmRestoreJobResults } from './vm-restore.ts';
import { vmCommands, vmJobResults } from './vms.ts';
import { volumeCommands, volumeJobResults } from './volumes.ts';

/**
 * The compute half of the command table (issue 13): virtual machines and what they use, each a
 * read or write of the compute.kumulus.io and network.kumulus.io objects, as the caller. Job
 * results go to queryAsyncJobResult through `jobResults` (pass them to infrastructureCommands).
 */
export interface ComputeCommands {
  readonly commands: Command[];
  readonly jobResults: ReadonlyMap<string, JobResultMapper>;
}

export function computeCommands(deps: InfrastructureDeps): ComputeCommands {
  const infra = createInfra(deps);
  return {
    commands: [...vmCommands(infra), ...vmGuestCommands(infra), ...vmIsoCommands(infra), ...vmNicCommands(infra), ...vmRestoreCommands(infra), ...instanceGroupCommands(infra), ...userDataCommands(infra), ...volumeCommands(infra), ...templateCommands(infra), ...osTypeCommands(), ...networkCommands(infra), ...guestVlanCommands(infra), ...networkServiceCommands(), ...affinityGroupCommands(infra), ...keyPairCommands(infra), ...tagCommands(infra), ...resourceDetailCommands(infra)],
    jobResults: new Map([...vmJobResults(infra), ...vmGuestJobResults(infra), ...vmIsoJobResults(infra), ...vmNicJobResults(infra), ...vmRestoreJobResults(infra), ...volumeJobResults(infra), ...networkJobResults(infra), ...affinityGroupJobResults(infra)]),
  };
}
