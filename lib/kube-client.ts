import * as k8s from '@kubernetes/client-node';
import * as http from 'node:http';
import * as https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Identity } from './identity.ts';
import type { KindInfo, ObjectMeta } from '../crds/kind.ts';

/**
 * The one way this project talks to the apiserver: plain JSON objects addressed by
 * group/version/plural, sent through @kubernetes/client-node's HTTP stack (its auth, TLS and
 * undici transport). Responses stay plain JSON (no model classes, no Date conversion), so
 * what a reconciler reads from the cache and what it gets back from a write look the same.
 */

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

function objectPath(type: ResourceType, key: ObjectKey, subresource?: string): string {
  if (type.namespaced && !key.namespace) throw new Error(`${type.kind} ${key.name}: a namespace is required (${type.kind} is namespaced)`);
  const path = `${collectionPath(type, key.namespace)}/${encodeURIComponent(key.name)}`;
  return subresource ? `${path}/${subresource}` : path;
}

/** A failed API call. `code` is the HTTP status; `reason` is the Status reason (Conflict, NotFound...). */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly status: unknown;
  constructor(code: number, reason: string, message: string, status: unknown) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.status = status;
  }
}

function codeOf(err: unknown): number | undefined {
  if (err instanceof ApiError) return err.code;
  if (err instanceof k8s.ApiException) return err.code;
  const code = (err as { statusCode?: unknown; code?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (err: unknown): boolean => codeOf(err) === 404;
export const isConflict = (err: unknown): boolean => codeOf(err) === 409 && (err as ApiError).reason !== 'AlreadyExists';
export const isAlreadyExists = (err: unknown): boolean => err instanceof ApiError && err.reason === 'AlreadyExists';
export const isGone = (err: unknown): boolean => codeOf(err) === 410;

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

const patchContentTypes: Record<PatchType | 'apply', string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

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

/**
 * Wraps the KubeConfig's authentication so that every request shares one undici
 * dispatcher: client-node builds a new Agent (a new TLS connection) per request otherwise.
 */
function sharedDispatcherAuth(kc: k8s.KubeConfig): k8s.SecurityAuthentication {
  let dispatcher: ReturnType<k8s.RequestContext['getDispatcher']>;
  return {
    getName: () => 'kumulus-shared-dispatcher',
    applySecurityAuthentication: async (context: k8s.RequestContext) => {
      await kc.applySecurityAuthentication(context);
      const fresh = context.getDispatcher();
      if (!fresh) return;
      if (dispatcher) {
        context.setDispatcher(dispatcher);
        void fresh.close();
      } else {
        dispatcher = fresh;
      }
    },
  };
}

function countingHttp(observe: RequestObserver | undefined): k8s.HttpLibrary {
  const inner = new k8s.IsomorphicFetchHttpLibrary();
  if (!observe) return inner;
  return {
    send(request) {
      const method = request.getHttpMethod().toString();
      return new k8s.Observable(
          inner
            .send(request)
            .toPromise()
            .then(
              (response) => {
                observe(method, String(response.httpStatusCode));
                return response;
              },
              (err: unknown) => {
                observe(method, '<error>');
                throw err;
              },
            ),
      );
    },
  };
}

async function errorFrom(method: string, path: string, response: k8s.ResponseContext): Promise<ApiError> {
  const text = await response.body.text();
  let status: { reason?: string; message?: string } | undefined;
  try {
    status = JSON.parse(text) as typeof status;
  } catch {
    status = undefined;
  }
  const reason = status?.reason ?? String(response.httpStatusCode);
  const message = `${method} ${path}: ${response.httpStatusCode} ${reason}: ${status?.message ?? text.slice(0, 500)}`;
  return new ApiError(response.httpStatusCode, reason, message, status);
}

/**
 * The transport of impersonating clients. The apiserver reads each group from its own
 * Impersonate-Group header line, and fetch (undici) folds repeated headers into one
 * comma-joined line, which would read as one group named "a, b"; node:http sends an array
 * value as separate lines. The kubeconfig's credentials (client certificate, bearer token,
 * exec plugin) are applied per request, as for the main client.
 */
function impersonatingHttp(kc: k8s.KubeConfig, identity: Identity, pool: { http: http.Agent; https: https.Agent }, observe: RequestObserver | undefined): k8s.HttpLibrary {
  return {
    send(request) {
      const method = request.getHttpMethod().toString();
      const sent = (async () => {
        const tls: https.RequestOptions = {};
        await kc.applyToHTTPSOptions(tls);
        const url = new URL(request.getUrl());
        const secure = url.protocol === 'https:';
        const headers: http.OutgoingHttpHeaders = { ...(tls.headers as http.OutgoingHttpHeaders | undefined), ...request.getHeaders() };
        headers['Impersonate-User'] = identity.user;
        if (identity.groups.length > 0) headers['Impersonate-Group'] = [...identity.groups];
        const raw = request.getBody();
        if (raw !== undefined && typeof raw !== 'string' && !(raw instanceof URLSearchParams)) {
          throw new Error('an impersonating client sends JSON and form bodies only, not multipart');
        }
        const body = raw === undefined ? undefined : Buffer.from(raw.toString(), 'utf8');
        // node:http sends a DELETE body neither chunked nor with a length unless told its length.
        if (body !== undefined) headers['Content-Length'] = body.length;
        return new Promise<k8s.ResponseContext>((resolve, reject) => {
          const req = (secure ? https : http).request(
            url,
            {
              method,
              headers,
              agent: secure ? pool.https : pool.http,
              ca: tls.ca,
              cert: tls.cert,
              key: tls.key,
              pfx: tls.pfx,
              passphrase: tls.passphrase,
              servername: tls.servername,
              rejectUnauthorized: tls.rejectUnauthorized,
              auth: tls.auth,
              signal: request.getSignal(),
            },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (chunk: Buffer) => chunks.push(chunk));
              res.on('error', reject);
              res.on('end', () => {
                const data = Buffer.concat(chunks);
                const responseHeaders: Record<string, string> = {};
                for (const [name, value] of Object.entries(res.headers)) {
                  if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
                }
                resolve(new k8s.ResponseContext(res.statusCode ?? 0, responseHeaders, new k8s.SelfDecodingBody(Promise.resolve(data))));
              });
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      })();
      return new k8s.Observable(
        sent.then(
          (response) => {
            observe?.(method, String(response.httpStatusCode));
            return response;
          },
          (err: unknown) => {
            observe?.(method, '<error>');
            throw err;
          },
        ),
      );
    },
  };
}

const noAuthentication: k8s.SecurityAuthentication = {
  getName: () => 'kumulus-impersonating',
  applySecurityAuthentication: () => Promise.resolve(),
};

export interface KubeClientOptions {
  /** Called once per HTTP response (or transport error, code `<error>`), for rest_client_requests_total. */
  observe?: RequestObserver;
  userAgent?: string;
  /** Act as this identity (see KubeClient.as). */
  impersonate?: Identity;
}

export function createKubeClient(kc: k8s.KubeConfig, options: KubeClientOptions = {}): KubeClient {
  return buildKubeClient(kc, options, { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) });
}

function buildKubeClient(kc: k8s.KubeConfig, options: KubeClientOptions, pool: { http: http.Agent; https: https.Agent }): KubeClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster: set current-context, or pass --kubeconfig pointing at a valid file');
  const identity = options.impersonate;
  const auth = identity ? noAuthentication : sharedDispatcherAuth(kc);
  const configuration = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(cluster.server, {}),
    authMethods: { default: auth },
    httpApi: identity ? impersonatingHttp(kc, identity, pool, options.observe) : countingHttp(options.observe),
    middleware: [k8s.setHeaderMiddleware('User-Agent', options.userAgent ?? 'kumulus')],
  });
  const watcher = new k8s.Watch(kc);
  // The apiserver sends a bookmark about once a minute on an idle watch; a longer silence
  // means a dead connection, which the informer then resumes from its resourceVersion.
  // client-node declares the field private but reads it per watch; 30 s would cut idle watches.
  (watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 150_000;

  /**
   * Like client-go, a 429 (or a 5xx with Retry-After) is retried after the delay the
   * apiserver asks for, up to 10 times: it means "not now", e.g. a watch cache initialising.
   */
  async function request<T>(method: k8s.HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const response = await send(method, path, opts);
      const retryAfter = response.headers['retry-after'];
      const retryable = response.httpStatusCode === 429 || (response.httpStatusCode >= 500 && retryAfter !== undefined);
      if (retryable && attempt < 10 && !opts.signal?.aborted) {
        await response.body.text();
        await sleep(Math.min(Number(retryAfter) || 1, 10) * 1000, undefined, { signal: opts.signal }).catch(() => undefined);
        continue;
      }
      if (response.httpStatusCode < 200 || response.httpStatusCode > 299) throw await errorFrom(method, path, response);
      const text = await response.body.text();
      return (text ? JSON.parse(text) : undefined) as T;
    }
  }

  async function send(method: k8s.HttpMethod, path: string, opts: RequestOptions): Promise<k8s.ResponseContext> {
    const context = configuration.baseServer.makeRequestContext(path, method);
    for (const [name, value] of Object.entries(opts.query ?? {})) {
      if (value !== undefined) context.setQueryParam(name, String(value));
    }
    context.setHeaderParam('Accept', 'application/json');
    context.setHeaderParam('User-Agent', options.userAgent ?? 'kumulus');
    if (opts.body !== undefined) {
      context.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
      context.setBody(JSON.stringify(opts.body));
    }
    if (opts.signal) context.setSignal(opts.signal);
    await auth.applySecurityAuthentication(context);
    return configuration.httpApi.send(context).toPromise();
  }

  function resource<T extends KubeObject>(type: ResourceType): ResourceClient<T> {
    const apiVersion = apiVersionOf(type);
    const withType = (obj: KubeObject) => ({ ...obj, apiVersion: obj.apiVersion ?? apiVersion, kind: obj.kind ?? type.kind });
    const keyFrom = (obj: KubeObject): ObjectKey => {
      if (!obj.metadata.name) throw new Error(`${type.kind}: metadata.name is required`);
      return { namespace: obj.metadata.namespace, name: obj.metadata.name };
    };
    const apply = (obj: KubeObject, opts: ApplyOptions, subresource?: string) =>
      request<T>('PATCH', objectPath(type, keyFrom(obj), subresource), {
        body: withType(obj),
        contentType: patchContentTypes.apply,
        query: { fieldManager: opts.fieldManager, force: opts.force ?? true },
        signal: opts.signal,
      });
    return {
      type,
      get: (key, opts) => request<T>('GET', objectPath(type, key), { signal: opts?.signal }),
      list: (opts = {}) =>
        request<ObjectList<T>>('GET', collectionPath(type, opts.namespace), {
          query: {
            labelSelector: opts.labelSelector,
            fieldSelector: opts.fieldSelector,
            limit: opts.limit,
            continue: opts.continue,
            resourceVersion: opts.resourceVersion,
          },
          signal: opts.signal,
        }),
      create: (obj, opts) =>
        request<T>('POST', collectionPath(type, obj.metadata.namespace), {
          body: withType(obj),
          query: { fieldManager: opts?.fieldManager },
          signal: opts?.signal,
        }),
      update: (obj, opts) =>
        request<T>('PUT', objectPath(type, keyFrom(obj)), { body: withType(obj), query: { fieldManager: opts?.fieldManager }, signal: opts?.signal }),
      updateStatus: (obj, opts) =>
        request<T>('PUT', objectPath(type, keyFrom(obj), 'status'), { body: withType(obj), query: { fieldManager: opts?.fieldManager }, signal: opts?.signal }),
      patch: (key, patch, patchType = 'merge', opts) =>
        request<T>('PATCH', objectPath(type, key), { body: patch, contentType: patchContentTypes[patchType], query: { fieldManager: opts?.fieldManager }, signal: opts?.signal }),
      patchStatus: (key, patch, opts) =>
        request<T>('PATCH', objectPath(type, key, 'status'), { body: patch, contentType: patchContentTypes.merge, query: { fieldManager: opts?.fieldManager }, signal: opts?.signal }),
      apply: (obj, opts) => apply(obj, opts),
      applyStatus: (obj, opts) => apply(obj, opts, 'status'),
      delete: async (key, opts) => {
        const body = opts?.propagationPolicy || opts?.preconditions ? { propagationPolicy: opts.propagationPolicy, preconditions: opts.preconditions } : undefined;
        await request<unknown>('DELETE', objectPath(type, key), { body, signal: opts?.signal });
      },
    };
  }

  return {
    kubeConfig: kc,
    resource,
    request,
    api: (apiClass) => new apiClass(configuration),
    as: (as) => buildKubeClient(kc, { ...options, impersonate: as }, pool),
    impersonating: identity,
    watch: async (path, query, onEvent, onDone) => {
      // client-node's Watch carries the kubeconfig's own credentials: it must never run on a caller's behalf.
      if (identity) throw new Error(`a watch cannot be impersonated (as ${identity.user}); read the shared informers after an access review instead`);
      let failed: unknown;
      const controller = await watcher.watch(path, query, onEvent, (err: unknown) => {
        failed ??= err ?? null;
        onDone(err);
      });
      // client-node's Watch reports only failures through `done`; a live stream is a 200.
      const code = codeOf(failed);
      options.observe?.('GET', failed === undefined || failed === null ? '200' : code !== undefined ? String(code) : '<error>');
      return controller;
    },
  };
}

/**
 * client-go's RetryOnConflict: runs `fn` again (with a fresh read inside it) when it fails
 * with 409 Conflict, up to `steps` times with a short jittered pause.
 */
export async function retryOnConflict<R>(fn: () => Promise<R>, steps = 5, pauseMs = 10): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isConflict(err) || attempt >= steps) throw err;
      await new Promise((resolve) => setTimeout(resolve, pauseMs * (1 + Math.random() * 0.1)));
    }
  }
}
