/**
 * What the tenancy controllers (Domain, Account, User) share: one set of informers and
 * indexes over the tenancy kinds, namespaces, RoleBindings and credential Secrets, the shared
 * ClusterRoles, walks of the domain tree, and their CloudStack event types.
 */
import { Account, Domain, User, type AccountObject, type DomainObject, type UserObject } from '../crds/index.ts';
import { LABEL_ACCOUNT, LABEL_USER_UID, SYSTEM_NAMESPACE } from '../lib/identity.ts';
import type { EventInput, EventRecorder } from '../lib/events.ts';
import type { Informer } from '../lib/informer.ts';
import type { KubeClient, KubeObject, ResourceType } from '../lib/kube-client.ts';
import type { Logger } from '../lib/log.ts';
import type { Manager } from '../lib/manager.ts';
import { byField } from '../lib/store.ts';
import { informerOf, OPERATOR_FIELD_MANAGER } from './infra-context.ts';
import { CLUSTER_ROLES, clusterRoles, ROLE_BINDINGS } from './rbac.ts';


export const NAMESPACES: ResourceType = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
export const SECRETS: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };

export const TENANCY_INDEX = {
  parent: 'iam.parent',
  domain: 'iam.domain',
  account: 'iam.account',
  grantedTo: 'iam.granted-to',
} as const;

/** Holds a domain while it has child domains or accounts. */
export const DOMAIN_CHILDREN_FINALIZER = 'iam.kumulus.io/children';
/** On RoleBindings a domain administrator gets in other accounts' namespaces: whose grant it is. */
export const LABEL_GRANTED_TO = 'iam.kumulus.io/granted-to';

export interface TenancyContext {
  domains: Informer<DomainObject>;
  accounts: Informer<AccountObject>;
  users: Informer<UserObject>;
  namespaces: Informer;
  /** The RoleBindings the controllers made (managed-by=kumulus). */
  roleBindings: Informer;
  /** Credential Secrets in the system namespace. */
  secrets: Informer;
  client: KubeClient;
  events: EventRecorder;
  now(): Date;
  /** Applies the shared ClusterRoles once per process; every reconcile awaits it. */
  ensureClusterRoles(): Promise<void>;
}

export function createTenancyContext(manager: Manager): TenancyContext {
  const domains = informerOf<DomainObject>(manager, Domain);
  const accounts = informerOf<AccountObject>(manager, Account);
  const users = informerOf<UserObject>(manager, User);
  const namespaces = manager.informer(NAMESPACES);
  const roleBindings = manager.informer(ROLE_BINDINGS, { labelSelector: 'app.kubernetes.io/managed-by=kumulus' });
  const secrets = manager.informer(SECRETS, { namespace: SYSTEM_NAMESPACE, labelSelector: LABEL_USER_UID });
  domains.addIndex(TENANCY_INDEX.parent, byField((d: DomainObject) => d.spec.parentRef?.name));
  accounts.addIndex(TENANCY_INDEX.domain, byField((a: AccountObject) => a.spec.domainRef.name));
  users.addIndex(TENANCY_INDEX.account, byField((u: UserObject) => u.spec.accountRef.name));
  roleBindings.addIndex(TENANCY_INDEX.grantedTo, byField((b: KubeObject) => b.metadata.labels?.[LABEL_GRANTED_TO]));
  secrets.addIndex(TENANCY_INDEX.account, byField((s: KubeObject) => s.metadata.labels?.[LABEL_ACCOUNT]));
  let applied: Promise<void> | undefined;
  const client = manager.client;
  return {
    domains,
    accounts,
    users,
    namespaces,
    roleBindings,
    secrets,
    client,
    events: manager.events,
    now: () => new Date(),
    ensureClusterRoles() {
      applied ??= applyClusterRoles(client, manager.logger).catch((err: unknown) => {
        applied = undefined;
        throw err;
      });
      return applied;
    },
  };
}

export async function applyClusterRoles(client: KubeClient, logger: Logger): Promise<void> {
  const roles = client.resource(CLUSTER_ROLES);
  for (const role of clusterRoles()) await roles.apply(role, { fieldManager: OPERATOR_FIELD_MANAGER, force: true });
  logger.info('tenancy cluster roles applied', { roles: clusterRoles().map((r) => r.metadata.name) });
}

/** The domain and every domain below it, by metadata.name. */
export function subtree(ctx: TenancyContext, root: string): string[] {
  const out: string[] = [];
  const queue = [root];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const name = queue.shift();
    if (name === undefined || seen.has(name)) continue;
    seen.add(name);
    out.push(name);
    for (const child of ctx.domains.byIndex(TENANCY_INDEX.parent, name)) queue.push(child.metadata.name ?? '');
  }
  return out;
}

/** The domain's ancestors, nearest first; stops at a missing parent or a cycle. */
export function ancestors(ctx: TenancyContext, name: string): DomainObject[] {
  const out: DomainObject[] = [];
  const seen = new Set([name]);
  let parent = ctx.domains.get(name)?.spec.parentRef?.name;
  while (parent !== undefined && !seen.has(parent)) {
    seen.add(parent);
    const domain = ctx.domains.get(parent);
    if (!domain) break;
    out.push(domain);
    parent = domain.spec.parentRef?.name;
  }
  return out;
}

const STATE_REASONS: Readonly<Record<string, string>> = { enabled: 'ENABLE', disabled: 'DISABLE', locked: 'LOCK' };

/**
 * The events for a change of status.state, with CloudStack's event type as the reason
 * (ACCOUNT.CREATE, USER.DISABLE...), so listEvents can serve them.
 */
export function stateEvents(kind: 'DOMAIN' | 'ACCOUNT' | 'USER'): (from: string | undefined, to: string) => EventInput[] {
  return (from, to) => {
    if (from === to) return [];
    if (from === undefined) return [{ reason: `${kind}.CREATE`, note: `${kind.toLowerCase()} created, ${to}` }];
    const verb = STATE_REASONS[to];
    return verb ? [{ reason: `${kind}.${verb}`, note: `${kind.toLowerCase()} ${from} → ${to}` }] : [];
  };
}
