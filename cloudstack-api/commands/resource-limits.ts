import { Account, Domain, type AccountObject, type DomainObject } from '../../crds/index.ts';
import { resourceTypeOf } from '../../lib/kube-client.ts';
import { RESOURCE_TYPES, UNLIMITED, type ResourceType } from '../../lib/resource-limits.ts';
import type { Fields } from '../protocol/envelope.ts';
import { AccountType } from '../protocol/auth.ts';
import { invalidParameterValue, permissionDenied } from '../protocol/errors.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import type { Owner } from './resource-usage.ts';
import { DOMAIN_ID_PARAM, refusal, type TenancyKit } from './tenancy-support.ts';

/**
 * Resource limits (PROTOCOL.md §11): listResourceLimits, updateResourceLimit and
 * updateResourceCount in CloudStack's shapes. Limits live in spec.resourceLimits of the
 * Account and the Domain (lib/resource-limits.ts says how they resolve); updateResourceLimit
 * writes them as the caller, so RBAC decides who may. Usage is counted from the objects (the
 * caches), never kept as a counter, so updateResourceCount only reports it. The admission
 * webhook enforces the limits for both doors.
 */

const ACCOUNTS = resourceTypeOf(Account);
const DOMAINS = resourceTypeOf(Domain);

const TYPE_PARAM = { type: 'integer', description: 'Type of resource: 0 user_vm, 1 public_ip, 2 volume, 3 snapshot, 4 template, 5 project, 6 network, 7 vpc, 8 cpu, 9 memory, 10 primary_storage, 11 secondary_storage.' } as const;

function typeByCode(code: number | undefined): ResourceType | undefined {
  if (code === undefined) return undefined;
  const found = RESOURCE_TYPES.find((t) => t.code === code);
  if (!found) throw invalidParameterValue(`Please specify a valid resource type: resourcetype ${code} is none of 0 to ${RESOURCE_TYPES.length - 1}`);
  return found;
}

function typeByName(name: string | undefined): ResourceType | undefined {
  if (name === undefined) return undefined;
  const found = RESOURCE_TYPES.find((t) => t.name === name.toLowerCase());
  if (!found) throw invalidParameterValue(`Please specify a valid resource type name: resourcetypename ${name} is none of ${RESOURCE_TYPES.map((t) => t.name).join(', ')}`);
  return found;
}

export function resourceLimitCommands(kit: TenancyKit, infra: Infra): Command[] {
  const { dir } = kit;
  const label = (ctx: CommandContext) => ctx.command.toLowerCase();

  /** The owner fields of a limit or count row: the account's, or the domain's alone. */
  function ownerFields(owner: Owner): Fields {
    const domain = owner.domain;
    return {
      ...(owner.account ? { account: owner.account.spec.displayName ?? owner.account.metadata.name } : {}),
      domainid: domain?.metadata.uid,
      domain: domain ? (domain.spec.displayName ?? domain.metadata.name) : undefined,
      domainpath: domain ? dir.displayPathOf(domain) : undefined,
    };
  }

  const limitRow = (owner: Owner, type: ResourceType): Fields => ({ ...ownerFields(owner), max: kit.usage.limitOf(owner, type), resourcetype: String(type.code), resourcetypename: type.name });

  /**
   * The account named by account (+ domainid), else the caller's own. RBAC must let the caller
   * read a named one; its own account every caller may read, as in CloudStack, so a new tenant's
   * first call does not wait for the Account controller to bind its role.
   */
  async function accountOwner(ctx: CommandContext, params: { account?: string; domainid?: string }, what: string): Promise<Owner> {
    const named = params.account;
    const account =
      named !== undefined
        ? kit.accountOf(label(ctx), { account: named, ...(params.domainid !== undefined ? { domainid: params.domainid } : {}) }, ctx)
        : kit.accountById(label(ctx), ctx.caller.accountId);
    if (named !== undefined) await kit.require(ctx, { verb: 'get', resource: ACCOUNTS, name: account.metadata.name }, `${what} of account ${account.spec.displayName ?? account.metadata.name}`);
    return { account, domain: dir.domains.get(account.spec.domainRef.name) };
  }

  async function domainOwner(ctx: CommandContext, domainid: string, what: string): Promise<Owner> {
    const domain = kit.domainById(label(ctx), 'domainid', domainid);
    await kit.require(ctx, { verb: 'get', resource: DOMAINS, name: domain.metadata.name }, `${what} of domain ${domain.spec.displayName ?? domain.metadata.name}`);
    return { domain };
  }

  const listResourceLimits = defineCommand({
    name: 'listResourceLimits',
    kind: 'list',
    description: 'Lists resource limits.',
    params: {
      id: { type: 'long', description: 'Lists resource limits by ID.' },
      account: { type: 'string', description: 'list resources by account. Must be used with the domainId parameter.' },
      domainid: DOMAIN_ID_PARAM,
      resourcetype: TYPE_PARAM,
      resourcetypename: { type: 'string', description: 'Type of resource, by name: user_vm, public_ip, volume, snapshot, template, project, network, vpc, cpu, memory, primary_storage, secondary_storage.' },
      isrecursive: { type: 'boolean', description: 'defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.' },
      listall: { type: 'boolean', description: 'If set to false, list only resources belonging to the command\'s caller; if set to true - list resources that the caller is authorized to see. Default value is false' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(params, ctx) {
      await kit.synced();
      const byCode = typeByCode(params.resourcetype);
      const byName = typeByName(params.resourcetypename);
      // Kumulus keeps no limit rows: a limit has no id of its own to list by.
      if (params.id !== undefined) return [];
      const admin = ctx.caller.accountType !== AccountType.user;
      const owner: Owner =
        admin && params.domainid !== undefined && params.account === undefined
          ? await domainOwner(ctx, params.domainid, 'list the resource limits')
          : await accountOwner(ctx, admin ? params : {}, 'list the resource limits');
      const types = RESOURCE_TYPES.filter((t) => (byCode === undefined || t === byCode) && (byName === undefined || t === byName));
      return types.map((type) => limitRow(owner, type));
    },
    mapItem: (row) => row,
  });

  const updateResourceLimit = defineCommand({
    name: 'updateResourceLimit',
    kind: 'object',
    description: 'Updates resource limits for an account or domain.',
    params: {
      resourcetype: { ...TYPE_PARAM, required: true },
      max: { type: 'long', description: 'Maximum resource limit; -1 (the default) is unlimited.' },
      account: { type: 'string', description: 'Update resource for a specified account. Must be used with the domainId parameter.' },
      domainid: { ...DOMAIN_ID_PARAM, description: 'Update resource limits for all accounts in specified domain. If used with the account parameter, updates resource limits for a specified account in specified domain.' },
    },
    async handle(params, ctx) {
      await kit.synced();
      const type = typeByCode(params.resourcetype)!;
      const max = params.max ?? UNLIMITED;
      if (max < UNLIMITED) throw invalidParameterValue("Please specify either '-1' for an infinite limit, or a limit that is at least '0'.");
      const domainAdmin = ctx.caller.accountType === AccountType.domainAdmin;
      if (params.account !== undefined) {
        const account = kit.accountOf(label(ctx), { account: params.account, ...(params.domainid !== undefined ? { domainid: params.domainid } : {}) }, ctx);
        if (account.spec.accountType === 'Admin' && max !== UNLIMITED) throw invalidParameterValue(`Only ${UNLIMITED} limit is supported for Root Admin accounts`);
        if (domainAdmin && account.metadata.uid === ctx.caller.accountId) throw permissionDenied(`Unable to update resource limit for his own account ${account.metadata.uid}, permission denied`);
        const updated = await infra
          .resource<AccountObject>(ctx, Account)
          .patch({ name: account.metadata.name ?? '' }, { spec: { resourceLimits: { [type.field]: max } } }, 'merge')
          .catch((err: unknown) => failure(err, ctx, { ...refusal(ctx, `update the resource limits of account ${params.account}`), params: { [`spec.resourceLimits.${type.field}`]: 'max' } }));
        return limitRow({ account: updated, domain: dir.domains.get(updated.spec.domainRef.name) }, type);
      }
      if (params.domainid === undefined) throw invalidParameterValue('AccountId or domainId have to be specified in order to update resource limit');
      const domain = kit.domainById(label(ctx), 'domainid', params.domainid);
      if (!domain.spec.parentRef) throw permissionDenied(`Cannot update resource limit for ROOT domain ${domain.metadata.uid}, permission denied`);
      if (domainAdmin && domain.metadata.uid === ctx.caller.domainId) throw permissionDenied(`Unable to update resource limit for domain ${domain.metadata.uid}, permission denied`);
      const parent = dir.domains.get(domain.spec.parentRef.name);
      const parentMax = parent ? kit.usage.limitOf({ domain: parent }, type) : UNLIMITED;
      if (parentMax >= 0 && max > parentMax) {
        throw invalidParameterValue(
          `Domain ${domain.spec.displayName ?? domain.metadata.name}(id: ${parent?.metadata.uid}) has maximum allowed resource limit ${parentMax} for ${type.name}, please specify a value less that or equal to ${parentMax}`,
        );
      }
      const updated = await infra
        .resource<DomainObject>(ctx, Domain)
        .patch({ name: domain.metadata.name ?? '' }, { spec: { resourceLimits: { [type.field]: max } } }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { ...refusal(ctx, `update the resource limits of domain ${domain.spec.displayName ?? domain.metadata.name}`), params: { [`spec.resourceLimits.${type.field}`]: 'max' } }));
      return limitRow({ domain: updated }, type);
    },
    map: (row) => row,
  });

  const updateResourceCount = defineCommand({
    name: 'updateResourceCount',
    kind: 'list',
    description: 'Recalculate and update resource count for an account or domain. This also executes some cleanup tasks before calculating resource counts.',
    params: {
      domainid: { ...DOMAIN_ID_PARAM, required: true, description: 'If account parameter specified then updates resource counts for a specified account in this domain else update resource counts for all accounts & child domains in specified domain.' },
      account: { type: 'string', description: 'Update resource count for a specified account. Must be used with the domainId parameter.' },
      resourcetype: TYPE_PARAM,
    },
    async handle(params, ctx) {
      await kit.synced();
      const only = typeByCode(params.resourcetype);
      const owner = params.account !== undefined ? await accountOwner(ctx, params, 'count the resources') : await domainOwner(ctx, params.domainid, 'count the resources');
      const usage = kit.usage.usageOf(owner);
      return RESOURCE_TYPES.filter((t) => only === undefined || t === only).map((type) => ({ ...ownerFields(owner), resourcecount: usage[type.field] ?? 0, resourcetype: String(type.code), resourcetypename: type.name }));
    },
    mapItem: (row) => row,
  });

  return [listResourceLimits, updateResourceLimit, updateResourceCount];
}
