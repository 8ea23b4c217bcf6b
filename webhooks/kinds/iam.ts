import { Account, Domain, User, type AccountObject, type DomainObject, type UserObject } from '../../crds/index.ts';
import { ROOT_DOMAIN } from '../../lib/bootstrap-admin.ts';
import { ACCOUNT_GROUP_PREFIX, DOMAIN_GROUP_PREFIX, domainChain, domainGroupPath } from '../../lib/identity.ts';
import type { KubeObject } from '../../lib/kube-client.ts';
import type { AdmissionRequest, FieldError, KindAdmission } from '../admission.ts';
import type { Lookup } from '../lookup.ts';
import { defaultDisplayName, kindAdmission, refChanged, resolveRef, whenChanged, type Admitted, type Rule, type RuleContext } from './rules.ts';

/**
 * Admission of iam.kumulus.io: the tenancy tree hangs together (parents exist), an account owns
 * its namespace alone, a username is unique within its domain, as CloudStack requires, and a
 * domain administrator creates domains, accounts and users only in its own subtree.
 */

type DomainAdmitted = Admitted<DomainObject>;
type AccountAdmitted = Admitted<AccountObject>;
type UserAdmitted = Admitted<UserObject>;

/** Namespaces no tenant may own: Kubernetes' own, and Kumulus' (kube-* too). */
const PLATFORM_NAMESPACES = new Set(['default', 'kumulus-system', 'kumulus-public']);

/** CloudStack never deletes ROOT: every domain, account and the bootstrap admin hang from it. */
function refuseRootDeletion(request: AdmissionRequest<DomainAdmitted>): FieldError[] {
  if (request.name !== ROOT_DOMAIN) return [];
  return [{ field: 'metadata.name', message: `${ROOT_DOMAIN} is the ROOT domain, which holds every other domain and the admin account; it cannot be deleted (delete the domains under it instead)` }];
}

/**
 * The subtree (a domain group path) a CloudStack caller may place tenancy objects in: its
 * account's domain. Undefined for a caller without a Kumulus account group (a platform
 * administrator, a controller) and for an Admin account (the root administrator, whatever its
 * domain): they are not limited. RBAC cannot limit `create` by name, so this is what keeps a
 * domain administrator that talks to Kubernetes directly inside its domain.
 */
function administeredSubtree(ctx: RuleContext<KubeObject>): string | undefined {
  const accountName = ctx.requester.groups.find((g) => g.startsWith(ACCOUNT_GROUP_PREFIX))?.slice(ACCOUNT_GROUP_PREFIX.length);
  if (accountName === undefined) return undefined;
  const account = ctx.lookup.list<AccountAdmitted>(Account).find((a) => a.metadata.name === accountName);
  if (account?.spec.accountType === 'Admin') return undefined;
  return ctx.requester.groups.find((g) => g.startsWith(DOMAIN_GROUP_PREFIX))?.slice(DOMAIN_GROUP_PREFIX.length) ?? '';
}

/** Refuses a domain reference outside the requester's subtree; `domainOf` gives the domain the object goes into. */
function withinRequesterDomain<T extends KubeObject>(field: string, domainOf: (object: T, ctx: RuleContext<T>) => string | undefined, refOf: (object: T) => unknown): Rule<T> {
  return (ctx) => {
    if (ctx.operation !== 'CREATE' && !refChanged(ctx, refOf)) return [];
    const subtree = administeredSubtree(ctx);
    const target = domainOf(ctx.object, ctx);
    if (subtree === undefined || target === undefined) return [];
    const domains = new Map(ctx.lookup.list<DomainAdmitted>(Domain).map((d) => [d.metadata.name ?? '', d]));
    const domain = domains.get(target);
    // A missing domain is the reference rule's to report.
    if (!domain) return [];
    const chain = domainChain(domain, (name) => domains.get(name));
    const path = chain ? domainGroupPath(chain) : undefined;
    if (path !== undefined && (path === subtree || path.startsWith(`${subtree}/`))) return [];
    return [{ field, message: `domain ${target} is outside your domain ${subtree}: you administer ${subtree} and its subdomains only; choose a domain there` }];
  };
}

export function domainAdmission(lookup: Lookup): KindAdmission<DomainAdmitted> {
  const admission = kindAdmission<DomainAdmitted>(Domain, lookup, {
    defaults: defaultDisplayName,
    rules: [
      async (ctx) => (await resolveRef(ctx.lookup, Domain, 'spec.parentRef.name', ctx.object.spec.parentRef, refChanged(ctx, (o) => o.spec.parentRef))).errors,
      withinRequesterDomain<DomainAdmitted>('spec.parentRef.name', (d) => d.spec.parentRef?.name ?? ROOT_DOMAIN, (d) => d.spec.parentRef),
      whenChanged((d) => d.spec.resourceLimits, (ctx) => {
        // CloudStack: a domain administrator may not raise the limits of the domain it administers.
        const subtree = administeredSubtree(ctx);
        if (subtree === undefined || subtree.split('/').pop() !== ctx.object.metadata.name) return [];
        return [{ field: 'spec.resourceLimits', message: `domain ${ctx.object.metadata.name} is the one you administer: its resource limits are set by an administrator of its parent domain` }];
      }),
    ],
  });
  const validateChange = admission.validate;
  return {
    ...admission,
    validateOperations: ['CREATE', 'UPDATE', 'DELETE'],
    validate: (request) => (request.operation === 'DELETE' ? refuseRootDeletion(request) : (validateChange?.(request) ?? [])),
  };
}

export function accountAdmission(lookup: Lookup): KindAdmission<AccountAdmitted> {
  return kindAdmission<AccountAdmitted>(Account, lookup, {
    defaults: defaultDisplayName,
    rules: [
      async (ctx) => (await resolveRef(ctx.lookup, Domain, 'spec.domainRef.name', ctx.object.spec.domainRef, refChanged(ctx, (o) => o.spec.domainRef))).errors,
      withinRequesterDomain<AccountAdmitted>('spec.domainRef.name', (a) => a.spec.domainRef.name, (a) => a.spec.domainRef),
      (ctx) => {
        // An Admin account is a root administrator: granting it would lift the limit itself.
        const wasAdmin = ctx.operation !== 'CREATE' && (ctx.oldObject?.spec.accountType ?? 'User') === 'Admin';
        const subtree = administeredSubtree(ctx);
        if (ctx.object.spec.accountType !== 'Admin' || wasAdmin || subtree === undefined) return [];
        return [{ field: 'spec.accountType', message: `Admin makes a root administrator, which only a root administrator may grant; you administer ${subtree}: use DomainAdmin or User` }];
      },
      whenChanged((a) => a.spec.resourceLimits, (ctx) => {
        // CloudStack: an account may not raise its own limits, whoever administers its domain.
        const own = ctx.requester.groups.includes(`${ACCOUNT_GROUP_PREFIX}${ctx.object.metadata.name}`);
        if (!own || administeredSubtree(ctx) === undefined) return [];
        return [{ field: 'spec.resourceLimits', message: `account ${ctx.object.metadata.name} is your own: its resource limits are set by an administrator of its domain or above` }];
      }),
      ({ object, operation }) => {
        const ns = object.spec.namespace;
        if (operation !== 'CREATE' || !(PLATFORM_NAMESPACES.has(ns) || ns.startsWith('kube-'))) return [];
        return [{ field: 'spec.namespace', message: `${ns} belongs to the platform, not to a tenant; give the account a namespace of its own, such as ${object.metadata.name}` }];
      },
      whenChanged((a) => a.spec.namespace, ({ object, lookup }) => {
        const owner = lookup.list<AccountAdmitted>(Account).find((a) => a.metadata.name !== object.metadata.name && a.spec.namespace === object.spec.namespace);
        if (!owner) return [];
        return [{ field: 'spec.namespace', message: `namespace ${object.spec.namespace} already belongs to account ${owner.metadata.name}; give each account a namespace of its own` }];
      }),
    ],
  });
}

export function userAdmission(lookup: Lookup): KindAdmission<UserAdmitted> {
  return kindAdmission<UserAdmitted>(User, lookup, {
    rules: [
      withinRequesterDomain<UserAdmitted>(
        'spec.accountRef.name',
        (u, ctx) => ctx.lookup.list<AccountAdmitted>(Account).find((a) => a.metadata.name === u.spec.accountRef.name)?.spec.domainRef.name,
        (u) => u.spec.accountRef,
      ),
      async (ctx) => {
        const { object, lookup } = ctx;
        const { parent: account, errors } = await resolveRef<AccountAdmitted>(lookup, Account, 'spec.accountRef.name', object.spec.accountRef, refChanged(ctx, (o) => o.spec.accountRef));
        if (!account || !refChanged(ctx, (o) => [o.spec.accountRef, o.spec.username])) return errors;
        const domain = account.spec.domainRef.name;
        const accounts = new Map(lookup.list<AccountAdmitted>(Account).map((a) => [a.metadata.name, a]));
        const clash = lookup
          .list<UserAdmitted>(User)
          .find((u) => u.metadata.name !== object.metadata.name && u.spec.username === object.spec.username && accounts.get(u.spec.accountRef.name)?.spec.domainRef.name === domain);
        if (clash) {
          errors.push({
            field: 'spec.username',
            message: `${object.spec.username} is already taken in domain ${domain} (user ${clash.metadata.name} of account ${clash.spec.accountRef.name}); usernames are unique within a domain: choose another`,
          });
        }
        return errors;
      },
    ],
  });
}

export const iamAdmissions = (lookup: Lookup): KindAdmission[] => [domainAdmission(lookup), accountAdmission(lookup), userAdmission(lookup)] as unknown as KindAdmission[];
