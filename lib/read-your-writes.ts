import type { Informer } from './informer.ts';
import { keyOf, objectKey, type KubeObject, type ResourceClient } from './kube-client.ts';

/**
 * Read-your-writes over an informer cache. A write returns before the watch has brought it
 * into the cache, so a list right after a create or update could show the old state. These
 * helpers wait, bounded, until the cache holds what was written; the watch delivers every
 * version in order, so the written resourceVersion arrives unless a relist folded it away,
 * and the bound covers that case. A write never fails for being slow to appear.
 */

const DEFAULT_TIMEOUT_MS = 2000;

function waitFor<T extends KubeObject>(informer: Informer<T>, done: (cached: T | undefined) => boolean, key: string, timeoutMs: number): Promise<void> {
  if (!informer.hasSynced() || done(informer.get(key))) return Promise.resolve();
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      unsubscribe();
      resolve();
    };
    const check = () => {
      if (done(informer.get(key))) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    const unsubscribe = informer.addHandler({ onAdd: check, onUpdate: check, onDelete: check });
  });
}

/** Resolves once the cache holds `written` (its resourceVersion), or after the bound. */
export function untilCached<T extends KubeObject>(informer: Informer<T>, written: T, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const version = written.metadata.resourceVersion;
  return waitFor(informer, (cached) => cached?.metadata.resourceVersion === version, keyOf(written), timeoutMs);
}

/** Resolves once the cache no longer holds `key` as live: gone, or marked for deletion. */
export function untilDeleting<T extends KubeObject>(informer: Informer<T>, key: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  return waitFor(informer, (cached) => !cached || Boolean(cached.metadata.deletionTimestamp), key, timeoutMs);
}

/** `client` whose writes return only once `informer` reflects them. */
export function readingYourWrites<T extends KubeObject>(client: ResourceClient<T>, informer: Informer<T>): ResourceClient<T> {
  const settled = async (write: Promise<T>) => {
    const written = await write;
    await untilCached(informer, written);
    return written;
  };
  return {
    ...client,
    create: (obj, options) => settled(client.create(obj, options)),
    update: (obj, options) => settled(client.update(obj, options)),
    updateStatus: (obj, options) => settled(client.updateStatus(obj, options)),
    patch: (key, body, type, options) => settled(client.patch(key, body, type, options)),
    patchStatus: (key, body, options) => settled(client.patchStatus(key, body, options)),
    apply: (obj, options) => settled(client.apply(obj, options)),
    applyStatus: (obj, options) => settled(client.applyStatus(obj, options)),
    delete: async (key, options) => {
      await client.delete(key, options);
      await untilDeleting(informer, objectKey(key));
    },
  };
}
