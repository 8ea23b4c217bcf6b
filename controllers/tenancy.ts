/**
 * The tenancy controllers (Domain, Account, User), registered together because they share one
 * set of informers and indexes (tenancy-context.ts): the operator calls
 * `registerTenancyControllers(manager)`. What they keep true: each Account owns its namespace
 * and the RoleBindings that let its group in; each Domain's group may read the catalogue; the
 * shared ClusterRoles exist.
 */
import type { Manager } from '../lib/manager.ts';
import { registerAccountController } from './account.ts';
import { registerDomainController } from './domain.ts';
import { createTenancyContext, type TenancyContext } from './tenancy-context.ts';
import { registerUserController } from './user.ts';

/** Registers the Domain, Account and User controllers on the manager; returns the shared context. */
export function registerTenancyControllers(manager: Manager): TenancyContext {
  const ctx = createTenancyContext(manager);
  registerDomainController(manager, ctx);
  registerAccountController(manager, ctx);
  registerUserController(manager, ctx);
  return ctx;
}
