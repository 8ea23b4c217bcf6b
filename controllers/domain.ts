/**
 * Domain: computes its path from ROOT and its depth, gives its group (`kumulus:domain:<path>`)
 * read access to the catalogue (zones, offerings, public templates), and holds the domain
 * while child domains or accounts remain.
 */
import { Domain, type DomainObject } from '../crds/index.ts';
import { domainChain, domainDisplayPath, domainGroup, domainGroupPath, LABEL_DOMAIN, PUBLIC_NAMESPACE } from '../lib/identity.ts';
import { isAlreadyExists, isConflict, isNotFound, type ResourceClient, resourceTypeOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { addFinalizer, isBeingDeleted, ownerReference, removeFinalizer } from '../lib/ownership.ts';
import { OPERATOR_FIELD_MANAGER } from './infra-context.ts';
import { binding, CATALOG_ROLE, CLUSTER_ROLE_BINDINGS, groupSubject, PUBLIC_READER_ROLE, ROLE_BINDINGS } from './rbac.ts';
import {
  ancestors,
  commitTenancyFailure,
  commitTenancyStatus,
  DOMAIN_CHILDREN_FINALIZER,
  NAMESPACES,
  stateEvent,
  TENANCY_INDEX,
  type TenancyContext,
  watchOf,
} from './tenancy.ts';

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
  const domains: ResourceClient<DomainObject> = ctx.client.resource<DomainObject>(resourceTypeOf(Domain));
  const clusterBindings = ctx.client.resource(CLUSTER_ROLE_BINDINGS);
  const roleBindings = ctx.client.resource(ROLE_BINDINGS);
  const namespaces = ctx.client.resource(NAMESPACES);

  manager.addController<DomainObject>({
    name: 'domain',
    for: ctx.domains,
    watches: [
      // A parent's path or deletion changes its children; a child or account coming or going changes what holds the parent.
      watchOf(ctx.domains, (d) => [...ctx.domains.byIndex(TENANCY_INDEX.parent, d.metadata.name ?? '').map((c) => ({ name: c.metadata.name ?? '' })), ...(d.spec.parentRef ? [{ name: d.spec.parentRef.name }] : [])]),
      watchOf(ctx.accounts, (a) => [{ name: a.spec.domainRef.name }]),
    ],
    reconcile: async (rctx, request) => {
      let domain = ctx.domains.get(request);
      if (!domain) return;
      const name = domain.metadata.name ?? '';
      try {
        const children = [
          ...ctx.domains.byIndex(TENANCY_INDEX.parent, name).map((d) => `Domain ${d.metadata.name}`),
          ...ctx.accounts.byIndex(TENANCY_INDEX.domain, name).map((a) => `Account ${a.metadata.name}`),
        ];
        if (isBeingDeleted(domain)) {
          if (children.length === 0) {
            await removeFinalizer(domains, domain, DOMAIN_CHILDREN_FINALIZER, rctx.signal);
            manager.events.event(domain, { reason: 'DOMAIN.DELETE', note: 'domain deleted' });
            return;
          }
          await commitTenancyStatus(domains, domain, 'Inactive', {}, { ok: false, reason: 'Deleting', message: `deletion waits for ${children.length} child object(s) to be deleted first: ${children.slice(0, 10).join(', ')}` }, rctx.signal);
          return;
        }
        domain = await addFinalizer(domains, domain, DOMAIN_CHILDREN_FINALIZER, rctx.signal);
        await ctx.ensureClusterRoles();
        const path = domainPath(ctx, domain);
        const level = ancestors(ctx, name).length;
        if (path === undefined) {
          const missing = ancestors(ctx, name).at(-1)?.spec.parentRef?.name ?? domain.spec.parentRef?.name;
          await commitTenancyStatus(domains, domain, 'Active', { path: undefined, level }, { ok: false, reason: 'ParentNotFound', message: `parent Domain ${missing} does not exist: create it or fix spec.parentRef` }, rctx.signal);
          return;
        }
        const group = groupSubject(domainGroup(groupPath(ctx, domain) ?? name));
        const owner = ownerReference(domain, { controller: true });
        const labels = { [LABEL_DOMAIN]: name };
        await clusterBindings.apply(binding('ClusterRoleBinding', domainBindingName(name), undefined, CATALOG_ROLE, [group], labels, owner), { fieldManager: OPERATOR_FIELD_MANAGER, force: true, signal: rctx.signal });
        await namespaces.create({ metadata: { name: PUBLIC_NAMESPACE } }, { signal: rctx.signal }).catch((err: unknown) => {
          if (!isAlreadyExists(err)) throw err;
        });
        await roleBindings.apply(binding('RoleBinding', domainBindingName(name), PUBLIC_NAMESPACE, PUBLIC_READER_ROLE, [group], labels, owner), { fieldManager: OPERATOR_FIELD_MANAGER, force: true, signal: rctx.signal });
        await commitTenancyStatus(domains, domain, 'Active', { path, level }, { ok: true, reason: 'Active', message: '' }, rctx.signal);
        const event = stateEvent('DOMAIN', domain.status?.state, 'Active');
        if (event) manager.events.event(domain, event);
      } catch (err) {
        if (isNotFound(err)) return;
        if (isConflict(err)) return { requeue: true };
        await commitTenancyFailure(domains, domain, err, rctx.signal).catch(() => undefined);
        throw err;
      }
    },
  });
}
