import { User, type AccountObject, type DomainObject, type KindInfo, type UserObject } from '../../crds/index.ts';
import { credentialsSecret, hashPassword, readCredentials, type SecretObject } from '../../lib/credentials.ts';
import { credentialsSecretName, LABEL_USER_UID, objectNameFor, SYSTEM_NAMESPACE } from '../../lib/identity.ts';
import { isAlreadyExists, isNotFound, type KubeObject, type ResourceType, resourceTypeOf } from '../../lib/kube-client.ts';
import { ownerReference } from '../../lib/ownership.ts';
import { readingYourWrites } from '../../lib/read-your-writes.ts';
import { formatApiDate } from '../protocol/dates.ts';
import type { Fields } from '../protocol/envelope.ts';
import { entityNotFound, internalError, invalidParameterValue, permissionDenied } from '../protocol/errors.ts';
import { SECRETS } from '../tenancy/directory.ts';
import type { AccessCheck, Tenancy } from '../tenancy/index.ts';
import type { Infra } from './context.ts';
import { resourceUsage } from './resource-usage.ts';
import type { CommandContext } from './define.ts';
import { failure, type Refusal } from './errors.ts';

/**
 * What the domain, account and user commands share: their CloudStack views, lookups by id
 * and name, RBAC checks for reads served from the caches, and the writes of users and their
 * credentials. Every change is made as the caller through impersonation, so RBAC decides it.
 * Ids are object uids; CloudStack names live in spec (displayName, username) and map to
 * metadata.name deterministically.
 */

export const TYPE_NUMBER = { User: 0, Admin: 1, DomainAdmin: 2 } as const;
export const TYPE_BY_NUMBER: Readonly<Record<number, 'User' | 'Admin' | 'DomainAdmin'>> = { 0: 'User', 1: 'Admin', 2: 'DomainAdmin' };
const ROLE_NAME = { User: 'User', Admin: 'Root Admin', DomainAdmin: 'Domain Admin' } as const;

export type AccountType = keyof typeof TYPE_NUMBER;

export function accountTypeOf(account: AccountObject): AccountType {
  return account.spec.accountType ?? 'User';
}

export function created(obj: KubeObject): string | undefined {
  const at = obj.metadata.creationTimestamp;
  return at ? formatApiDate(new Date(at)) : undefined;
}

export interface NewUser {
  readonly username: string;
  readonly password: string;
  readonly email: string;
  readonly firstname: string;
  readonly lastname: string;
  readonly timezone?: string;
}

export type TenancyKit = ReturnType<typeof tenancyKit>;

export function tenancyKit(tenancy: Tenancy, infra: Infra) {
  const dir = tenancy.directory;
  const USERS = resourceTypeOf(User);
  const usage = resourceUsage(infra, dir);

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
      ...usage.limitFields({ domain }),
    };
  }

  /** The owner fields of anything an account owns: account, accountid, domain, domainid, domainpath, role. */
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
      ...usage.limitFields({ account, domain: dir.domains.get(account.spec.domainRef.name) }),
    };
  }

  // Access -----------------------------------------------------------------------------------

  async function require(ctx: CommandContext, check: AccessCheck, what: string): Promise<void> {
    if (!(await tenancy.may(ctx.caller, check))) throw permissionDenied(`Account ${ctx.caller.accountName} does not have permission to ${what}`);
  }

  /** The objects of a cluster-scoped kind the caller may get: all of them when it may list the kind. */
  async function visible<T extends KubeObject>(ctx: CommandContext, items: T[], type: ResourceType): Promise<T[]> {
    if (await tenancy.mayList(ctx.caller, type)) return items;
    const allowed = await Promise.all(items.map((item) => tenancy.may(ctx.caller, { verb: 'get', resource: type, name: item.metadata.name })));
    return items.filter((_, i) => allowed[i]);
  }

  // Lookups ----------------------------------------------------------------------------------

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

  /** Object names under a domain: kept as given at the root, hashed with the domain's uid below it. */
  function nameScope(domain: DomainObject): string {
    return domain.spec.parentRef ? (domain.metadata.uid ?? '') : '';
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

  // Writes -----------------------------------------------------------------------------------

  /** Sets an account's or a user's state as the caller: RBAC decides whether it may. */
  function setState<T extends AccountObject | UserObject>(ctx: CommandContext, kind: KindInfo, target: T, state: string, action: string): Promise<T> {
    return infra
      .resource<T>(ctx, kind)
      .patch({ name: target.metadata.name ?? '' }, { spec: { state } }, 'merge')
      .catch((err: unknown) => failure(err, ctx, { label: ctx.command.toLowerCase(), id: target.metadata.uid, action }));
  }

  /** Writes a user's credentials Secret (the API's own data, so with the API's client), keeping what is not replaced. */
  async function storeCredentials(user: UserObject, change: { password?: string; keys?: { apiKey: string; secretKey: string } }): Promise<void> {
    const secrets = readingYourWrites(tenancy.system.resource<SecretObject>(SECRETS), dir.secrets);
    const name = credentialsSecretName(user.metadata.name ?? '');
    const existing = await secrets.get({ namespace: SYSTEM_NAMESPACE, name }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
    const current = existing?.metadata.labels?.[LABEL_USER_UID] === user.metadata.uid ? readCredentials(existing) : {};
    const secret = credentialsSecret(
      { userName: user.metadata.name ?? '', userUid: user.metadata.uid ?? '', accountName: user.spec.accountRef.name, owner: ownerReference(user) },
      { passwordHash: change.password !== undefined ? await hashPassword(change.password) : current.passwordHash, keys: change.keys ?? current.keys },
    );
    await secrets.apply(secret, { fieldManager: 'kumulus-api', force: true });
  }

  /**
   * Waits (bounded) until the account controller has bound the new user's own rights, so the
   * user's first calls (registerUserKeys, updateUser on itself) find them, as CloudStack's
   * would; RBAC still decides, this only waits for the binding. The controller records the
   * account's status after binding its users, so each change of the account asks RBAC again.
   */
  async function untilUserBound(user: UserObject, timeoutMs = 5_000): Promise<void> {
    const check: AccessCheck = { verb: 'update', resource: USERS, name: user.metadata.name };
    const allowed = async (): Promise<boolean> => {
      const cached = dir.users.get(user.metadata.name ?? '');
      const caller = cached && dir.callerOf(cached);
      const identity = caller && dir.identityOf(caller);
      return identity !== undefined && (await tenancy.access.allowed(identity, check, { fresh: true }));
    };
    await new Promise<void>((resolve) => {
      let finished = false;
      let asking = false;
      let askAgain = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        unsubscribe();
        resolve();
      };
      const ask = () => {
        if (finished) return;
        if (asking) {
          askAgain = true;
          return;
        }
        asking = true;
        allowed()
          .catch(() => false)
          .then((yes) => {
            asking = false;
            if (yes) finish();
            else if (askAgain) {
              askAgain = false;
              ask();
            }
          }, finish);
      };
      const timer = setTimeout(finish, timeoutMs);
      const unsubscribe = dir.accounts.addHandler({ onUpdate: (_old, account) => void (account.metadata.name === user.spec.accountRef.name && ask()) });
      ask();
    });
  }

  async function createUserAs(ctx: CommandContext, account: AccountObject, domain: DomainObject, params: NewUser): Promise<UserObject> {
    if (dir.userInDomain(params.username, domain.metadata.name ?? '')) {
      throw invalidParameterValue(`The user ${params.username} already exists in domain ${domain.metadata.uid}`);
    }
    const name = objectNameFor(params.username, nameScope(domain));
    const user = await infra
      .resource<UserObject>(ctx, User)
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
        return failure(err, ctx, { label: ctx.command.toLowerCase(), action: `create user ${params.username}` });
      });
    await storeCredentials(user, { password: params.password });
    await untilUserBound(user);
    return user;
  }

  return {
    dir,
    usage,
    domainFields,
    ownerFields,
    userFields,
    accountFields,
    require,
    visible,
    // The caches too: account and domain rows count what their accounts use.
    synced: async () => {
      await dir.synced();
      await infra.cache.synced();
    },
    domainById,
    callerDomain,
    domainScope,
    nameScope,
    userById,
    accountById,
    accountOf,
    setState,
    storeCredentials,
    createUserAs,
  };
}

export const DOMAIN_ID_PARAM = { type: 'uuid', description: 'The id of the domain', entity: 'domain' } as const;

/** A refused tenancy write, named by what the caller tried (`create user bob`). */
export function refusal(ctx: CommandContext, action: string): Refusal {
  return { label: ctx.command.toLowerCase(), action };
}
