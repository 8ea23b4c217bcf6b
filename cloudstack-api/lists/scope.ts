import type { ResourceType } from '../../lib/kube-client.ts';
import type { ParamSpecs } from '../commands/params.ts';
import type { DomainObject } from '../../crds/index.ts';
import type { Caller } from '../protocol/auth.ts';
import { isRootAdmin } from '../protocol/auth.ts';
import { entityNotFound, invalidParameterValue, permissionDenied } from '../protocol/errors.ts';
import type { InfraCache } from './cache.ts';
import { INDEX } from './indexes.ts';

/**
 * Account scoping of lists (PROTOCOL.md §7): `account`, `domainid`, `isrecursive`, `listall`.
 * An account's resources live in its namespace, so a scope is a set of namespaces, and RBAC
 * (mayList per namespace) decides which of them the caller may read.
 */

export interface ScopeParams {
  readonly account?: string;
  readonly domainid?: string;
  readonly isrecursive?: boolean;
  readonly listall?: boolean;
}

/** The parameters of ScopeParams as a list command declares them (CloudStack's BaseListDomainResourcesCmd and its account). */
export const SCOPE_PARAMS = {
  account: { type: 'string', description: 'list resources by account. Must be used with the domainId parameter.' },
  domainid: { type: 'uuid', description: 'list only resources belonging to the domain specified', entity: 'domain' },
  isrecursive: { type: 'boolean', description: 'defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.' },
  listall: { type: 'boolean', description: 'If set to false, list only resources belonging to the command\'s caller; if set to true - list resources that the caller is authorized to see. Default value is false' },
} as const satisfies ParamSpecs;

/** undefined: every namespace (a caller allowed to list cluster-wide). */
export type Namespaces = ReadonlySet<string> | undefined;

function subtree(cache: InfraCache, root: DomainObject, recursive: boolean): DomainObject[] {
  const out = [root];
  if (!recursive) return out;
  for (let i = 0; i < out.length; i++) out.push(...cache.domains.byIndex(INDEX.domain, out[i]?.metadata.name ?? ''));
  return out;
}

/**
 * The namespaces a list covers. Without listall or a domain, the caller's own account only
 * (plus, for root admins, `extra`: where events of cluster-scoped objects land). With
 * listall, everything the caller may list. A domain (and account) narrows to its accounts'.
 */
export async function scopedNamespaces(
  cache: InfraCache,
  caller: Caller,
  p: ScopeParams,
  resource: ResourceType,
  label: string,
  mayList: (caller: Caller, resource: ResourceType, namespace?: string) => Promise<boolean>,
  extra: readonly string[] = [],
): Promise<Namespaces> {
  const own = cache.accounts.byUid(caller.accountId)?.spec.namespace;
  const check = async (namespaces: string[]): Promise<Set<string>> => {
    const allowed = new Set<string>();
    for (const ns of namespaces) if (await mayList(caller, resource, ns)) allowed.add(ns);
    return allowed;
  };
  if (p.account !== undefined && p.domainid === undefined) throw invalidParameterValue('account must be used with the domainId parameter');
  if (p.domainid !== undefined) {
    const domain = cache.domains.byUid(p.domainid);
    if (!domain) throw entityNotFound(label, 'domainid', p.domainid);
    const domains = subtree(cache, domain, p.isrecursive === true || (p.listall === true && p.account === undefined));
    const accounts = domains.flatMap((d) => cache.accounts.byIndex(INDEX.domain, d.metadata.name ?? ''));
    const chosen = p.account === undefined ? accounts : accounts.filter((a) => (a.spec.displayName ?? a.metadata.name) === p.account);
    if (p.account !== undefined && chosen.length === 0) throw invalidParameterValue(`Unable to find account ${p.account} in domain ${p.domainid}`);
    const namespaces = chosen.map((a) => a.spec.namespace);
    const allowed = await check(namespaces);
    if (namespaces.length > 0 && allowed.size === 0) throw permissionDenied(`Account ${caller.accountName} does not have permission to list resources of domain ${p.domainid}`);
    return allowed;
  }
  if (p.listall === true && (await mayList(caller, resource))) return undefined;
  if (p.listall === true) return check(cache.accounts.list().map((a) => a.spec.namespace));
  return check([...(own === undefined ? [] : [own]), ...(isRootAdmin(caller) ? extra : [])]);
}

/** The caller's domain and its ancestors (by object name): the domains whose dedicated zones and offerings it may use. */
export function domainLine(cache: InfraCache, caller: Caller): Set<string> {
  const line = new Set<string>();
  let domain: DomainObject | undefined = cache.domains.byUid(caller.domainId);
  while (domain && !line.has(domain.metadata.name ?? '')) {
    line.add(domain.metadata.name ?? '');
    domain = domain.spec.parentRef ? cache.domains.byName(domain.spec.parentRef.name) : undefined;
  }
  return line;
}

export function inScope(namespaces: Namespaces, namespace: string | undefined): boolean {
  return namespaces === undefined || (namespace !== undefined && namespaces.has(namespace));
}
