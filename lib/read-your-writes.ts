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

/**
 * Resolves once `done()` holds for what `informer` caches, or after the bound. It is asked
 * now and after every change the informer applies: no polling.
 */
export function untilObserved<T extends KubeObject>(informer: Informer<T>, done: () => boolean, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  if (!informer.hasSynced() || done()) return Promise.resolve();
  return new Promise((resolve) => {
    let finished = false;
    const handler: { remove?: () => void } = {};
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      handler.remove?.();
      resolve();
    };
    const check = () => {
      if (!finished && done()) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    // addHandler replays the cache synchronously; a finish during the replay unsubscribes here.
    handler.remove = informer.addHandler({ onAdd: check, onUpdate: check, onDelete: check });
    if (finished) handler.remove();
  });
}

/** Resolves once the cache holds `written` (its resourceVersion), or after the bound. */
export function untilCached<T extends KubeObject>(informer: Informer<T>, written: T, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const version = written.metadata.resourceVersion;
  const key = keyOf(written);
  return untilObserved(informer, () => informer.get(key)?.metadata.resourceVersion === version, timeoutMs);
}

/** Resolves once the cache no longer holds `key` as live: gone, or marked for deletion. */
export function untilDeleting<T extends KubeObject>(informer: Informer<T>, key: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  return untilObserved(
    informer,
    () => {
      const cached = informer.get(key);
      return !cached || Boolean(cached.metadata.deletionTimestamp);
    },
    timeoutMs,
  );
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
