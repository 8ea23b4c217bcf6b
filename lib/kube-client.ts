/**
 * The one way this project talks to the apiserver: plain JSON objects addressed by
 * group/version/plural, sent through @kubernetes/client-node's HTTP stack (its auth, TLS and
 * undici transport). Responses stay plain JSON (no model classes, no Date conversion), so
 * what a reconciler reads from the cache and what it gets back from a write look the same.
 * Callers import everything from here: the types (kube-types.ts), the errors
 * (kube-errors.ts) and the client; the transport (kube-transport.ts) is internal.
 */
import * as k8s from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Identity } from './identity.ts';
import { codeOf, errorFrom } from './kube-errors.ts';
import { countingHttp, impersonatingHttp, impersonationPool, noAuthentication, sharedDispatcherAuth, watchWithIdleTimeout } from './kube-transport.ts';
import {
  apiVersionOf,
  collectionPath,
  objectPath,
  type ApplyOptions,
  type KubeClient,
  type KubeObject,
  type ObjectKey,
  type ObjectList,
  type PatchType,
  type RequestObserver,
  type RequestOptions,
  type ResourceClient,
  type ResourceType,
} from './kube-types.ts';

export * from './kube-types.ts';
export { ApiError, isAdmissionUnavailable, isAlreadyExists, isConflict, isGone, isNotFound, retryOnConflict, retryWhileAdmissionUnavailable } from './kube-errors.ts';

const patchContentTypes: Record<PatchType | 'apply', string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface KubeClientOptions {
  /** Called once per HTTP response (or transport error, code `<error>`), for rest_client_requests_total. */
  observe?: RequestObserver;
  userAgent?: string;
  /** Act as this identity (see KubeClient.as). */
  impersonate?: Identity;
}

export function createKubeClient(kc: k8s.KubeConfig, options: KubeClientOptions = {}): KubeClient {
  return buildKubeClient(kc, options, impersonationPool());
}

function buildKubeClient(kc: k8s.KubeConfig, options: KubeClientOptions, pool: ReturnType<typeof impersonationPool>): KubeClient {
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
  const watcher = watchWithIdleTimeout(kc, auth);

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
