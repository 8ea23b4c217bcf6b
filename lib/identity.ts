import { createHash } from 'node:crypto';

/**
 * Who a CloudStack caller is to Kubernetes, written in one place so the API (which
 * impersonates), the controllers (which bind roles to these groups) and the tests agree:
 * user `kumulus:user:<User name>`, groups `kumulus:account:<Account name>` and
 * `kumulus:domain:<Domain path>` (DESIGN.md, "CloudStack API translation").
 */

export interface Identity {
  readonly user: string;
  readonly groups: readonly string[];
}

export const USER_PREFIX = 'kumulus:user:';
export const ACCOUNT_GROUP_PREFIX = 'kumulus:account:';
export const DOMAIN_GROUP_PREFIX = 'kumulus:domain:';

export function userName(user: string): string {
  return `${USER_PREFIX}${user}`;
}

export function accountGroup(account: string): string {
  return `${ACCOUNT_GROUP_PREFIX}${account}`;
}

/**
 * `path` is the domain's path of object names from the root (`root/customers/acme`, see
 * domainGroupPath): ASCII by construction, so it fits an HTTP header, and unchanged when a
 * domain's display name changes.
 */
export function domainGroup(path: string): string {
  return `${DOMAIN_GROUP_PREFIX}${path}`;
}

/** The identity a request of this user reaches Kubernetes as (names are metadata.name; the path is domainGroupPath's). */
export function callerIdentity(user: string, account: string, domainPath: string): Identity {
  return { user: userName(user), groups: [accountGroup(account), domainGroup(domainPath)] };
}

// Object names ---------------------------------------------------------------------------------

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function hash8(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/**
 * A DNS-1123 label (at most `max` characters) for a free-text CloudStack name. The same inputs
 * always give the same name, so creating the object is the uniqueness check. A name that is
 * already a label is kept as it is when `scope` is empty (names at the root round-trip
 * unchanged); otherwise a hash of scope and name keeps names from different scopes apart.
 */
export function objectNameFor(display: string, scope: string, max = 63): string {
  if (scope === '' && display.length <= max && DNS_LABEL.test(display)) return display;
  const slug = display
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max - 9)
    .replace(/-+$/g, '');
  const suffix = hash8(`${scope}/${display}`);
  return slug === '' ? `x-${suffix}` : `${slug}-${suffix}`;
}

/** The namespace an account created through the API owns: `cs-<account name>`, shortened with a hash when too long. */
export function accountNamespaceFor(accountName: string): string {
  const wanted = `cs-${accountName}`;
  return wanted.length <= 63 ? wanted : `cs-${accountName.slice(0, 50).replace(/-+$/g, '')}-${hash8(accountName)}`;
}

// Labels -----------------------------------------------------------------------------------

export const LABEL_ACCOUNT = 'iam.kumulus.io/account';
export const LABEL_DOMAIN = 'iam.kumulus.io/domain';
export const LABEL_USER = 'iam.kumulus.io/user';
export const LABEL_USER_UID = 'iam.kumulus.io/user-uid';
/** On credential Secrets: a hash of the API key, so the key finds its user through an index. */
export const LABEL_API_KEY_HASH = 'iam.kumulus.io/api-key-hash';
/** What a Secret in the system namespace holds: `user-credentials`, `session`, `bootstrap`. */
export const LABEL_SECRET_ROLE = 'iam.kumulus.io/secret';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';

/** Where the API keeps credentials and sessions, and the operator its lease. */
export const SYSTEM_NAMESPACE = 'kumulus-system';
/** Where public templates live; every tenant may read them. */
export const PUBLIC_NAMESPACE = 'kumulus-public';

/** 63 hex characters of SHA-256: fits a label value, and reveals nothing about the key. */
export function apiKeyHash(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex').slice(0, 63);
}

/**
 * The credentials Secret of a user, named from the User's name so the User can name it in
 * spec.secretRef when it is created. A Secret left from an earlier user of the same name is
 * never read as this one's: readers check its user-uid label, and the old owner's deletion
 * garbage-collects it.
 */
export function credentialsSecretName(userName: string): string {
  return `user-${userName}`;
}

// Domain paths ---------------------------------------------------------------------------------

export interface DomainLike {
  metadata: { name?: string };
  spec: { displayName?: string; parentRef?: { name: string } };
}

/**
 * A domain's chain from the root down, found through `lookup`; undefined while an ancestor is
 * missing or the parents loop.
 */
export function domainChain<D extends DomainLike>(domain: D, lookup: (name: string) => D | undefined): D[] | undefined {
  const chain = [domain];
  const seen = new Set([domain.metadata.name]);
  let parent = domain.spec.parentRef?.name;
  while (parent !== undefined) {
    if (seen.has(parent)) return undefined;
    seen.add(parent);
    const next = lookup(parent);
    if (!next) return undefined;
    chain.push(next);
    parent = next.spec.parentRef?.name;
  }
  return chain.reverse();
}

/** Domain status.path and the group's suffix: display names from the root, `ROOT/customers/acme`. */
export function domainDisplayPath(chain: readonly DomainLike[]): string {
  return chain.map((d) => d.spec.displayName ?? d.metadata.name ?? '').join('/');
}

/** The domain group's path: object names from the root, `root/customers/acme`. */
export function domainGroupPath(chain: readonly DomainLike[]): string {
  return chain.map((d) => d.metadata.name ?? '').join('/');
}

/** CloudStack's own form, as login's `domain` takes it: `/` for the root, `/customers/acme/` below it. */
export function domainLoginPath(chain: readonly DomainLike[]): string {
  return chain.length <= 1 ? '/' : `/${chain.slice(1).map((d) => d.spec.displayName ?? d.metadata.name ?? '').join('/')}/`;
}
