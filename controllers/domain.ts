/**
 * Domain: computes its path from ROOT and its depth, gives its group (`kumulus:domain:<path>`)
 * read access to the catalogue (zones, offerings, public templates), and holds the domain
 * while child domains or accounts remain (DeletionBlocked, which an async delete waits for).
 */
import { Account, Domain, type AccountObject, type DomainObject } from '../crds/index.ts';
import { domainChain, domainDisplayPath, domainGroup, domainGroupPath, LABEL_DOMAIN, PUBLIC_NAMESPACE } from '../lib/identity.ts';
import { isAlreadyExists, isNotFound, resourceTypeOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { isBeingDeleted, ownerReference } from '../lib/ownership.ts';
import { OPERATOR_FIELD_MANAGER } from './infra-context.ts';
import { binding, CATALOG_ROLE, CLUSTER_ROLE_BINDINGS, groupSubject, PUBLIC_READER_ROLE, ROLE_BINDINGS } from './rbac.ts';
import { registerKindReconciler, watchNames } from './reconciler.ts';
import { ancestors, DOMAIN_CHILDREN_FINALIZER, NAMESPACES, stateEvents, TENANCY_INDEX, type TenancyContext } from './tenancy-context.ts';

/** `ROOT/customers/acme`: display names from the root down; undefined while an ancestor is missing. */
export function domainPath(ctx: TenancyContext, domain: DomainObject): string | undefined {
  const chain = domainChain(domain, (name) => ctx.domains.get(name));
  return chain && domainDisplayPath(chain);
}

function groupPath(ctx: TenancyContext, domain: DomainObject): string | undefined {
  const chain = domainChain(domain, (name) => ctx.domains.get(name));
  return chain && domainGroupPath(chain);
}

/** The catalogue bindings of a domain are named after it. */
export function domainBindingName(domain: string): string {
  return `kumulus-domain-${domain}`;
}

export function registerDomainController(manager: Manager, ctx: TenancyContext): void {
  const clusterBindings = ctx.client.resource(CLUSTER_ROLE_BINDINGS);
  const roleBindings = ctx.client.resource(ROLE_BINDINGS);
  const namespaces = ctx.client.resource(NAMESPACES);
  const domains = ctx.client.resource<DomainObject>(resourceTypeOf(Domain));
  const accounts = ctx.client.resource<AccountObject>(resourceTypeOf(Account));
  const apply = { fieldManager: OPERATOR_FIELD_MANAGER, force: true };

  registerKindReconciler<DomainObject>(manager, ctx, {
    name: 'domain',
    kind: Domain,
    informer: ctx.domains,
    ownership: { fields: ['path', 'level'], conditions: ['Ready'] },
    watches: [
      // A parent's path or deletion changes its children; a child or account coming or going changes what holds the parent.
      watchNames(ctx.domains, (d) => [...ctx.domains.byIndex(TENANCY_INDEX.parent, d.metadata.name ?? '').map((c) => c.metadata.name), d.spec.parentRef?.name]),
      watchNames(ctx.accounts, (a) => [a.spec.domainRef.name]),
    ],
    finalizer: DOMAIN_CHILDREN_FINALIZER,
    remaining: (domain) => {
      const name = domain.metadata.name ?? '';
      return [
        ...ctx.domains.byIndex(TENANCY_INDEX.parent, name).map((d) => `Domain ${d.metadata.name}`),
        ...ctx.accounts.byIndex(TENANCY_INDEX.domain, name).map((a) => `Account ${a.metadata.name}`),
      ];
    },
    // A cascading delete (deleteDomain cleanup=true) deletes the accounts and the domains below
    // first: those are going, and only what is not going blocks.
    blocking: async (domain, signal) => {
      const name = domain.metadata.name ?? '';
      const candidates = [
        ...ctx.domains.byIndex(TENANCY_INDEX.parent, name).filter((d) => !isBeingDeleted(d)).map((d) => ({ kind: 'Domain', client: domains, name: d.metadata.name ?? '' })),
        ...ctx.accounts.byIndex(TENANCY_INDEX.domain, name).filter((a) => !isBeingDeleted(a)).map((a) => ({ kind: 'Account', client: accounts, name: a.metadata.name ?? '' })),
      ];
      const blocking: string[] = [];
      for (const c of candidates) {
        const live = await c.client.get({ name: c.name }, { signal }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
        if (live && !isBeingDeleted(live)) blocking.push(`${c.kind} ${c.name}`);
      }
      return blocking;
    },
    apply: async (domain, rctx) => {
      await ctx.ensureClusterRoles();
      if (domainPath(ctx, domain) === undefined) return;
      const name = domain.metadata.name ?? '';
      const group = groupSubject(domainGroup(groupPath(ctx, domain) ?? name));
      const owner = ownerReference(domain, { controller: true });
      const labels = { [LABEL_DOMAIN]: name };
      await clusterBindings.apply(binding('ClusterRoleBinding', domainBindingName(name), undefined, CATALOG_ROLE, [group], labels, owner), { ...apply, signal: rctx.signal });
      await namespaces.create({ metadata: { name: PUBLIC_NAMESPACE } }, { signal: rctx.signal }).catch((err: unknown) => {
        if (!isAlreadyExists(err)) throw err;
      });
      await roleBindings.apply(binding('RoleBinding', domainBindingName(name), PUBLIC_NAMESPACE, PUBLIC_READER_ROLE, [group], labels, owner), { ...apply, signal: rctx.signal });
    },
    observe: (domain) => {
      const name = domain.metadata.name ?? '';
      const above = ancestors(ctx, name);
      const state = isBeingDeleted(domain) ? 'Inactive' : 'Active';
      const path = domainPath(ctx, domain);
      if (path === undefined) {
        const missing = above.at(-1)?.spec.parentRef?.name ?? domain.spec.parentRef?.name;
        return {
          state,
          fields: { path: undefined, level: above.length },
          conditions: [{ type: 'Ready', status: 'False', reason: 'ParentNotFound', message: `parent Domain ${missing} does not exist: create it or fix spec.parentRef` }],
        };
      }
      return { state, fields: { path, level: above.length }, conditions: [{ type: 'Ready', status: 'True', reason: 'Active', message: '' }] };
    },
    stateEvents: stateEvents('DOMAIN'),
    deletedEvent: () => ({ reason: 'DOMAIN.DELETE', note: 'domain deleted' }),
  });
}
