import type { Tenancy } from '../tenancy/index.ts';
import { accountCommands } from './accounts.ts';
import { createInfra } from './context.ts';
import type { Command } from './define.ts';
import { domainCommands } from './domains.ts';
import { resourceLimitCommands } from './resource-limits.ts';
import type { JobResultMapper } from './job-support.ts';
import { tenancyLookupCommands } from './tenancy-lookups.ts';
import { tenancyKit } from './tenancy-support.ts';
import { userCommands } from './users.ts';

/**
 * Accounts, users and domains (PROTOCOL.md §11, accounts-domains-users). Every change is made
 * as the caller through impersonation, so RBAC decides it; lists come from the shared caches,
 * each object shown only if RBAC lets the caller get it.
 */

export interface TenancyCommands {
  readonly commands: Command[];
  /** The `jobresult` objects of the async tenancy commands, for queryAsyncJobResult. */
  readonly jobResults: ReadonlyMap<string, JobResultMapper>;
}

export function tenancyCommands(tenancy: Tenancy): TenancyCommands {
  const infra = createInfra({ clientFor: (caller) => tenancy.clientFor(caller), mayList: (caller, type, ns) => tenancy.mayList(caller, type, ns), informers: tenancy.informers });
  const kit = tenancyKit(tenancy, infra);
  const { dir } = kit;
  const jobResults = new Map<string, JobResultMapper>([
    [
      'disableAccount',
      (job) => {
        const account = dir.accounts.get(job.spec.targetRef.name);
        return account && kit.accountFields(account);
      },
    ],
    [
      'disableUser',
      (job) => {
        const user = dir.users.get(job.spec.targetRef.name);
        return user && kit.userFields(user);
      },
    ],
  ]);
  return { commands: [...domainCommands(kit, infra), ...accountCommands(kit, infra), ...userCommands(kit, infra), ...tenancyLookupCommands(kit), ...resourceLimitCommands(kit, infra)], jobResults };
}
