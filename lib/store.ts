import { keyOf, type KubeObject } from './kube-client.ts';

/** Maps an object to the values it is filed under in one index (none, one or several). */
export type IndexFunc<T> = (obj: T) => readonly string[];

/**
 * An indexed cache of objects by `namespace/name` key. It holds the very objects the watch
 * decoded (no copies), so callers must treat them as read-only.
 */
export interface Store<T extends KubeObject> {
  get(key: string): T | undefined;
  list(): T[];
  keys(): string[];
  byIndex(index: string, value: string): T[];
  readonly size: number;
}

export interface MutableStore<T extends KubeObject> extends Store<T> {
  set(obj: T): T | undefined;
  delete(key: string): T | undefined;
  addIndex(name: string, fn: IndexFunc<T>): void;
  entries(): IterableIterator<[string, T]>;
}

/** Files objects by namespace ('' for cluster-scoped). */
export const byNamespace: IndexFunc<KubeObject> = (obj) => [obj.metadata.namespace ?? ''];

/** Files objects by the uid of every owner reference. */
export const byOwnerUid: IndexFunc<KubeObject> = (obj) => (obj.metadata.ownerReferences ?? []).map((ref) => ref.uid);

/** Files objects by the value of one label, e.g. `byLabel('kumulus.io/zone')`. */
export function byLabel(label: string): IndexFunc<KubeObject> {
  return (obj) => {
    const value = obj.metadata.labels?.[label];
    return value === undefined ? [] : [value];
  };
}

/** Files objects by a field the caller extracts, e.g. `byField((vm) => vm.spec.hostRef?.name)`. */
export function byField<T extends KubeObject>(extract: (obj: T) => string | undefined): IndexFunc<T> {
  return (obj) => {
    const value = extract(obj);
    return value === undefined ? [] : [value];
  };
}

export const NAMESPACE_INDEX = 'namespace';
export const OWNER_UID_INDEX = 'owner-uid';

interface Index<T> {
  fn: IndexFunc<T>;
  byValue: Map<string, Set<string>>;
  valuesOf: Map<string, readonly string[]>;
}

export function createStore<T extends KubeObject>(): MutableStore<T> {
  const objects = new Map<string, T>();
  const indexes = new Map<string, Index<T>>();

  function unindex(index: Index<T>, key: string): void {
    for (const value of index.valuesOf.get(key) ?? []) {
      const keys = index.byValue.get(value);
      keys?.delete(key);
      if (keys?.size === 0) index.byValue.delete(value);
    }
    index.valuesOf.delete(key);
  }

  function reindex(index: Index<T>, key: string, obj: T): void {
    unindex(index, key);
    const values = index.fn(obj);
    if (values.length === 0) return;
    index.valuesOf.set(key, values);
    for (const value of values) {
      let keys = index.byValue.get(value);
      if (!keys) index.byValue.set(value, (keys = new Set()));
      keys.add(key);
    }
  }

  const store: MutableStore<T> = {
    get: (key) => objects.get(key),
    list: () => [...objects.values()],
    keys: () => [...objects.keys()],
    byIndex(name, value) {
      const index = indexes.get(name);
      if (!index) throw new Error(`no index named "${name}": add it with addIndex before querying (known: ${[...indexes.keys()].join(', ')})`);
      return [...(index.byValue.get(value) ?? [])].map((key) => objects.get(key)!);
    },
    get size() {
      return objects.size;
    },
    set(obj) {
      const key = keyOf(obj);
      const old = objects.get(key);
      objects.set(key, obj);
      for (const index of indexes.values()) reindex(index, key, obj);
      return old;
    },
    delete(key) {
      const old = objects.get(key);
      if (!old) return undefined;
      objects.delete(key);
      for (const index of indexes.values()) unindex(index, key);
      return old;
    },
    addIndex(name, fn) {
      if (indexes.has(name)) throw new Error(`index "${name}" already exists`);
      const index: Index<T> = { fn, byValue: new Map(), valuesOf: new Map() };
      indexes.set(name, index);
      for (const [key, obj] of objects) reindex(index, key, obj);
    },
    entries: () => objects.entries(),
  };
  store.addIndex(NAMESPACE_INDEX, byNamespace);
  store.addIndex(OWNER_UID_INDEX, byOwnerUid);
  return store;
}
