/**
 * Account: owns its namespace (labelled with account and domain) and lets its group in. A User
 * account's group gets the tenant role in its namespace; an Admin account's group gets the
 * admin role everywhere; a DomainAdmin account's group gets the tenant role in the namespace
 * of every account of its domain and the domains below, kept in sync as accounts come and go.
 * Each account also gets a ClusterRole naming the cluster-scoped tenancy objects it may read
 * or change (its account, domain and users; a domain admin, its whole subtree).
 */
import { Account, type AccountObject } from '../crds/index.ts';
import { accountGroup, LABEL_ACCOUNT, LABEL_DOMAIN } from '../lib/identity.ts';
import { isNotFound } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { isBeingDeleted, ownerReference } from '../lib/ownership.ts';
import { OPERATOR_FIELD_MANAGER } from './infra-context.ts';
import {
  ADMIN_ROLE,
  binding,
  CLUSTER_ROLE_BINDINGS,
  CLUSTER_ROLES,
  groupSubject,
  MANAGED_LABELS,
  ROLE_BINDINGS,
  selfRules,
  TENANT_ROLE,
  type ClusterRoleObject,
  type SelfScope,
} from './rbac.ts';
import { registerKindReconciler, watchNames } from './reconciler.ts';
import { ancestors, LABEL_GRANTED_TO, NAMESPACES, stateEvents, subtree, TENANCY_INDEX, type TenancyContext } from './tenancy-context.ts';

/** The per-account ClusterRole and its binding share this name. */
export function accountRoleName(account: string): string {
  return `kumulus-account-${account}`;
}

/** The binding of an account's group in its own namespace. */
export const TENANT_BINDING = 'kumulus-tenant';
/** The binding of an Admin account's group to the admin role. */
export function adminBindingName(account: string): string {
  return `kumulus-admin-${account}`;
}
/** The binding a domain admin gets in each namespace of its subtree. */
export function domainAdminBindingName(account: string): string {
  return `kumulus-domain-admin-${account}`;
}

function accountTypeOf(account: AccountObject): 'User' | 'DomainAdmin' | 'Admin' {
  return account.spec.accountType ?? 'User';
}

function selfScope(ctx: TenancyContext, account: AccountObject): SelfScope {
  const name = account.metadata.name ?? '';
  const usersOf = (accountName: string) => ctx.users.byIndex(TENANCY_INDEX.account, accountName).map((u) => u.metadata.name ?? '');
  if (accountTypeOf(account) !== 'DomainAdmin') {
    return { accounts: [name], users: usersOf(name), domains: [account.spec.domainRef.name], administers: false };
  }
  const domains = subtree(ctx, account.spec.domainRef.name);
  const accounts = domains.flatMap((d) => ctx.accounts.byIndex(TENANCY_INDEX.domain, d).map((a) => a.metadata.name ?? ''));
  return { accounts, users: accounts.flatMap(usersOf), domains, administers: true };
}

/** The DomainAdmin accounts whose subtree holds this domain (the domain itself and its ancestors). */
function domainAdminsOver(ctx: TenancyContext, domain: string): (string | undefined)[] {
  const domains = [domain, ...ancestors(ctx, domain).map((d) => d.metadata.name ?? '')];
  return domains.flatMap((d) => ctx.accounts.byIndex(TENANCY_INDEX.domain, d).filter((a) => accountTypeOf(a) === 'DomainAdmin').map((a) => a.metadata.name));
}

/** Why the account cannot have its namespace and bindings yet, if it cannot. */
function accountProblem(ctx: TenancyContext, account: AccountObject): { reason: string; message: string } | undefined {
  const domainName = account.spec.domainRef.name;
  if (!ctx.domains.get(domainName)) return { reason: 'DomainNotFound', message: `Domain ${domainName} does not exist: create it or fix spec.domainRef` };
  const namespace = account.spec.namespace;
  const holder = ctx.namespaces.get(namespace)?.metadata.labels?.[LABEL_ACCOUNT];
  if (holder !== undefined && holder !== account.metadata.name) {
    return { reason: 'NamespaceTaken', message: `namespace ${namespace} belongs to Account ${holder}: give this account another spec.namespace` };
  }
  return undefined;
}

export function registerAccountController(manager: Manager, ctx: TenancyContext): void {
  const namespaces = ctx.client.resource(NAMESPACES);
  const roleBindings = ctx.client.resource(ROLE_BINDINGS);
  const clusterBindings = ctx.client.resource(CLUSTER_ROLE_BINDINGS);
  const clusterRoles = ctx.client.resource<ClusterRoleObject>(CLUSTER_ROLES);
  const apply = { fieldManager: OPERATOR_FIELD_MANAGER, force: true };

  const domainOfAccount = (name: string) => ctx.accounts.get(name)?.spec.domainRef.name;

  // Owner references take the namespace, roles and bindings with a deleted account: no finalizer.
  registerKindReconciler<AccountObject>(manager, ctx, {
    name: 'account',
    kind: Account,
    informer: ctx.accounts,
    ownership: { fields: ['userCount'], conditions: ['Ready'] },
    watches: [
      watchNames(ctx.users, (u) => [u.spec.accountRef.name, ...domainAdminsOver(ctx, domainOfAccount(u.spec.accountRef.name) ?? '')]),
      watchNames(ctx.accounts, (a) => domainAdminsOver(ctx, a.spec.domainRef.name)),
      watchNames(ctx.domains, (d) => [...ctx.accounts.byIndex(TENANCY_INDEX.domain, d.metadata.name ?? '').map((a) => a.metadata.name), ...domainAdminsOver(ctx, d.metadata.name ?? '')]),
      watchNames(ctx.namespaces, (ns) => [ns.metadata.labels?.[LABEL_ACCOUNT]]),
    ],
    apply: async (account, rctx) => {
      await ctx.ensureClusterRoles();
      if (accountProblem(ctx, account)) return;
      const name = account.metadata.name ?? '';
      const domainName = account.spec.domainRef.name;
      const namespace = account.spec.namespace;
      const owner = ownerReference(account, { controller: true });
      const labels = { [LABEL_ACCOUNT]: name, [LABEL_DOMAIN]: domainName };
      await namespaces.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { ...MANAGED_LABELS, ...labels }, ownerReferences: [owner] } }, { ...apply, signal: rctx.signal });
      const group = groupSubject(accountGroup(name));
      await roleBindings.apply(binding('RoleBinding', TENANT_BINDING, namespace, TENANT_ROLE, [group], labels, owner), { ...apply, signal: rctx.signal });

      const type = accountTypeOf(account);
      if (type === 'Admin') {
        await clusterBindings.apply(binding('ClusterRoleBinding', adminBindingName(name), undefined, ADMIN_ROLE, [group], labels, owner), { ...apply, signal: rctx.signal });
      } else {
        await clusterBindings.delete({ name: adminBindingName(name) }, { signal: rctx.signal }).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
      }

      const role: ClusterRoleObject = {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: accountRoleName(name), labels: { ...MANAGED_LABELS, ...labels }, ownerReferences: [owner] },
        rules: selfRules(selfScope(ctx, account)),
      };
      await clusterRoles.apply(role, { ...apply, signal: rctx.signal });
      await clusterBindings.apply(binding('ClusterRoleBinding', accountRoleName(name), undefined, accountRoleName(name), [group], labels, owner), { ...apply, signal: rctx.signal });

      // A domain admin's reach into the namespaces of its subtree; grants no longer wanted are removed.
      const wanted = new Set(
        type === 'DomainAdmin'
          ? subtree(ctx, domainName)
              .flatMap((d) => ctx.accounts.byIndex(TENANCY_INDEX.domain, d))
              .filter((a) => a.metadata.name !== name && !isBeingDeleted(a))
              .map((a) => a.spec.namespace)
          : [],
      );
      for (const target of wanted) {
        if (!ctx.namespaces.get(target)) continue; // its own account's reconcile creates it; the namespace watch brings us back
        await roleBindings.apply(binding('RoleBinding', domainAdminBindingName(name), target, TENANT_ROLE, [group], { ...labels, [LABEL_GRANTED_TO]: name }, owner), { ...apply, signal: rctx.signal });
      }
      for (const stale of ctx.roleBindings.byIndex(TENANCY_INDEX.grantedTo, name)) {
        const ns = stale.metadata.namespace ?? '';
        if (wanted.has(ns)) continue;
        await roleBindings.delete({ namespace: ns, name: stale.metadata.name ?? '' }, { signal: rctx.signal }).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
      }
    },
    observe: (account) => {
      const name = account.metadata.name ?? '';
      const state = account.spec.state ?? 'enabled';
      const fields = { userCount: ctx.users.byIndex(TENANCY_INDEX.account, name).length };
      const problem = accountProblem(ctx, account);
      if (problem) return { state, fields, conditions: [{ type: 'Ready', status: 'False', ...problem }] };
      return { state, fields, conditions: [{ type: 'Ready', status: 'True', reason: 'NamespaceBound', message: `namespace ${account.spec.namespace}; group ${accountGroup(name)}` }] };
    },
    stateEvents: stateEvents('ACCOUNT'),
  });
}
