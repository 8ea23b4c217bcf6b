/**
 * The tenancy controllers (Domain, Account, User), registered together because they share one
 * set of informers and indexes: the operator calls `registerTenancyControllers(manager)`.
 * What they keep true: each Account owns its namespace and the RoleBindings that let its
 * group in; each Domain's group may read the catalogue; the shared ClusterRoles exist.
 */
import { Account, Domain, User, type AccountObject, type DomainObject, type UserObject } from '../crds/index.ts';
import { markReady, markSynced, markSyncFailed, type Condition } from '../lib/conditions.ts';
import { LABEL_ACCOUNT, LABEL_USER_UID, SYSTEM_NAMESPACE } from '../lib/identity.ts';
import type { Request, WatchSource } from '../lib/controller.ts';
import type { EventInput } from '../lib/events.ts';
import type { Informer } from '../lib/informer.ts';
import { type KubeClient, type KubeObject, type ResourceClient, type ResourceType, resourceTypeOf } from '../lib/kube-client.ts';
import type { Logger } from '../lib/log.ts';
import type { Manager } from '../lib/manager.ts';
import { byField } from '../lib/store.ts';
import { registerAccountController } from './account.ts';
import { registerDomainController } from './domain.ts';
import { OPERATOR_FIELD_MANAGER } from './infra-context.ts';
import { CLUSTER_ROLES, clusterRoles, ROLE_BINDINGS } from './rbac.ts';
import { registerUserController } from './user.ts';


export const NAMESPACES: ResourceType = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
export const SECRETS: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };

/** Holds a domain while it has child domains or accounts. */
export const DOMAIN_CHILDREN_FINALIZER = 'iam.kumulus.io/children';
/** On RoleBindings a domain administrator gets in other accounts' namespaces: whose grant it is. */
export const LABEL_GRANTED_TO = 'iam.kumulus.io/granted-to';

export const TENANCY_INDEX = {
  parent: 'iam.parent',
  domain: 'iam.domain',
  account: 'iam.account',
  grantedTo: 'iam.granted-to',
} as const;

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
  /** Applies the shared ClusterRoles once per process; every reconcile awaits it. */
  ensureClusterRoles(): Promise<void>;
}

export function createTenancyContext(manager: Manager): TenancyContext {
  const domains = manager.informer<DomainObject>(resourceTypeOf(Domain));
  const accounts = manager.informer<AccountObject>(resourceTypeOf(Account));
  const users = manager.informer<UserObject>(resourceTypeOf(User));
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

/** A watch whose mapping function sees the informer's own object type. */
export function watchOf<S extends KubeObject>(informer: Informer<S>, map: (obj: S) => Request[]): WatchSource {
  return { informer, map: (obj) => map(obj as S) };
}

export interface Readiness {
  ok: boolean;
  reason: string;
  message?: string;
}

type StatusBag = Record<string, unknown> & { observedGeneration?: number; state?: string; conditions?: Condition[] };

function stable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

function ownedStatus(obj: KubeObject & { status?: StatusBag }, fields: readonly string[]): StatusBag {
  const current = obj.status ?? {};
  const out: StatusBag = {};
  for (const key of ['observedGeneration', 'state', ...fields]) if (current[key] !== undefined) out[key] = current[key];
  const conditions = current.conditions?.filter((c) => c.type === 'Ready' || c.type === 'Synced');
  if (conditions?.length) out.conditions = conditions.map((c) => ({ ...c }));
  return out;
}

/**
 * Writes the status the controller owns (state, the given fields, Ready and Synced) by
 * server-side apply, only when it differs from what the object shows.
 */
export async function commitTenancyStatus<T extends KubeObject & { status?: StatusBag }>(
  client: ResourceClient<T>,
  obj: T,
  state: string,
  fields: Record<string, unknown>,
  ready: Readiness,
  signal: AbortSignal,
): Promise<void> {
  const generation = obj.metadata.generation;
  const before = ownedStatus(obj, Object.keys(fields));
  const status: StatusBag = { ...before, observedGeneration: generation, state };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) delete status[key];
    else status[key] = value;
  }
  markReady(status, generation, ready.ok, ready.reason, ready.message ?? '');
  markSynced(status, generation);
  if (stable(status) === stable(before)) return;
  await client.applyStatus({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace }, status } as unknown as Partial<T> & KubeObject, {
    fieldManager: OPERATOR_FIELD_MANAGER,
    force: true,
    signal,
  });
}

/** Says why the last reconcile failed in Synced, keeping the rest of the status. */
export async function commitTenancyFailure<T extends KubeObject & { status?: StatusBag }>(client: ResourceClient<T>, obj: T, error: unknown, signal: AbortSignal): Promise<void> {
  const status = ownedStatus(obj, []);
  markSyncFailed(status, obj.metadata.generation, error);
  await client.applyStatus({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata.name }, status } as unknown as Partial<T> & KubeObject, {
    fieldManager: OPERATOR_FIELD_MANAGER,
    force: true,
    signal,
  });
}

const STATE_REASONS: Readonly<Record<string, string>> = { enabled: 'ENABLE', disabled: 'DISABLE', locked: 'LOCK' };

/**
 * The event for a change of status.state, with CloudStack's event type as the reason
 * (ACCOUNT.CREATE, USER.DISABLE...), so listEvents can serve it; undefined when nothing changed.
 */
export function stateEvent(kind: 'DOMAIN' | 'ACCOUNT' | 'USER', from: string | undefined, to: string): EventInput | undefined {
  if (from === to) return undefined;
  if (from === undefined) return { reason: `${kind}.CREATE`, note: `${kind.toLowerCase()} created, ${to}` };
  const verb = STATE_REASONS[to];
  return verb ? { reason: `${kind}.${verb}`, note: `${kind.toLowerCase()} ${from} → ${to}` } : undefined;
}

/** Registers the Domain, Account and User controllers on the manager; returns the shared context. */
export function registerTenancyControllers(manager: Manager): TenancyContext {
  const ctx = createTenancyContext(manager);
  registerDomainController(manager, ctx);
  registerAccountController(manager, ctx);
  registerUserController(manager, ctx);
  return ctx;
}
