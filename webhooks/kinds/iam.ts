import { Account, Domain, User, type AccountObject, type DomainObject, type UserObject } from '../../crds/index.ts';
import { ROOT_DOMAIN } from '../../lib/bootstrap-admin.ts';
import type { AdmissionRequest, FieldError, KindAdmission } from '../admission.ts';
import type { Lookup } from '../lookup.ts';
import { defaultDisplayName, kindAdmission, refChanged, resolveRef, whenChanged, type Admitted } from './rules.ts';

/**
 * Admission of iam.kumulus.io: the tenancy tree hangs together (parents exist), an account owns
 * its namespace alone, and a username is unique within its domain, as CloudStack requires.
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

export function domainAdmission(lookup: Lookup): KindAdmission<DomainAdmitted> {
  const admission = kindAdmission<DomainAdmitted>(Domain, lookup, {
    defaults: defaultDisplayName,
    rules: [async (ctx) => (await resolveRef(ctx.lookup, Domain, 'spec.parentRef.name', ctx.object.spec.parentRef, refChanged(ctx, (o) => o.spec.parentRef))).errors],
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
