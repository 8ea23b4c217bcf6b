import { Account, Domain, User, type AccountObject, type DomainObject, type UserObject } from '../../crds/index.ts';
import { ROOT_DOMAIN } from '../../lib/bootstrap-admin.ts';
import { readCredentials, type ApiKeys, type SecretObject, type StoredCredentials } from '../../lib/credentials.ts';
import { apiKeyHash, callerIdentity, domainChain, domainDisplayPath, domainGroupPath, domainLoginPath, type Identity, LABEL_API_KEY_HASH, LABEL_USER_UID, SYSTEM_NAMESPACE } from '../../lib/identity.ts';
import type { Informer } from '../../lib/informer.ts';
import { type KubeObject, type ResourceType, resourceTypeOf } from '../../lib/kube-client.ts';
import { ACCOUNT_INDEXES, byUid, DOMAIN_INDEXES, INDEX, indexed, type InformerSource, USER_INDEXES } from '../lists/indexes.ts';
import { AccountType, type AccountTypeValue, type Caller } from '../protocol/auth.ts';

/**
 * Who is who, from the API's shared informers: users, accounts and domains by uid, domains by
 * CloudStack path, users by login name within a domain, credentials by API key (through the
 * key-hash label, never by scanning). These caches are the API's own authentication data; a
 * caller's view of tenancy objects is still filtered by RBAC (see access.ts).
 */

export const SECRETS: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };

export const ACCOUNT_TYPE_NUMBERS: Readonly<Record<string, AccountTypeValue>> = { User: AccountType.user, Admin: AccountType.admin, DomainAdmin: AccountType.domainAdmin };

export interface Directory {
  readonly domains: Informer<DomainObject>;
  readonly accounts: Informer<AccountObject>;
  readonly users: Informer<UserObject>;
  readonly secrets: Informer<SecretObject>;
  synced(): Promise<void>;
  byUid<T extends KubeObject>(informer: Informer<T>, uid: string): T | undefined;
  /** Child domains, accounts of a domain, users of an account. */
  childDomains(domain: string): DomainObject[];
  accountsOf(domain: string): AccountObject[];
  usersOf(account: string): UserObject[];
  /** The domain with this CloudStack path (`/`, `/customers/acme/`; a leading `/ROOT` is accepted too). */
  domainByPath(path: string): DomainObject | undefined;
  /** Root-first chain, undefined while an ancestor is missing. */
  chainOf(domain: DomainObject): DomainObject[] | undefined;
  /** `/customers/acme/` */
  loginPathOf(domain: DomainObject): string | undefined;
  /** `ROOT/customers/acme` */
  displayPathOf(domain: DomainObject): string | undefined;
  /** The user with this login name among the accounts of a domain. */
  userInDomain(username: string, domain: string): UserObject | undefined;
  credentialsOf(user: UserObject): StoredCredentials;
  /** The user an API key belongs to, with its keys, if the key's Secret is the one its User names. */
  userByApiKey(apiKey: string): { user: UserObject; keys: ApiKeys } | undefined;
  /** The caller a user acts as; undefined when its account or domain is missing. */
  callerOf(user: UserObject): Caller | undefined;
  /** Whether the user, its account and its domain all allow logging in. */
  isActive(user: UserObject): boolean;
  /** The Kubernetes identity of a caller, or undefined when its user is gone. */
  identityOf(caller: Caller): Identity | undefined;
}

export function createDirectory(source: InformerSource): Directory {
  const domains = indexed(source.informer<DomainObject>(resourceTypeOf(Domain)), DOMAIN_INDEXES);
  const accounts = indexed(source.informer<AccountObject>(resourceTypeOf(Account)), ACCOUNT_INDEXES);
  const users = indexed(source.informer<UserObject>(resourceTypeOf(User)), USER_INDEXES);
  const secrets = indexed(source.informer<SecretObject>(SECRETS, { namespace: SYSTEM_NAMESPACE, labelSelector: LABEL_USER_UID }), { [INDEX.apiKey]: (s) => s.metadata.labels?.[LABEL_API_KEY_HASH] });
  const chainOf = (domain: DomainObject) => domainChain(domain, (name) => domains.get(name));

  function credentialsSecretOf(user: UserObject): SecretObject | undefined {
    const ref = user.spec.secretRef;
    if (!ref) return undefined;
    const secret = secrets.get({ namespace: ref.namespace, name: ref.name });
    // A secretRef pointing at someone else's Secret gives nothing: the Secret names its user.
    return secret?.metadata.labels?.[LABEL_USER_UID] === user.metadata.uid ? secret : undefined;
  }

  function callerOf(user: UserObject): Caller | undefined {
    const account = accounts.get(user.spec.accountRef.name);
    const domain = account ? domains.get(account.spec.domainRef.name) : undefined;
    const chain = domain ? chainOf(domain) : undefined;
    if (!account || !domain || !chain) return undefined;
    return {
      userId: user.metadata.uid ?? '',
      username: user.spec.username,
      accountId: account.metadata.uid ?? '',
      accountName: account.spec.displayName ?? account.metadata.name ?? '',
      accountType: ACCOUNT_TYPE_NUMBERS[account.spec.accountType ?? 'User'] ?? AccountType.user,
      domainId: domain.metadata.uid ?? '',
      domainPath: domainLoginPath(chain),
      firstname: user.spec.firstName,
      lastname: user.spec.lastName,
      timezone: user.spec.timezone,
    };
  }

  return {
    domains,
    accounts,
    users,
    secrets,
    async synced() {
      await Promise.all([domains.waitForSync(), accounts.waitForSync(), users.waitForSync(), secrets.waitForSync()]);
    },
    byUid,
    childDomains: (domain) => domains.byIndex(INDEX.domain, domain),
    accountsOf: (domain) => accounts.byIndex(INDEX.domain, domain),
    usersOf: (account) => users.byIndex(INDEX.account, account),
    domainByPath(path) {
      const wanted = path.replace(/^\/ROOT(\/|$)/i, '/');
      return domains.list().find((d) => {
        const chain = chainOf(d);
        // Paths start at ROOT; other parentless domains (made through kubectl) have no login path.
        return chain !== undefined && chain[0]?.metadata.name === ROOT_DOMAIN && domainLoginPath(chain) === wanted;
      });
    },
    chainOf,
    loginPathOf: (domain) => {
      const chain = chainOf(domain);
      return chain && domainLoginPath(chain);
    },
    displayPathOf: (domain) => {
      const chain = chainOf(domain);
      return chain && domainDisplayPath(chain);
    },
    userInDomain: (username, domain) => users.byIndex(INDEX.username, username).find((u) => accounts.get(u.spec.accountRef.name)?.spec.domainRef.name === domain),
    credentialsOf: (user) => readCredentials(credentialsSecretOf(user)),
    userByApiKey(apiKey) {
      for (const secret of secrets.byIndex(INDEX.apiKey, apiKeyHash(apiKey))) {
        const user = byUid(users, secret.metadata.labels?.[LABEL_USER_UID] ?? '');
        if (!user || credentialsSecretOf(user) !== secret) continue;
        const keys = readCredentials(secret).keys;
        if (keys?.apiKey === apiKey) return { user, keys };
      }
      return undefined;
    },
    callerOf,
    isActive(user) {
      const account = accounts.get(user.spec.accountRef.name);
      const domain = account ? domains.get(account.spec.domainRef.name) : undefined;
      return (user.spec.state ?? 'enabled') === 'enabled' && (account?.spec.state ?? 'enabled') === 'enabled' && account !== undefined && domain !== undefined && domain.metadata.deletionTimestamp === undefined;
    },
    identityOf(caller) {
      const user = byUid(users, caller.userId);
      const account = user ? accounts.get(user.spec.accountRef.name) : undefined;
      const domain = account ? domains.get(account.spec.domainRef.name) : undefined;
      const chain = domain ? chainOf(domain) : undefined;
      if (!user || !account || !chain) return undefined;
      return callerIdentity(user.metadata.name ?? '', account.metadata.name ?? '', domainGroupPath(chain));
    },
  };
}
