import type { KubeObject, ResourceType } from '../../lib/kube-client.ts';
import type { Cached } from '../lists/cache.ts';
import { INDEX } from '../lists/indexes.ts';
import { mustFind } from '../lists/filters.ts';
import { entityNotFound, invalidParameterValue, permissionDenied } from '../protocol/errors.ts';
import type { Infra } from './context.ts';
import type { CommandContext } from './define.ts';
import { displayName } from './names.ts';

/**
 * What the tenant-owned kinds' commands share: whose namespace a new object goes to, and the
 * object an id names if the caller may see it.
 */

/** A job succeeds when the target's Ready condition reports the generation the command wrote. */
export const READY = { type: 'Ready', status: 'True' } as const;

/** The namespace of the caller's account, or of (account, domainid), which RBAC then judges on the write. */
export function ownerNamespace(infra: Infra, ctx: CommandContext, label: string, p: { account?: string; domainid?: string }): string {
  const { cache } = infra;
  if (p.account !== undefined || p.domainid !== undefined) {
    if (p.account === undefined || p.domainid === undefined) throw invalidParameterValue('account and domainid must be given together');
    const domain = mustFind(cache.domains, p.domainid, label, 'domainid');
    const account = cache.accounts.byIndex(INDEX.domain, domain.metadata.name ?? '').find((a) => displayName(a) === p.account);
    if (!account) throw invalidParameterValue(`Unable to find account ${p.account} in domain ${p.domainid}`);
    return account.spec.namespace;
  }
  const own = cache.accounts.byUid(ctx.caller.accountId);
  if (!own) throw permissionDenied(`Account ${ctx.caller.accountName} has no Account object`);
  return own.spec.namespace;
}

/** The object with this id in a namespace the caller may list; otherwise CloudStack's not-found text (no hint that it exists). */
export async function visibleById<T extends KubeObject>(infra: Infra, ctx: CommandContext, cached: Cached<T>, type: ResourceType, label: string, id: string, param = 'id'): Promise<T> {
  await infra.cache.synced();
  const found = cached.byUid(id);
  if (!found || !(await infra.deps.mayList(ctx.caller, type, found.metadata.namespace))) throw entityNotFound(label, param, id);
  return found;
}
