import { Account, Domain, type DomainObject } from '../../crds/index.ts';
import { objectNameFor } from '../../lib/identity.ts';
import { isNotFound, resourceTypeOf } from '../../lib/kube-client.ts';
import { keywordMatches } from '../lists/filters.ts';
import { internalError, invalidParameterValue } from '../protocol/errors.ts';
import type { Infra } from './context.ts';
import { type Command, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import { refusal, type TenancyKit } from './tenancy-support.ts';

/** Domains (PROTOCOL.md §11, accounts-domains-users): listDomains, createDomain, updateDomain, deleteDomain. */

const DOMAINS = resourceTypeOf(Domain);

export function domainCommands(kit: TenancyKit, infra: Infra): Command[] {
  const { dir } = kit;
  return [
    defineCommand({
      name: 'listDomains',
      kind: 'list',
      description: 'Lists domains and provides detailed information for listed domains',
      params: {
        id: { type: 'uuid', description: 'List domain by domain ID.', entity: 'domain' },
        name: { type: 'string', description: 'List domain by domain name.' },
        level: { type: 'integer', description: 'List domains by domain level.' },
        keyword: { type: 'string', description: 'List by keyword' },
        listall: { type: 'boolean', description: 'If set to false, list only resources belonging to the command\'s caller; if set to true - list resources that the caller is authorized to see. Default value is false' },
      },
      async handle(params, ctx) {
        await kit.synced();
        if (params.id !== undefined) kit.domainById('listdomains', 'id', params.id);
        const candidates = dir.domains
          .list()
          .filter((d) => params.id === undefined || d.metadata.uid === params.id)
          .filter((d) => params.name === undefined || (d.spec.displayName ?? d.metadata.name) === params.name)
          .filter((d) => keywordMatches(params.keyword, d.spec.displayName ?? d.metadata.name))
          .filter((d) => params.level === undefined || (dir.chainOf(d)?.length ?? 0) - 1 === params.level)
          .sort((a, b) => (dir.displayPathOf(a) ?? '').localeCompare(dir.displayPathOf(b) ?? ''));
        return kit.visible(ctx, candidates, DOMAINS);
      },
      mapItem: kit.domainFields,
    }),
    defineCommand({
      name: 'createDomain',
      kind: 'object',
      description: 'Creates a domain',
      params: {
        name: { type: 'string', description: 'Creates domain with this name', required: true },
        parentdomainid: { type: 'uuid', description: 'Assigns new domain a parent domain by domain ID of the parent.  If no parent domain is specified, the ROOT domain is assumed.', entity: 'domain' },
        networkdomain: { type: 'string', description: 'Network domain for networks in the domain' },
      },
      async handle(params, ctx) {
        await kit.synced();
        const parent = params.parentdomainid !== undefined ? kit.domainById('createdomain', 'parentdomainid', params.parentdomainid) : dir.domainByPath('/');
        if (!parent) throw internalError('there is no ROOT domain');
        // Creating under a domain is managing that domain: RBAC must let the caller update it (asked first, so names elsewhere stay private).
        await kit.require(ctx, { verb: 'update', resource: DOMAINS, name: parent.metadata.name }, `create a domain under ${parent.spec.displayName ?? parent.metadata.name}`);
        if (dir.childDomains(parent.metadata.name ?? '').some((d) => (d.spec.displayName ?? d.metadata.name) === params.name)) {
          throw invalidParameterValue(`Domain with name ${params.name} already exists for the parent id=${parent.metadata.uid}`);
        }
        const name = objectNameFor(params.name, parent.metadata.uid ?? '');
        const domain = await infra
          .resource<DomainObject>(ctx, Domain)
          .create({
            apiVersion: Domain.apiVersion,
            kind: 'Domain',
            metadata: { name },
            spec: { displayName: params.name, parentRef: { name: parent.metadata.name ?? '' }, ...(params.networkdomain ? { networkDomain: params.networkdomain } : {}) },
          })
          .catch((err: unknown) => failure(err, ctx, refusal(ctx, `create domain ${params.name}`)));
        return domain;
      },
      map: kit.domainFields,
    }),
    defineCommand({
      name: 'updateDomain',
      kind: 'object',
      description: 'Updates a domain with a new name',
      params: {
        id: { type: 'uuid', description: 'ID of domain to update', required: true, entity: 'domain' },
        name: { type: 'string', description: 'updates domain with this name' },
        networkdomain: { type: 'string', description: 'Network domain for the domain\'s networks' },
      },
      async handle(params, ctx) {
        await kit.synced();
        const domain = kit.domainById('updatedomain', 'id', params.id);
        const spec: Record<string, string> = {};
        if (params.name !== undefined) spec['displayName'] = params.name;
        if (params.networkdomain !== undefined) spec['networkDomain'] = params.networkdomain;
        return infra
          .resource<DomainObject>(ctx, Domain)
          .patch({ name: domain.metadata.name ?? '' }, { spec }, 'merge')
          .catch((err: unknown) => failure(err, ctx, refusal(ctx, `update domain ${domain.spec.displayName ?? domain.metadata.name}`)));
      },
      map: kit.domainFields,
    }),
    defineCommand({
      name: 'deleteDomain',
      kind: 'async',
      description: 'Deletes a specified domain',
      params: {
        id: { type: 'uuid', description: 'ID of domain to delete', required: true, entity: 'domain' },
        cleanup: { type: 'boolean', description: 'true if all domain resources (child domains, accounts) have to be cleaned up, false otherwise' },
      },
      async handle(params, ctx) {
        await kit.synced();
        const domain = kit.domainById('deletedomain', 'id', params.id);
        const name = domain.metadata.name ?? '';
        const own = dir.chainOf(kit.callerDomain(ctx)) ?? [];
        if (own.some((d) => d.metadata.name === name)) throw invalidParameterValue(`Domain id=${params.id} holds the caller's own account; it cannot be deleted by it`);
        const children = dir.childDomains(name).length + dir.accountsOf(name).length;
        if (children > 0 && params.cleanup !== true) throw invalidParameterValue(`Domain id=${params.id} has child domains or accounts; delete them first or pass cleanup=true`);
        // With cleanup, everything below goes too: accounts first, then the domains, each held by its finalizer until its children are gone.
        const below = params.cleanup === true ? [...kit.domainScope(domain, true)] : [name];
        for (const each of below) {
          for (const account of dir.accountsOf(each)) {
            await infra.resource(ctx, Account).delete({ name: account.metadata.name ?? '' }).catch((err: unknown) => (isNotFound(err) ? undefined : failure(err, ctx, refusal(ctx, `delete account ${account.metadata.name}`))));
          }
        }
        for (const each of below.reverse()) {
          await infra.resource(ctx, Domain).delete({ name: each }).catch((err: unknown) => (isNotFound(err) ? undefined : failure(err, ctx, refusal(ctx, `delete domain ${dir.domains.get(each)?.spec.displayName ?? each}`))));
        }
        return { jobid: await infra.submitJob(ctx, { target: domain, kind: Domain, deleted: true }) };
      },
    }),
  ];
}
