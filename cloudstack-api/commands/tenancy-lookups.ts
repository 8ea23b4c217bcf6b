import { Domain, User, type DomainObject } from '../../crds/index.ts';
import { resourceTypeOf } from '../../lib/kube-client.ts';
import { keywordMatches } from '../lists/filters.ts';
import { invalidParameterValue } from '../protocol/errors.ts';
import { type Command, defineCommand } from './define.ts';
import type { TenancyKit } from './tenancy-support.ts';

/**
 * Two tenancy look-ups bring-up tools and the web UI make: the user behind an API key
 * (getUser), and the domains below a domain (listDomainChildren, the UI's domain tree).
 * Served from the directory's caches, each object shown only if RBAC lets the caller get it.
 */

const USERS = resourceTypeOf(User);
const DOMAINS = resourceTypeOf(Domain);

export function tenancyLookupCommands(kit: TenancyKit): Command[] {
  const { dir } = kit;

  const getUser = defineCommand({
    name: 'getUser',
    kind: 'object',
    description: 'Find user account by API key',
    params: { userapikey: { type: 'string', description: 'API key of the user', required: true } },
    async handle(p, ctx) {
      await kit.synced();
      const found = dir.userByApiKey(p.userapikey)?.user;
      // A user the caller may not see is reported as unknown: a key must not reveal whose it is.
      const visible = found ? await kit.visible(ctx, [found], USERS) : [];
      const user = visible[0];
      if (!user) throw invalidParameterValue('User with specified API key does not exist');
      return { user, apikey: p.userapikey };
    },
    map: ({ user, apikey }) => ({ ...kit.userFields(user), apikey }),
  });

  const listDomainChildren = defineCommand({
    name: 'listDomainChildren',
    kind: 'list',
    description: 'Lists all children domains belonging to a specified domain',
    params: {
      id: { type: 'uuid', description: 'list children domain by parent domain ID.', entity: 'domain' },
      name: { type: 'string', description: 'list children domains by name' },
      isrecursive: { type: 'boolean', description: 'to return the entire tree, use the value "true". To return the first level children, use the value "false".' },
      listall: { type: 'boolean', description: 'If set to false, list only resources belonging to the command\'s caller; if set to true - list resources that the caller is authorized to see. Default value is false' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      await kit.synced();
      const parent = p.id !== undefined ? kit.domainById('listdomainchildren', 'id', p.id) : kit.callerDomain(ctx);
      const below: DomainObject[] = [];
      const queue = dir.childDomains(parent.metadata.name ?? '');
      while (queue.length > 0) {
        const domain = queue.shift()!;
        below.push(domain);
        if (p.isrecursive === true || p.listall === true) queue.push(...dir.childDomains(domain.metadata.name ?? ''));
      }
      const matching = below
        .filter((d) => p.name === undefined || (d.spec.displayName ?? d.metadata.name) === p.name)
        .filter((d) => keywordMatches(p.keyword, d.spec.displayName ?? d.metadata.name))
        .sort((a, b) => (dir.displayPathOf(a) ?? '').localeCompare(dir.displayPathOf(b) ?? ''));
      return kit.visible(ctx, matching, DOMAINS);
    },
    mapItem: kit.domainFields,
  });

  return [getUser, listDomainChildren];
}
