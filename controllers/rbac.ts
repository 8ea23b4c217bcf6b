/**
 * The RBAC that keeps tenants apart, rendered in one place: the shared ClusterRoles (applied
 * at operator start; the Helm chart will carry the same objects) and the per-tenant roles and
 * bindings the tenancy controllers keep in sync. Kubernetes then decides every request the
 * CloudStack API makes as a caller; no code of ours re-implements these rules.
 */
import { COMPUTE_GROUP, IAM_GROUP, INFRA_GROUP, kinds, NETWORK_GROUP, OPS_GROUP } from '../crds/index.ts';
import type { KubeObject, OwnerReference, ResourceType } from '../lib/kube-client.ts';

export const CLUSTER_ROLES: ResourceType = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false };
export const CLUSTER_ROLE_BINDINGS: ResourceType = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false };
export const ROLE_BINDINGS: ResourceType = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true };

/** Full rights on the tenant kinds, in the namespaces it is bound in. */
export const TENANT_ROLE = 'kumulus-tenant';
/** Everything Kumulus, everywhere: the root administrator. */
export const ADMIN_ROLE = 'kumulus-admin';
/** Reading what every CloudStack user may list: zones and offerings (cluster-scoped kinds only, so a ClusterRoleBinding to it grants nothing namespaced). */
export const CATALOG_ROLE = 'kumulus-catalog';
/** Reading public templates; bound in the public namespace only. */
export const PUBLIC_READER_ROLE = 'kumulus-public-reader';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface Subject {
  kind: 'Group' | 'User';
  apiGroup: 'rbac.authorization.k8s.io';
  name: string;
}

export interface ClusterRoleObject extends KubeObject {
  rules: PolicyRule[];
}

export interface BindingObject extends KubeObject {
  subjects: Subject[];
  roleRef: { apiGroup: 'rbac.authorization.k8s.io'; kind: 'ClusterRole'; name: string };
}

const READ = ['get', 'list', 'watch'];
const WRITE = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
const TENANT_GROUPS = new Set([COMPUTE_GROUP, NETWORK_GROUP, OPS_GROUP]);
const CATALOG_KINDS = new Set(['Zone', 'ServiceOffering', 'DiskOffering', 'NetworkOffering']);

const plurals = (select: (kind: (typeof kinds)[number]) => boolean): string[] => kinds.filter(select).map((k) => k.plural).sort();

function byGroup(select: (kind: (typeof kinds)[number]) => boolean, verbs: string[]): PolicyRule[] {
  const groups = [...new Set(kinds.filter(select).map((k) => k.group))].sort();
  return groups.map((group) => ({ apiGroups: [group], resources: plurals((k) => select(k) && k.group === group), verbs }));
}

export const MANAGED_LABELS = { 'app.kubernetes.io/managed-by': 'kumulus', 'app.kubernetes.io/part-of': 'kumulus' };

/** The shared ClusterRoles, as applied at operator start. */
export function clusterRoles(): ClusterRoleObject[] {
  const role = (name: string, rules: PolicyRule[]): ClusterRoleObject => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name, labels: { ...MANAGED_LABELS } },
    rules,
  });
  return [
    role(TENANT_ROLE, [
      ...byGroup((k) => TENANT_GROUPS.has(k.group) && k.scope === 'Namespaced', WRITE),
      // listEvents reads the events of the tenant's own objects.
      { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: READ },
    ]),
    role(ADMIN_ROLE, [
      { apiGroups: [INFRA_GROUP, COMPUTE_GROUP, NETWORK_GROUP, IAM_GROUP, OPS_GROUP], resources: ['*'], verbs: ['*'] },
      { apiGroups: [''], resources: ['namespaces'], verbs: READ },
      { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: READ },
    ]),
    role(CATALOG_ROLE, byGroup((k) => CATALOG_KINDS.has(k.kind) && k.scope === 'Cluster', READ)),
    role(PUBLIC_READER_ROLE, byGroup((k) => k.kind === 'Template', READ)),
  ];
}

export function groupSubject(name: string): Subject {
  return { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name };
}

export function binding(kind: 'RoleBinding' | 'ClusterRoleBinding', name: string, namespace: string | undefined, role: string, subjects: Subject[], labels: Record<string, string>, owner: OwnerReference): BindingObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}), labels: { ...MANAGED_LABELS, ...labels }, ownerReferences: [owner] },
    subjects,
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
  };
}

/** What an account may read and change among the cluster-scoped tenancy objects, by name. */
export interface SelfScope {
  accounts: string[];
  users: string[];
  domains: string[];
  /** Domain administrators change the accounts, users and domains of their subtree, and create new ones. */
  administers: boolean;
}

/**
 * The per-account ClusterRole over cluster-scoped tenancy objects. An empty resourceNames
 * list would mean "every object", so a rule is left out when it names nothing.
 */
export function selfRules(scope: SelfScope): PolicyRule[] {
  const named = (resource: string, names: string[], verbs: string[]): PolicyRule[] =>
    names.length === 0 ? [] : [{ apiGroups: [IAM_GROUP], resources: [resource], verbs, resourceNames: [...new Set(names)].sort() }];
  const change = ['get', 'update', 'patch'];
  if (!scope.administers) {
    return [...named('accounts', scope.accounts, ['get']), ...named('domains', scope.domains, ['get']), ...named('users', scope.users, change)];
  }
  const manage = [...change, 'delete'];
  return [
    ...named('accounts', scope.accounts, manage),
    ...named('domains', scope.domains, manage),
    ...named('users', scope.users, manage),
    // Creation cannot be limited by name in RBAC; the API checks the parent domain first.
    { apiGroups: [IAM_GROUP], resources: ['accounts', 'users', 'domains'], verbs: ['create'] },
  ];
}
