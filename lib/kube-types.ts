/**
 * What the kube client speaks: plain JSON objects addressed by group/version/plural, their
 * keys and paths, and the client's interfaces. kube-client.ts re-exports all of it.
 */
import type * as k8s from '@kubernetes/client-node';
import type { Identity } from './identity.ts';
import type { KindInfo, ObjectMeta } from '../crds/kind.ts';

// Metadata is typed once, beside the kinds, so a kind's object type is what the cache holds.
export type { ObjectMeta, OwnerReference } from '../crds/kind.ts';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

/** What addresses a resource: `group` is '' for the core group (ConfigMap, Namespace...). */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export interface ObjectKey {
  namespace?: string;
  name: string;
}

/** How the client addresses one of our kinds. */
export function resourceTypeOf(kind: KindInfo): ResourceType {
  return { group: kind.group, version: kind.version, plural: kind.plural, kind: kind.kind, namespaced: kind.scope === 'Namespaced' };
}

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** The cache and work-queue key: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(key: ObjectKey): string {
  return key.namespace ? `${key.namespace}/${key.name}` : key.name;
}

export function parseObjectKey(key: string): ObjectKey {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export function keyOf(obj: KubeObject): string {
  return objectKey({ namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' });
}

/** The collection path; `namespace` undefined on a namespaced type means all namespaces. */
export function collectionPath(type: ResourceType, namespace?: string): string {
  const root = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${root}${ns}/${type.plural}`;
}

export function objectPath(type: ResourceType, key: ObjectKey, subresource?: string): string {
  if (type.namespaced && !key.namespace) throw new Error(`${type.kind} ${key.name}: a namespace is required (${type.kind} is namespaced)`);
  const path = `${collectionPath(type, key.namespace)}/${encodeURIComponent(key.name)}`;
  return subresource ? `${path}/${subresource}` : path;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  signal?: AbortSignal;
}

export interface ObjectList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

export interface WriteOptions {
  fieldManager?: string;
  signal?: AbortSignal;
}

export interface ApplyOptions {
  fieldManager: string;
  force?: boolean;
  signal?: AbortSignal;
}

export type PatchType = 'merge' | 'json' | 'strategic';

export interface ResourceClient<T extends KubeObject> {
  readonly type: ResourceType;
  get(key: ObjectKey, options?: { signal?: AbortSignal }): Promise<T>;
  list(options?: ListOptions): Promise<ObjectList<T>>;
  create(obj: T, options?: WriteOptions): Promise<T>;
  /** PUT with the object's resourceVersion: a stale object fails with 409 Conflict. */
  update(obj: T, options?: WriteOptions): Promise<T>;
  updateStatus(obj: T, options?: WriteOptions): Promise<T>;
  patch(key: ObjectKey, patch: unknown, type?: PatchType, options?: WriteOptions): Promise<T>;
  /** A merge patch of the status subresource, e.g. `{ status: { conditions } }`. */
  patchStatus(key: ObjectKey, patch: unknown, options?: WriteOptions): Promise<T>;
  /** Server-side apply: `obj` holds only the fields this field manager owns. */
  apply(obj: Partial<T> & KubeObject, options: ApplyOptions): Promise<T>;
  applyStatus(obj: Partial<T> & KubeObject, options: ApplyOptions): Promise<T>;
  delete(key: ObjectKey, options?: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'; preconditions?: { uid?: string; resourceVersion?: string }; signal?: AbortSignal }): Promise<void>;
}

export type RequestObserver = (method: string, code: string) => void;

export interface KubeClient {
  readonly kubeConfig: k8s.KubeConfig;
  resource<T extends KubeObject = KubeObject>(type: ResourceType): ResourceClient<T>;
  request<T>(method: k8s.HttpMethod, path: string, options?: RequestOptions): Promise<T>;
  /** A generated client-node API class (CoreV1Api, CoordinationV1Api...) whose requests are counted too. */
  api<A>(apiClass: new (configuration: k8s.Configuration) => A): A;
  /**
   * The same client acting as `identity` (Impersonate-User and one Impersonate-Group header per
   * group): the apiserver authorizes every request as that user, so RBAC decides. Cheap; the
   * derived clients share one keep-alive connection pool.
   */
  as(identity: Identity): KubeClient;
  /** Whom requests are made as, when impersonating. */
  readonly impersonating: Identity | undefined;
  /** Starts a watch through client-node's Watch; resolves once the response headers are in. */
  watch(path: string, query: Record<string, string | number | boolean | undefined>, onEvent: (type: string, object: unknown) => void, onDone: (err: unknown) => void): Promise<AbortController>;
}
