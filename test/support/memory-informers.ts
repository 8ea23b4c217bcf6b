import type { KindInfo } from '../../crds/index.ts';
import type { EventHandler, Informer } from '../../lib/informer.ts';
import { keyOf, type KubeObject, type ResourceType, resourceTypeOf } from '../../lib/kube-client.ts';
import { createStore, type MutableStore } from '../../lib/store.ts';

/**
 * Informers over objects a unit test puts in them, for driving the API's response builders
 * with representative objects without a control plane: the caches the commands read, filled
 * by `put` (which moves the informer's resourceVersion and tells its handlers, as a watch event does). Never
 * started, never reaching an apiserver; the integration tests cover the informers themselves.
 */
export interface MemoryInformers {
  informer<T extends KubeObject = KubeObject>(type: ResourceType): Informer<T>;
  put<T extends KubeObject>(kind: KindInfo | ResourceType, obj: T): T;
}

export function createMemoryInformers(): MemoryInformers {
  const informers = new Map<string, { store: MutableStore<KubeObject>; handlers: Set<EventHandler<KubeObject>>; informer: Informer }>();
  let version = 1;
  const entry = (type: ResourceType) => {
    const id = `${type.group}/${type.plural}`;
    let found = informers.get(id);
    if (!found) {
      const store = createStore<KubeObject>();
      const handlers = new Set<EventHandler<KubeObject>>();
      const stats = { lists: 1, watches: 0, resourceVersion: String(version) };
      const informer: Informer = {
        type,
        options: {},
        get: (key) => store.get(typeof key === 'string' ? key : keyOf({ metadata: key })),
        list: (namespace) => (namespace === undefined ? store.list() : store.byIndex('namespace', namespace)),
        byIndex: (index, value) => store.byIndex(index, value),
        addIndex: (name, fn) => store.addIndex(name, fn),
        addHandler: (handler) => {
          handlers.add(handler);
          for (const obj of store.list()) handler.onAdd?.(obj);
          return () => void handlers.delete(handler);
        },
        hasSynced: () => true,
        waitForSync: () => Promise.resolve(),
        start: () => undefined,
        stop: () => undefined,
        stats,
      };
      informers.set(id, (found = { store, handlers, informer }));
    }
    return found;
  };
  return {
    informer: <T extends KubeObject>(type: ResourceType) => entry(type).informer as unknown as Informer<T>,
    put<T extends KubeObject>(kind: KindInfo | ResourceType, obj: T): T {
      const type = 'namespaced' in kind ? kind : resourceTypeOf(kind);
      const { store, handlers, informer } = entry(type);
      const stored = { ...obj, metadata: { resourceVersion: String(++version), ...obj.metadata } };
      const old = store.set(stored);
      informer.stats.resourceVersion = String(version);
      for (const handler of handlers) {
        if (old) handler.onUpdate?.(old, stored);
        else handler.onAdd?.(stored);
      }
      return stored;
    },
  };
}
