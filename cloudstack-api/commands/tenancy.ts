import { Account, AsyncJob, Domain, User, type AccountObject, type DomainObject, type UserObject } from '../../crds/index.ts';
import { credentialsSecret, hashPassword, newApiKey, readCredentials, type SecretObject } from '../../lib/credentials.ts';
import { accountNamespaceFor, credentialsSecretName, objectNameFor, SYSTEM_NAMESPACE } from '../../lib/identity.ts';
import { ApiError as KubeApiError, isAlreadyExists, isNotFound, type KubeObject, type ResourceType, resourceTypeOf } from '../../lib/kube-client.ts';
import { ownerReference } from '../../lib/ownership.ts';
import type { Caller } from '../protocol/auth.ts';
import { formatApiDate } from '../protocol/dates.ts';
import type { Fields } from '../protocol/envelope.ts';
import { ApiError, entityNotFound, internalError, invalidParameterValue, permissionDenied } from '../protocol/errors.ts';
import type { AccessCheck, Tenancy } from '../tenancy/index.ts';
import { SECRETS } from '../tenancy/directory.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { TARGET_GENERATION_ANNOTATION, type JobResultMapper } from './infra-support.ts';

/**
 * Accounts, users and domains (PROTOCOL.md §11, accounts-domains-users). Every change is made
 * as the caller through impersonation, so RBAC decides it; lists come from the shared caches,
 * each object shown only if RBAC lets the caller get it. Ids are object uids; CloudStack names
 * live in spec (displayName, username) and map to metadata.name deterministically.
 */

const ACCOUNTS = resourceTypeOf(Account);
const USERS = resourceTypeOf(User);
const DOMAINS = resourceTypeOf(Domain);
const ASYNC_JOBS = resourceTypeOf(AsyncJob);

const TYPE_NUMBER = { User: 0, Admin: 1, DomainAdmin: 2 } as const;
const TYPE_BY_NUMBER: Readonly<Record<number, 'User' | 'Admin' | 'DomainAdmin'>> = { 0: 'User', 1: 'Admin', 2: 'DomainAdmin' };
const ROLE_NAME = { User: 'User', Admin: 'Root Admin', DomainAdmin: 'Domain Admin' } as const;

type AccountType = keyof typeof TYPE_NUMBER;

function accountTypeOf(account: AccountObject): AccountType {
  return account.spec.accountType ?? 'User';
}

function created(obj: KubeObject): string | undefined {
  const at = obj.metadata.creationTimestamp;
  return at ? formatApiDate(new Date(at)) : undefined;
}

/** Kubernetes refusals in CloudStack's words. */
function failure(err: unknown, caller: Caller, what: string): never {
  if (err instanceof ApiError) throw err;
  if (err instanceof KubeApiError) {
    if (err.code === 403) throw permissionDenied(`Account ${caller.accountName} does not have permission to ${what}`);
    if (err.code === 422 || err.code === 400) {
      const message = (err.status as { message?: string } | undefined)?.message ?? err.message;
      throw invalidParameterValue(`Unable to ${what}: ${message}`);
    }
  }
  throw internalError(`Unable to ${what}: ${err instanceof Error ? err.message : String(err)}`);
}

/** Waits until this replica's cache shows a write, so the caller's next read finds it. */
async function untilCached(done: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

export interface TenancyCommands {
  readonly commands: Command[];
  /** The `jobresult` objects of the async tenancy commands, for queryAsyncJobResult. */
  readonly jobResults: ReadonlyMap<string, JobResultMapper>;
}

export function tenancyCommands(tenancy: Tenancy): TenancyCommands {
  const dir = tenancy.directory;

  /** Sets an account's or a user's state as the caller: RBAC decides whether it may. */
  function setState<T extends AccountObject | UserObject>(ctx: CommandContext, type: ResourceType, target: T, state: string, what: string): Promise<T> {
    return tenancy
      .clientFor(ctx.caller)
      .resource<T>(type)
      .patch({ name: target.metadata.name ?? '' }, { spec: { state } }, 'merge')
      .catch((err: unknown) => failure(err, ctx.caller, what));
  }

  // Views ------------------------------------------------------------------------------------

  function domainFields(domain: DomainObject): Fields {
    const parent = domain.spec.parentRef ? dir.domains.get(domain.spec.parentRef.name) : undefined;
    const chain = dir.chainOf(domain);
    return {
      id: domain.metadata.uid,
      name: domain.spec.displayName ?? domain.metadata.name,
      level: chain ? chain.length - 1 : domain.status?.level,
      parentdomainid: parent?.metadata.uid,
      parentdomainname: parent ? (parent.spec.displayName ?? parent.metadata.name) : undefined,
      haschild: dir.childDomains(domain.metadata.name ?? '').length > 0,
      path: dir.displayPathOf(domain) ?? domain.status?.path,
      networkdomain: domain.spec.networkDomain,
      state: domain.status?.state ?? 'Active',
      created: created(domain),
    };
  }

  function ownerFields(account: AccountObject | undefined): Fields {
    const domain = account ? dir.domains.get(account.spec.domainRef.name) : undefined;
    const type = account ? accountTypeOf(account) : 'User';
    return {
      account: account ? (account.spec.displayName ?? account.metadata.name) : undefined,
      accountid: account?.metadata.uid,
      accounttype: TYPE_NUMBER[type],
      roletype: type,
      rolename: ROLE_NAME[type],
      domain: domain ? (domain.spec.displayName ?? domain.metadata.name) : undefined,
      domainid: domain?.metadata.uid,
      domainpath: domain ? dir.displayPathOf(domain) : undefined,
    };
  }

  function userFields(user: UserObject): Fields {
    const account = dir.accounts.get(user.spec.accountRef.name);
    return {
      id: user.metadata.uid,
      username: user.spec.username,
      firstname: user.spec.firstName,
      lastname: user.spec.lastName,
      email: user.spec.email,
      timezone: user.spec.timezone,
      state: user.spec.state ?? 'enabled',
      created: created(user),
      usersource: 'native',
      isdefault: user.metadata.name === 'admin' && account?.metadata.name === 'admin',
      is2faenabled: false,
      ...ownerFields(account),
      domainpath: undefined,
    };
  }

  function accountFields(account: AccountObject): Fields {
    const owner = ownerFields(account);
    return {
      id: account.metadata.uid,
      name: account.spec.displayName ?? account.metadata.name,
      accounttype: owner['accounttype'],
      roletype: owner['roletype'],
      rolename: owner['rolename'],
      domain: owner['domain'],
      domainid: owner['domainid'],
      domainpath: owner['domainpath'],
      networkdomain: account.spec.networkDomain,
      state: account.spec.state ?? 'enabled',
      created: created(account),
      isdefault: account.metadata.name === 'admin',
      user: dir.usersOf(account.metadata.name ?? '').map(userFields),
    };
  }

  // Access -----------------------------------------------------------------------------------

  async function require(ctx: CommandContext, check: AccessCheck, what: string): Promise<void> {
    if (!(await tenancy.may(ctx.caller, check))) throw permissionDenied(`Account ${ctx.caller.accountName} does not have permission to ${what}`);
  }

  /** The objects of a cluster-scoped kind the caller may get: all of them when it may list the kind. */
  async function visible<T extends KubeObject>(ctx: CommandContext, items: T[], type: typeof ACCOUNTS): Promise<T[]> {
    if (await tenancy.mayList(ctx.caller, type)) return items;
    const allowed = await Promise.all(items.map((item) => tenancy.may(ctx.caller, { verb: 'get', resource: type, name: item.metadata.name })));
    return items.filter((_, i) => allowed[i]);
  }

  async function synced(): Promise<void> {
    await dir.synced();
  }

  function domainById(label: string, param: string, id: string): DomainObject {
    const domain = dir.byUid(dir.domains, id);
    if (!domain) throw entityNotFound(label, param, id);
    return domain;
  }

  function callerDomain(ctx: CommandContext): DomainObject {
    const domain = dir.byUid(dir.domains, ctx.caller.domainId);
    if (!domain) throw internalError(`the caller's domain ${ctx.caller.domainId} no longer exists`);
    return domain;
  }

  function callerNamespace(ctx: CommandContext): string {
    const account = dir.byUid(dir.accounts, ctx.caller.accountId);
    if (!account) throw internalError(`account ${ctx.caller.accountName} has no Account object`);
    return account.spec.namespace;
  }

  /** The domains a list covers: one, or its subtree with isrecursive or listall. */
  function domainScope(root: DomainObject, recursive: boolean): Set<string> {
    const names = new Set<string>();
    const queue = [root];
    while (queue.length > 0) {
      const domain = queue.shift();
      if (!domain || names.has(domain.metadata.name ?? '')) continue;
      names.add(domain.metadata.name ?? '');
      if (recursive) queue.push(...dir.childDomains(domain.metadata.name ?? ''));
    }
    return names;
  }

  function keywordMatch(keyword: string | undefined, ...texts: (string | undefined)[]): boolean {
    if (keyword === undefined) return true;
    const k = keyword.toLowerCase();
    return texts.some((t) => t?.toLowerCase().includes(k));
  }

  /** Object names under a domain: kept as given at the root, hashed with the domain's uid below it. */
  function nameScope(domain: DomainObject): string {
    return domain.spec.parentRef ? (domain.metadata.uid ?? '') : '';
  }

  /**
   * An async job, recorded as the caller in its namespace. The job controller completes it
   * when the target is gone (deletes), or when the target's controller has reconciled the
   * generation the command wrote.
   */
  async function submitJob(ctx: CommandContext, target: KubeObject, kind: { apiVersion: string; kind: string }, deleted: boolean): Promise<string> {
    const user = dir.byUid(dir.users, ctx.caller.userId);
    const job = await tenancy
      .clientFor(ctx.caller)
      .resource(ASYNC_JOBS)
      .create({
        apiVersion: AsyncJob.apiVersion,
        kind: AsyncJob.kind,
        metadata: { generateName: 'job-', namespace: callerNamespace(ctx), annotations: { [TARGET_GENERATION_ANNOTATION]: String(target.metadata.generation ?? 1) } },
        spec: {
          command: ctx.command,
          userRef: { name: user?.metadata.name ?? '' },
          targetRef: { apiVersion: kind.apiVersion, kind: kind.kind, name: target.metadata.name ?? '', uid: target.metadata.uid },
          expectedCondition: deleted ? { type: 'Synced', deleted: true } : { type: 'Synced', status: 'True' },
        },
      } as KubeObject)
      .catch((err: unknown) => failure(err, ctx.caller, `record the job of ${ctx.command}`));
    return job.metadata.uid ?? '';
  }

  // Credentials ---------------------------------------------------------------------------------

  /** Writes a user's credentials Secret (the API's own data, so with the API's client), keeping what is not replaced. */
  async function storeCredentials(user: UserObject, change: { password?: string; keys?: { apiKey: string; secretKey: string } }): Promise<void> {
    const secrets = tenancy.system.resource<SecretObject>(SECRETS);
    const name = credentialsSecretName(user.metadata.name ?? '');
    const existing = await secrets.get({ namespace: SYSTEM_NAMESPACE, name }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
    const current = existing?.metadata.labels?.['iam.kumulus.io/user-uid'] === user.metadata.uid ? readCredentials(existing) : {};
    const secret = credentialsSecret(
      { userName: user.metadata.name ?? '', userUid: user.metadata.uid ?? '', accountName: user.spec.accountRef.name, owner: ownerReference(user) },
      { passwordHash: change.password !== undefined ? await hashPassword(change.password) : current.passwordHash, keys: change.keys ?? current.keys },
    );
    await secrets.apply(secret, { fieldManager: 'kumulus-api', force: true });
    await untilCached(() => dir.secrets.get({ namespace: SYSTEM_NAMESPACE, name })?.metadata.labels?.['iam.kumulus.io/user-uid'] === user.metadata.uid);
  }

  async function createUserAs(ctx: CommandContext, account: AccountObject, domain: DomainObject, params: { username: string; password: string; email: string; firstname: string; lastname: string; timezone?: string }): Promise<UserObject> {
    if (dir.userInDomain(params.username, domain.metadata.name ?? '')) {
      throw invalidParameterValue(`The user ${params.username} already exists in domain ${domain.metadata.uid}`);
    }
    const name = objectNameFor(params.username, nameScope(domain));
    const user = await tenancy
      .clientFor(ctx.caller)
      .resource<UserObject>(USERS)
      .create({
        apiVersion: User.apiVersion,
        kind: 'User',
        metadata: { name, ownerReferences: [ownerReference(account as KubeObject)] },
        spec: {
          accountRef: { name: account.metadata.name ?? '' },
          username: params.username,
          firstName: params.firstname,
          lastName: params.lastname,
          email: params.email,
          ...(params.timezone ? { timezone: params.timezone } : {}),
          secretRef: { name: credentialsSecretName(name), namespace: SYSTEM_NAMESPACE },
        },
      })
      .catch((err: unknown) => {
        if (isAlreadyExists(err)) throw invalidParameterValue(`The user ${params.username} already exists in domain ${domain.metadata.uid}`);
        return failure(err, ctx.caller, `create user ${params.username}`);
      });
    await storeCredentials(user, { password: params.password });
    await untilCached(() => dir.users.get(name) !== undefined);
    await untilUserBound(user);
    return user;
  }

  /**
   * Waits (briefly) until the account controller has bound the new user's own rights, so
   * the user's first calls (registerUserKeys, updateUser on itself) find them, as CloudStack's
   * would; RBAC still decides, this only waits for the binding to exist.
   */
  async function untilUserBound(user: UserObject, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const check: AccessCheck = { verb: 'update', resource: USERS, name: user.metadata.name };
    for (;;) {
      const cached = dir.users.get(user.metadata.name ?? '');
      const caller = cached && dir.callerOf(cached);
      const identity = caller && dir.identityOf(caller);
      if (identity && (await tenancy.access.allowed(identity, check, { fresh: true }))) return;
      if (Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  function userById(label: string, id: string): UserObject {
    const user = dir.byUid(dir.users, id);
    if (!user) throw entityNotFound(label, 'id', id);
    return user;
  }

  function accountById(label: string, id: string): AccountObject {
    const account = dir.byUid(dir.accounts, id);
    if (!account) throw entityNotFound(label, 'id', id);
    return account;
  }

  /** An account named by `id`, or by `account` and `domainid` (CloudStack's two ways). */
  function accountOf(label: string, params: { id?: string; account?: string; domainid?: string }, ctx: CommandContext): AccountObject {
    if (params.id !== undefined) return accountById(label, params.id);
    if (params.account === undefined) throw invalidParameterValue('Either id or account name and domainid must be specified');
    const domain = params.domainid !== undefined ? domainById(label, 'domainid', params.domainid) : callerDomain(ctx);
    const found = dir.accountsOf(domain.metadata.name ?? '').find((a) => (a.spec.displayName ?? a.metadata.name) === params.account);
    if (!found) throw invalidParameterValue(`Unable to find account by name ${params.account} in domain ${domain.metadata.uid}`);
    return found;
  }

  const domainIdParam = { type: 'uuid', description: 'The id of the domain', entity: 'domain' } as const;

  const jobResults = new Map<string, JobResultMapper>([
    ['disableAccount', (job) => {
      const account = dir.accounts.get(job.spec.targetRef.name);
      return account && accountFields(account);
    }],
    ['disableUser', (job) => {
      const user = dir.users.get(job.spec.targetRef.name);
      return user && userFields(user);
    }],
  ]);

  const commands = [
    // Domains --------------------------------------------------------------------------------
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
        await synced();
        if (params.id !== undefined) domainById('listdomains', 'id', params.id);
        const candidates = dir.domains
          .list()
          .filter((d) => params.id === undefined || d.metadata.uid === params.id)
          .filter((d) => params.name === undefined || (d.spec.displayName ?? d.metadata.name) === params.name)
          .filter((d) => keywordMatch(params.keyword, d.spec.displayName ?? d.metadata.name))
          .filter((d) => params.level === undefined || (dir.chainOf(d)?.length ?? 0) - 1 === params.level)
          .sort((a, b) => (dir.displayPathOf(a) ?? '').localeCompare(dir.displayPathOf(b) ?? ''));
        return visible(ctx, candidates, DOMAINS);
      },
      mapItem: domainFields,
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
        await synced();
        const parent = params.parentdomainid !== undefined ? domainById('createdomain', 'parentdomainid', params.parentdomainid) : dir.domainByPath('/');
        if (!parent) throw internalError('there is no ROOT domain');
        // Creating under a domain is managing that domain: RBAC must let the caller update it (asked first, so names elsewhere stay private).
        await require(ctx, { verb: 'update', resource: DOMAINS, name: parent.metadata.name }, `create a domain under ${parent.spec.displayName ?? parent.metadata.name}`);
        if (dir.childDomains(parent.metadata.name ?? '').some((d) => (d.spec.displayName ?? d.metadata.name) === params.name)) {
          throw invalidParameterValue(`Domain with name ${params.name} already exists for the parent id=${parent.metadata.uid}`);
        }
        const name = objectNameFor(params.name, parent.metadata.uid ?? '');
        const domain = await tenancy
          .clientFor(ctx.caller)
          .resource<DomainObject>(DOMAINS)
          .create({
            apiVersion: Domain.apiVersion,
            kind: 'Domain',
            metadata: { name },
            spec: { displayName: params.name, parentRef: { name: parent.metadata.name ?? '' }, ...(params.networkdomain ? { networkDomain: params.networkdomain } : {}) },
          })
          .catch((err: unknown) => failure(err, ctx.caller, `create domain ${params.name}`));
        await untilCached(() => dir.domains.get(name) !== undefined);
        return domain;
      },
      map: domainFields,
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
        await synced();
        const domain = domainById('updatedomain', 'id', params.id);
        const spec: Record<string, string> = {};
        if (params.name !== undefined) spec['displayName'] = params.name;
        if (params.networkdomain !== undefined) spec['networkDomain'] = params.networkdomain;
        return tenancy
          .clientFor(ctx.caller)
          .resource<DomainObject>(DOMAINS)
          .patch({ name: domain.metadata.name ?? '' }, { spec }, 'merge')
          .catch((err: unknown) => failure(err, ctx.caller, `update domain ${domain.spec.displayName ?? domain.metadata.name}`));
      },
      map: domainFields,
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
        await synced();
        const domain = domainById('deletedomain', 'id', params.id);
        const name = domain.metadata.name ?? '';
        const own = dir.chainOf(callerDomain(ctx)) ?? [];
        if (own.some((d) => d.metadata.name === name)) throw invalidParameterValue(`Domain id=${params.id} holds the caller's own account; it cannot be deleted by it`);
        const children = dir.childDomains(name).length + dir.accountsOf(name).length;
        if (children > 0 && params.cleanup !== true) throw invalidParameterValue(`Domain id=${params.id} has child domains or accounts; delete them first or pass cleanup=true`);
        const client = tenancy.clientFor(ctx.caller);
        // With cleanup, everything below goes too: accounts first, then the domains, each held by its finalizer until its children are gone.
        const below = params.cleanup === true ? [...domainScope(domain, true)] : [name];
        for (const each of below) {
          for (const account of dir.accountsOf(each)) {
            await client.resource(ACCOUNTS).delete({ name: account.metadata.name ?? '' }).catch((err: unknown) => (isNotFound(err) ? undefined : failure(err, ctx.caller, `delete account ${account.metadata.name}`)));
          }
        }
        for (const each of below.reverse()) {
          await client.resource(DOMAINS).delete({ name: each }).catch((err: unknown) => (isNotFound(err) ? undefined : failure(err, ctx.caller, `delete domain ${dir.domains.get(each)?.spec.displayName ?? each}`)));
        }
        return { jobid: await submitJob(ctx, domain, Domain, true) };
      },
    }),

    // Accounts ---------------------------------------------------------------------------------
    defineCommand({
      name: 'listAccounts',
      kind: 'list',
      description: 'Lists accounts and provides detailed account information for listed accounts',
      params: {
        id: { type: 'uuid', description: 'List account by account ID', entity: 'account' },
        name: { type: 'string', description: 'List account by account name' },
        domainid: domainIdParam,
        accounttype: { type: 'integer', description: 'List accounts by account type. Valid account types are 1 (admin), 2 (domain-admin), and 0 (user).' },
        state: { type: 'string', description: 'List accounts by state. Valid states are enabled, disabled, and locked.' },
        keyword: { type: 'string', description: 'List by keyword' },
        listall: { type: 'boolean', description: 'If set to false, list only resources belonging to the command\'s caller; if set to true - list resources that the caller is authorized to see. Default value is false' },
        isrecursive: { type: 'boolean', description: 'defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.' },
      },
      async handle(params, ctx) {
        await synced();
        if (params.id !== undefined) accountById('listaccounts', params.id);
        const root = params.domainid !== undefined ? domainById('listaccounts', 'domainid', params.domainid) : callerDomain(ctx);
        const scope = params.id !== undefined ? undefined : domainScope(root, params.listall === true || params.isrecursive === true);
        const candidates = dir.accounts
          .list()
          .filter((a) => scope === undefined || scope.has(a.spec.domainRef.name))
          .filter((a) => params.id === undefined || a.metadata.uid === params.id)
          .filter((a) => params.name === undefined || (a.spec.displayName ?? a.metadata.name) === params.name)
          .filter((a) => params.accounttype === undefined || TYPE_NUMBER[accountTypeOf(a)] === params.accounttype)
          .filter((a) => params.state === undefined || (a.spec.state ?? 'enabled') === params.state.toLowerCase())
          .filter((a) => keywordMatch(params.keyword, a.spec.displayName ?? a.metadata.name))
          .sort((a, b) => (a.spec.displayName ?? a.metadata.name ?? '').localeCompare(b.spec.displayName ?? b.metadata.name ?? ''));
        return visible(ctx, candidates, ACCOUNTS);
      },
      mapItem: accountFields,
    }),
    defineCommand({
      name: 'createAccount',
      kind: 'object',
      description: 'Creates an account',
      params: {
        username: { type: 'string', description: 'Unique username.', required: true },
        password: { type: 'string', description: 'Clear text password (Default hashed to SHA256SALT).', required: true },
        email: { type: 'string', description: 'email', required: true },
        firstname: { type: 'string', description: 'firstname', required: true },
        lastname: { type: 'string', description: 'lastname', required: true },
        account: { type: 'string', description: 'Name of the account to be created. The user will be added to this newly created account. If no account is specified, the username will be used as the account name.' },
        accounttype: { type: 'integer', description: 'Type of the account.  Specify 0 for user, 1 for root admin, and 2 for domain admin' },
        domainid: { type: 'uuid', description: 'Creates the user under the specified domain.', entity: 'domain' },
        networkdomain: { type: 'string', description: 'Network domain for the account\'s networks' },
        timezone: { type: 'string', description: 'Specifies a timezone for this command. For more information on the timezone parameter, see Time Zone Format.' },
      },
      async handle(params, ctx) {
        await synced();
        const domain = params.domainid !== undefined ? domainById('createaccount', 'domainid', params.domainid) : callerDomain(ctx);
        const accountName = params.account ?? params.username;
        const type = TYPE_BY_NUMBER[params.accounttype ?? 0];
        if (type === undefined) throw invalidParameterValue(`Invalid account type ${params.accounttype} given; valid values are: 0 (user), 1 (root admin), 2 (domain admin)`);
        await require(ctx, { verb: 'update', resource: DOMAINS, name: domain.metadata.name }, `create an account in domain ${domain.spec.displayName ?? domain.metadata.name}`);
        if (dir.accountsOf(domain.metadata.name ?? '').some((a) => (a.spec.displayName ?? a.metadata.name) === accountName)) {
          throw invalidParameterValue(`The specified account: ${accountName} already exists`);
        }
        const name = objectNameFor(accountName, nameScope(domain));
        const account = await tenancy
          .clientFor(ctx.caller)
          .resource<AccountObject>(ACCOUNTS)
          .create({
            apiVersion: Account.apiVersion,
            kind: 'Account',
            metadata: { name },
            spec: {
              displayName: accountName,
              domainRef: { name: domain.metadata.name ?? '' },
              accountType: type,
              namespace: accountNamespaceFor(name),
              ...(params.networkdomain ? { networkDomain: params.networkdomain } : {}),
            },
          })
          .catch((err: unknown) => {
            if (isAlreadyExists(err)) throw invalidParameterValue(`The specified account: ${accountName} already exists`);
            return failure(err, ctx.caller, `create account ${accountName}`);
          });
        try {
          await createUserAs(ctx, account, domain, params);
        } catch (err) {
          // One request, one outcome: no account without its first user.
          await tenancy.clientFor(ctx.caller).resource(ACCOUNTS).delete({ name }).catch(() => undefined);
          throw err;
        }
        await untilCached(() => dir.accounts.get(name) !== undefined);
        return dir.accounts.get(name) ?? account;
      },
      map: accountFields,
    }),
    defineCommand({
      name: 'updateAccount',
      kind: 'object',
      description: 'Updates account information for the authenticated user',
      params: {
        id: { type: 'uuid', description: 'Account UUID', entity: 'account' },
        account: { type: 'string', description: 'the current account name' },
        domainid: domainIdParam,
        newname: { type: 'string', description: 'new name for the account' },
        networkdomain: { type: 'string', description: 'Network domain for the account\'s networks' },
      },
      async handle(params, ctx) {
        await synced();
        const account = accountOf('updateaccount', params, ctx);
        const spec: Record<string, string> = {};
        if (params.newname !== undefined) spec['displayName'] = params.newname;
        if (params.networkdomain !== undefined) spec['networkDomain'] = params.networkdomain;
        const updated = await tenancy
          .clientFor(ctx.caller)
          .resource<AccountObject>(ACCOUNTS)
          .patch({ name: account.metadata.name ?? '' }, { spec }, 'merge')
          .catch((err: unknown) => failure(err, ctx.caller, `update account ${account.spec.displayName ?? account.metadata.name}`));
        await untilCached(() => dir.accounts.get(account.metadata.name ?? '')?.metadata.resourceVersion === updated.metadata.resourceVersion);
        return updated;
      },
      map: accountFields,
    }),
    defineCommand({
      name: 'enableAccount',
      kind: 'object',
      description: 'Enables an account',
      params: {
        id: { type: 'uuid', description: 'Account id', entity: 'account' },
        account: { type: 'string', description: 'Enables specified account.' },
        domainid: domainIdParam,
      },
      async handle(params, ctx) {
        await synced();
        const account = accountOf('enableaccount', params, ctx);
        return setState(ctx, ACCOUNTS, account, 'enabled', `enable account ${account.spec.displayName ?? account.metadata.name}`);
      },
      map: accountFields,
    }),
    defineCommand({
      name: 'disableAccount',
      kind: 'async',
      description: 'Disables an account',
      params: {
        lock: { type: 'boolean', description: 'If true, only lock the account; else disable the account', required: true },
        id: { type: 'uuid', description: 'Account id', entity: 'account' },
        account: { type: 'string', description: 'Disables specified account.' },
        domainid: { type: 'uuid', description: 'Disables specified account in this domain.', entity: 'domain' },
      },
      async handle(params, ctx) {
        await synced();
        const account = accountOf('disableaccount', params, ctx);
        if (account.metadata.uid === ctx.caller.accountId) throw invalidParameterValue('The caller cannot disable its own account');
        const updated = await setState(ctx, ACCOUNTS, account, params.lock ? 'locked' : 'disabled', `disable account ${account.spec.displayName ?? account.metadata.name}`);
        return { jobid: await submitJob(ctx, updated, Account, false) };
      },
    }),
    defineCommand({
      name: 'lockAccount',
      kind: 'object',
      description: 'This deprecated function used to locks an account. Look for the API DisableAccount instead',
      params: {
        account: { type: 'string', description: 'Locks the specified account.', required: true },
        domainid: { type: 'uuid', description: 'Locks the specified account on this domain.', required: true, entity: 'domain' },
      },
      async handle(params, ctx) {
        await synced();
        const account = accountOf('lockaccount', params, ctx);
        return setState(ctx, ACCOUNTS, account, 'locked', `lock account ${account.spec.displayName ?? account.metadata.name}`);
      },
      map: accountFields,
    }),
    defineCommand({
      name: 'deleteAccount',
      kind: 'async',
      description: 'Deletes a account, and all users associated with this account',
      params: { id: { type: 'uuid', description: 'Account id', required: true, entity: 'account' } },
      async handle(params, ctx) {
        await synced();
        const account = accountById('deleteaccount', params.id);
        if (account.metadata.uid === ctx.caller.accountId) throw invalidParameterValue('The caller cannot delete its own account');
        await tenancy
          .clientFor(ctx.caller)
          .resource(ACCOUNTS)
          .delete({ name: account.metadata.name ?? '' })
          .catch((err: unknown) => failure(err, ctx.caller, `delete account ${account.spec.displayName ?? account.metadata.name}`));
        return { jobid: await submitJob(ctx, account, Account, true) };
      },
    }),

    // Users ---------------------------------------------------------------------------------------
    defineCommand({
      name: 'listUsers',
      kind: 'list',
      description: 'Lists user accounts',
      params: {
        id: { type: 'uuid', description: 'List user by ID.', entity: 'user' },
        username: { type: 'string', description: 'List user by the username' },
        account: { type: 'string', description: 'list resources by account. Must be used with the domainId parameter.' },
        domainid: domainIdParam,
        accounttype: { type: 'integer', description: 'List users by account type. Valid types include admin, domain-admin, read-only-admin, or user.' },
        state: { type: 'string', description: 'List users by state of the user account.' },
        keyword: { type: 'string', description: 'List by keyword' },
        listall: { type: 'boolean', description: 'If set to false, list only resources belonging to the command\'s caller; if set to true - list resources that the caller is authorized to see. Default value is false' },
        isrecursive: { type: 'boolean', description: 'defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.' },
      },
      async handle(params, ctx) {
        await synced();
        if (params.id !== undefined) userById('listusers', params.id);
        const root = params.domainid !== undefined ? domainById('listusers', 'domainid', params.domainid) : callerDomain(ctx);
        const scope = params.id !== undefined ? undefined : domainScope(root, params.listall === true || params.isrecursive === true);
        const candidates = dir.users
          .list()
          .filter((u) => {
            const account = dir.accounts.get(u.spec.accountRef.name);
            if (!account) return false;
            if (scope !== undefined && !scope.has(account.spec.domainRef.name)) return false;
            if (params.account !== undefined && (account.spec.displayName ?? account.metadata.name) !== params.account) return false;
            return params.accounttype === undefined || TYPE_NUMBER[accountTypeOf(account)] === params.accounttype;
          })
          .filter((u) => params.id === undefined || u.metadata.uid === params.id)
          .filter((u) => params.username === undefined || u.spec.username === params.username)
          .filter((u) => params.state === undefined || (u.spec.state ?? 'enabled') === params.state.toLowerCase())
          .filter((u) => keywordMatch(params.keyword, u.spec.username, u.spec.firstName, u.spec.lastName, u.spec.email))
          .sort((a, b) => a.spec.username.localeCompare(b.spec.username));
        return visible(ctx, candidates, USERS);
      },
      mapItem: userFields,
    }),
    defineCommand({
      name: 'createUser',
      kind: 'object',
      description: 'Creates a user for an account that already exists',
      params: {
        account: { type: 'string', description: 'Creates the user under the specified account. If no account is specified, the username will be used as the account name.', required: true },
        username: { type: 'string', description: 'Unique username.', required: true },
        password: { type: 'string', description: 'Clear text password (Default hashed to SHA256SALT).', required: true },
        email: { type: 'string', description: 'email', required: true },
        firstname: { type: 'string', description: 'firstname', required: true },
        lastname: { type: 'string', description: 'lastname', required: true },
        domainid: { type: 'uuid', description: 'Creates the user under the specified domain. Has to be accompanied with the account parameter', entity: 'domain' },
        timezone: { type: 'string', description: 'Specifies a timezone for this command. For more information on the timezone parameter, see Time Zone Format.' },
      },
      async handle(params, ctx) {
        await synced();
        const account = accountOf('createuser', params, ctx);
        const domain = dir.domains.get(account.spec.domainRef.name);
        if (!domain) throw internalError(`account ${params.account} has no domain`);
        await require(ctx, { verb: 'update', resource: ACCOUNTS, name: account.metadata.name }, `add a user to account ${params.account}`);
        return createUserAs(ctx, account, domain, params);
      },
      map: userFields,
    }),
    defineCommand({
      name: 'updateUser',
      kind: 'object',
      description: 'Updates a user account',
      params: {
        id: { type: 'uuid', description: 'User uuid', required: true, entity: 'user' },
        email: { type: 'string', description: 'email' },
        firstname: { type: 'string', description: 'first name' },
        lastname: { type: 'string', description: 'last name' },
        timezone: { type: 'string', description: 'Specifies a timezone for this command. For more information on the timezone parameter, see Time Zone Format.' },
        password: { type: 'string', description: 'Clear text password (default hashed to SHA256SALT).' },
      },
      async handle(params, ctx) {
        await synced();
        const user = userById('updateuser', params.id);
        const spec: Record<string, string> = {};
        if (params.email !== undefined) spec['email'] = params.email;
        if (params.firstname !== undefined) spec['firstName'] = params.firstname;
        if (params.lastname !== undefined) spec['lastName'] = params.lastname;
        if (params.timezone !== undefined) spec['timezone'] = params.timezone;
        // Changing a user, its password included, is for whoever RBAC lets update it.
        await require(ctx, { verb: 'update', resource: USERS, name: user.metadata.name }, `update user ${user.spec.username}`);
        const updated = Object.keys(spec).length === 0
          ? user
          : await tenancy
              .clientFor(ctx.caller)
              .resource<UserObject>(USERS)
              .patch({ name: user.metadata.name ?? '' }, { spec }, 'merge')
              .catch((err: unknown) => failure(err, ctx.caller, `update user ${user.spec.username}`));
        if (params.password !== undefined) await storeCredentials(updated, { password: params.password });
        return updated;
      },
      map: userFields,
    }),
    defineCommand({
      name: 'enableUser',
      kind: 'object',
      description: 'Enables a user account',
      params: { id: { type: 'uuid', description: 'Enables user by user ID.', required: true, entity: 'user' } },
      async handle(params, ctx) {
        await synced();
        const user = userById('enableuser', params.id);
        return setState(ctx, USERS, user, 'enabled', `enable user ${user.spec.username}`);
      },
      map: userFields,
    }),
    defineCommand({
      name: 'disableUser',
      kind: 'async',
      description: 'Disables a user account',
      params: { id: { type: 'uuid', description: 'Disables user by user ID.', required: true, entity: 'user' } },
      async handle(params, ctx) {
        await synced();
        const user = userById('disableuser', params.id);
        if (user.metadata.uid === ctx.caller.userId) throw invalidParameterValue('The caller cannot disable itself');
        const updated = await setState(ctx, USERS, user, 'disabled', `disable user ${user.spec.username}`);
        return { jobid: await submitJob(ctx, updated, User, false) };
      },
    }),
    defineCommand({
      name: 'lockUser',
      kind: 'object',
      description: 'Locks a user account',
      params: { id: { type: 'uuid', description: 'Locks user by user ID.', required: true, entity: 'user' } },
      async handle(params, ctx) {
        await synced();
        const user = userById('lockuser', params.id);
        if (user.metadata.uid === ctx.caller.userId) throw invalidParameterValue('The caller cannot lock itself');
        return setState(ctx, USERS, user, 'locked', `lock user ${user.spec.username}`);
      },
      map: userFields,
    }),
    defineCommand({
      name: 'deleteUser',
      kind: 'success',
      description: 'Deletes a user for an account',
      params: { id: { type: 'uuid', description: 'id of the user to be deleted', required: true, entity: 'user' } },
      async handle(params, ctx) {
        await synced();
        const user = userById('deleteuser', params.id);
        if (user.metadata.uid === ctx.caller.userId) throw invalidParameterValue('The caller cannot delete itself');
        await tenancy
          .clientFor(ctx.caller)
          .resource(USERS)
          .delete({ name: user.metadata.name ?? '' })
          .catch((err: unknown) => failure(err, ctx.caller, `delete user ${user.spec.username}`));
        return undefined;
      },
    }),
    defineCommand({
      name: 'registerUserKeys',
      kind: 'object',
      description: 'This command allows a user to register for the developer API, returning a secret key and an API key. This request is made through the integration API port, so it is a privileged command and must be made on behalf of a user. It is up to the implementer just how the username and password are entered, and then how that translates to an integration API request. Both secret key and API key should be returned to the user',
      params: { id: { type: 'uuid', description: 'User id', required: true, entity: 'user' } },
      async handle(params, ctx) {
        await synced();
        const user = userById('registeruserkeys', params.id);
        await require(ctx, { verb: 'update', resource: USERS, name: user.metadata.name }, `register keys for user ${user.spec.username}`);
        const keys = { apiKey: newApiKey(), secretKey: newApiKey() };
        await storeCredentials(user, { keys });
        if (user.spec.secretRef?.name !== credentialsSecretName(user.metadata.name ?? '')) {
          await tenancy
            .clientFor(ctx.caller)
            .resource(USERS)
            .patch({ name: user.metadata.name ?? '' }, { spec: { secretRef: { name: credentialsSecretName(user.metadata.name ?? ''), namespace: SYSTEM_NAMESPACE } } }, 'merge')
            .catch((err: unknown) => failure(err, ctx.caller, `record the keys of user ${user.spec.username}`));
          await untilCached(() => dir.users.get(user.metadata.name ?? '')?.spec.secretRef !== undefined);
        }
        return keys;
      },
      map: (keys) => ({ apikey: keys.apiKey, secretkey: keys.secretKey, apikeyaccess: true }),
    }),
    defineCommand({
      name: 'getUserKeys',
      kind: 'object',
      description: 'This command allows the user to query the seceret and API keys for the account',
      params: { id: { type: 'uuid', description: 'ID of the user whose keys are required', required: true, entity: 'user' } },
      async handle(params, ctx) {
        await synced();
        const user = userById('getuserkeys', params.id);
        await require(ctx, { verb: 'update', resource: USERS, name: user.metadata.name }, `read the keys of user ${user.spec.username}`);
        return dir.credentialsOf(user).keys;
      },
      map: (keys) => (keys ? { apikey: keys.apiKey, secretkey: keys.secretKey, apikeyaccess: true } : {}),
    }),
  ];
  return { commands, jobResults };
}
