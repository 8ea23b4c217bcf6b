import { setTimeout as sleep } from 'node:timers/promises';
import { collectionPath, isGone, keyOf, objectKey, ApiError, type KubeClient, type KubeObject, type ObjectKey, type ResourceType } from './kube-client.ts';
import type { Logger } from './log.ts';
import { createStore, type IndexFunc, type MutableStore } from './store.ts';

/**
 * A shared informer: it lists a resource, then watches it from the list's resourceVersion,
 * keeps an indexed cache, and tells its handlers about every change exactly once.
 *
 * - The watch resumes from the last resourceVersion seen (events and bookmarks).
 * - 410 Gone (as a status code or an ERROR event) relists at once; the relist is compared
 *   with the cache, so handlers see only real changes: adds, updates with a new
 *   resourceVersion, and deletes of what vanished meanwhile. Nothing is replayed twice.
 * - Any other failure waits with exponential backoff (0.8 s doubling to 30 s) and retries.
 * - Handlers receive the cached objects themselves (read-only); managedFields are dropped
 *   on arrival to keep memory proportional to what controllers read.
 */
export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface EventHandler<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

export interface Informer<T extends KubeObject = KubeObject> {
  readonly type: ResourceType;
  readonly options: InformerOptions;
  get(key: string | ObjectKey): T | undefined;
  list(namespace?: string): T[];
  byIndex(index: string, value: string): T[];
  addIndex(name: string, fn: IndexFunc<T>): void;
  /** Registers a handler; objects already cached are replayed to it as adds. Returns the remover. */
  addHandler(handler: EventHandler<T>): () => void;
  hasSynced(): boolean;
  waitForSync(signal?: AbortSignal): Promise<void>;
  start(): void;
  stop(): void;
  /** Diagnostics: how many lists and watches were started, and the last resourceVersion. */
  readonly stats: { lists: number; watches: number; resourceVersion: string };
}

interface WatchStatus {
  code?: number;
  reason?: string;
  message?: string;
}

const listPageSize = 500;

/** undici reports "fetch failed" and hides the reason (ECONNREFUSED...) in `cause`. */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

export function createInformer<T extends KubeObject>(client: KubeClient, type: ResourceType, options: InformerOptions, logger: Logger): Informer<T> {
  const log = logger.child({ component: 'informer', resource: `${type.plural}${type.group ? `.${type.group}` : ''}`, namespace: options.namespace });
  const store: MutableStore<T> = createStore<T>();
  const handlers = new Set<EventHandler<T>>();
  const path = collectionPath(type, options.namespace);
  const stats = { lists: 0, watches: 0, resourceVersion: '' };
  let synced = false;
  let syncWaiters: (() => void)[] = [];
  let running: AbortController | undefined;

  function dispatch(fn: (h: EventHandler<T>) => void): void {
    for (const handler of handlers) {
      try {
        fn(handler);
      } catch (err) {
        log.error('event handler failed', { error: String(err) });
      }
    }
  }

  function ingest(obj: T): T {
    delete obj.metadata.managedFields;
    return obj;
  }

  function upsert(obj: T): void {
    const old = store.set(obj);
    if (!old) dispatch((h) => h.onAdd?.(obj));
    else dispatch((h) => h.onUpdate?.(old, obj));
  }

  function remove(obj: T): void {
    const old = store.delete(keyOf(obj));
    if (old) dispatch((h) => h.onDelete?.(obj));
  }

  async function listAll(signal: AbortSignal): Promise<{ items: T[]; resourceVersion: string }> {
    const resource = client.resource<T>(type);
    const base = { namespace: options.namespace, labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, signal };
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion: string;
    try {
      do {
        const page = await resource.list({ ...base, limit: listPageSize, continue: token });
        for (const item of page.items) items.push(item);
        token = page.metadata.continue || undefined;
        resourceVersion = page.metadata.resourceVersion ?? '';
      } while (token);
    } catch (err) {
      // An expired continue token: take the whole list in one response instead.
      if (!isGone(err)) throw err;
      const all = await resource.list(base);
      return { items: all.items, resourceVersion: all.metadata.resourceVersion ?? '' };
    }
    return { items, resourceVersion };
  }

  /** Makes the cache equal to `items`, telling handlers only what changed. */
  function replace(items: T[]): void {
    const fresh = new Set<string>();
    for (const item of items) {
      const obj = ingest(item);
      const key = keyOf(obj);
      fresh.add(key);
      const old = store.get(key);
      if (old?.metadata.resourceVersion !== obj.metadata.resourceVersion) upsert(obj);
    }
    for (const [key, old] of [...store.entries()]) {
      if (!fresh.has(key)) remove(old);
    }
  }

  /** One watch, from stats.resourceVersion until it ends. Resolves on a clean close. */
  function watchOnce(signal: AbortSignal): Promise<{ events: number }> {
    return new Promise((resolve, reject) => {
      let events = 0;
      let ended = false;
      let connection: AbortController | undefined;
      const finish = (err: unknown) => {
        if (ended) return;
        ended = true;
        signal.removeEventListener('abort', onAbort);
        connection?.abort();
        if (err) reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
        else resolve({ events });
      };
      const onAbort = () => finish(null);
      signal.addEventListener('abort', onAbort);
      const query = {
        resourceVersion: stats.resourceVersion,
        allowWatchBookmarks: true,
        // Like client-go: a random 5–10 minute server-side timeout spreads re-watches out.
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
      };
      stats.watches++;
      client
        .watch(
          path,
          query,
          (eventType, object) => {
            if (ended) return;
            if (eventType === 'ERROR') {
              const status = object as WatchStatus;
              finish(new ApiError(status.code ?? 500, status.reason ?? 'WatchError', `watch ${path}: ${status.code ?? ''} ${status.message ?? ''}`, status));
              return;
            }
            const obj = object as T;
            const rv = obj.metadata?.resourceVersion;
            if (rv) stats.resourceVersion = rv;
            events++;
            if (eventType === 'ADDED' || eventType === 'MODIFIED') upsert(ingest(obj));
            else if (eventType === 'DELETED') remove(obj);
          },
          (err) => finish(err),
        )
        .then((c) => {
          connection = c;
          if (ended) c.abort();
        }, finish);
    });
  }

  async function run(signal: AbortSignal): Promise<void> {
    let needList = true;
    let delay = 800;
    const backoff = async (err: unknown) => {
      log.warn('watch failed, retrying', { error: describeError(err), retryInMs: Math.round(delay) });
      await sleep(delay * (1 + Math.random()), undefined, { signal }).catch(() => undefined);
      delay = Math.min(delay * 2, 30_000);
    };
    while (!signal.aborted) {
      if (needList) {
        try {
          stats.lists++;
          const { items, resourceVersion } = await listAll(signal);
          replace(items);
          stats.resourceVersion = resourceVersion;
          needList = false;
          delay = 800;
          if (!synced) {
            synced = true;
            for (const resolve of syncWaiters) resolve();
            syncWaiters = [];
            log.debug('synced', { objects: store.size, resourceVersion });
          }
        } catch (err) {
          if (signal.aborted) return;
          await backoff(err);
          continue;
        }
      }
      const started = performance.now();
      try {
        const { events } = await watchOnce(signal);
        if (events > 0) delay = 800;
        // A watch that closes at once without events would spin; treat it as a failure.
        else if (performance.now() - started < 1000 && !signal.aborted) await backoff(new Error('watch closed immediately'));
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof Error && err.name === 'TimeoutError') {
          log.debug('watch went silent, resuming', { resourceVersion: stats.resourceVersion });
          continue;
        }
        if (isGone(err)) {
          log.info('resourceVersion expired, relisting', { resourceVersion: stats.resourceVersion });
          needList = true;
          continue;
        }
        // HTTP errors (the resource vanished, forbidden...) relist; lost connections resume the watch.
        if (err instanceof ApiError || typeof (err as { statusCode?: unknown }).statusCode === 'number') needList = true;
        await backoff(err);
      }
    }
  }

  const key = (k: string | ObjectKey) => (typeof k === 'string' ? k : objectKey(k));

  return {
    type,
    options,
    get: (k) => store.get(key(k)),
    list: (namespace) => (namespace === undefined ? store.list() : store.byIndex('namespace', namespace)),
    byIndex: (index, value) => store.byIndex(index, value),
    addIndex: (name, fn) => store.addIndex(name, fn),
    addHandler(handler) {
      handlers.add(handler);
      for (const obj of store.list()) {
        try {
          handler.onAdd?.(obj);
        } catch (err) {
          log.error('event handler failed', { error: String(err) });
        }
      }
      return () => void handlers.delete(handler);
    },
    hasSynced: () => synced,
    waitForSync(signal) {
      if (synced) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const onAbort = () => reject(new Error(`stopped before ${type.plural} synced`));
        signal?.addEventListener('abort', onAbort, { once: true });
        syncWaiters.push(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    },
    start() {
      if (running) return;
      running = new AbortController();
      const signal = running.signal;
      run(signal).catch((err: unknown) => log.error('informer stopped unexpectedly', { error: String(err) }));
    },
    stop() {
      running?.abort();
      running = undefined;
    },
    stats,
  };
}

/**
 * One informer per (resource, namespace, selectors), shared by every controller and reader
 * in the process, so each resource is listed and watched once.
 */
export interface InformerFactory {
  informer<T extends KubeObject = KubeObject>(type: ResourceType, options?: InformerOptions): Informer<T>;
  all(): Informer[];
  start(): void;
  stop(): void;
  hasSynced(): boolean;
}

export function createInformerFactory(client: KubeClient, logger: Logger): InformerFactory {
  const informers = new Map<string, Informer>();
  let started = false;
  return {
    informer<T extends KubeObject>(type: ResourceType, options: InformerOptions = {}) {
      const id = [type.group, type.version, type.plural, options.namespace ?? '', options.labelSelector ?? '', options.fieldSelector ?? ''].join('|');
      let informer = informers.get(id);
      if (!informer) {
        informer = createInformer<KubeObject>(client, type, options, logger);
        informers.set(id, informer);
        if (started) informer.start();
      }
      return informer as unknown as Informer<T>;
    },
    all: () => [...informers.values()],
    start() {
      started = true;
      for (const informer of informers.values()) informer.start();
    },
    stop() {
      started = false;
      for (const informer of informers.values()) informer.stop();
    },
    hasSynced: () => [...informers.values()].every((i) => i.hasSynced()),
  };
}
