import type { KindInfo } from '../crds/index.ts';
import type { InformerFactory } from '../lib/informer.ts';
import { isNotFound, type KubeClient, type KubeObject, resourceTypeOf } from '../lib/kube-client.ts';

/**
 * How admission rules read other objects. The webhook server backs it with informer caches;
 * the CloudStack API layer can back it with its own, so both doors run the same rules.
 *
 * `get` answers from the cache and confirms a miss with one GET: `kubectl apply -f dir/`
 * creates a parent and its child milliseconds apart, and the child must not be refused because
 * the watch event of its parent is still in flight. Lists come from the cache only.
 */
export interface Lookup {
  get<T extends KubeObject>(kind: KindInfo, name: string, namespace?: string): Promise<T | undefined>;
  /** Cached objects of `kind` whose `spec.<field>.name` is `name`, e.g. the pods of a zone. */
  referencing<T extends KubeObject>(kind: KindInfo, field: string, name: string): T[];
  list<T extends KubeObject>(kind: KindInfo): T[];
  /** Objects of `kind` in `namespace` ('' for a cluster-scoped kind) as the apiserver has them now, not as cached: for a default or a count that must see a write made a moment before. */
  current<T extends KubeObject>(kind: KindInfo, namespace: string): Promise<T[]>;
}

export const REFS_INDEX = 'spec-refs';

/** Files an object under `<field>:<name>` for every top-level `spec.<field>Ref`. */
export function specRefs(obj: KubeObject): string[] {
  const spec = (obj as { spec?: Record<string, unknown> }).spec ?? {};
  const values: string[] = [];
  for (const [field, value] of Object.entries(spec)) {
    const name = field.endsWith('Ref') ? (value as { name?: unknown } | undefined)?.name : undefined;
    if (typeof name === 'string') values.push(`${field}:${name}`);
  }
  return values;
}


const cacheKey = (name: string, namespace?: string) => (namespace ? `${namespace}/${name}` : name);

/** A Lookup over shared informers, one per kind in `kinds`, each indexed by its spec refs. */
export function informerLookup(factory: InformerFactory, client: KubeClient, kinds: readonly KindInfo[]): Lookup {
  const informers = new Map(
    kinds.map((kind) => {
      const informer = factory.informer(resourceTypeOf(kind));
      informer.addIndex(REFS_INDEX, specRefs);
      return [kind.kind, informer] as const;
    }),
  );
  const informerOf = (kind: KindInfo) => {
    const informer = informers.get(kind.kind);
    if (!informer) throw new Error(`admission lookup has no informer for ${kind.kind}: add it to the kinds given to informerLookup`);
    return informer;
  };
  return {
    async get<T extends KubeObject>(kind: KindInfo, name: string, namespace?: string) {
      const cached = informerOf(kind).get(cacheKey(name, namespace));
      if (cached) return cached as T;
      try {
        return await client.resource<T>(resourceTypeOf(kind)).get({ name, namespace });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    referencing: <T extends KubeObject>(kind: KindInfo, field: string, name: string) => informerOf(kind).byIndex(REFS_INDEX, `${field}:${name}`) as T[],
    list: <T extends KubeObject>(kind: KindInfo) => informerOf(kind).list() as T[],
    current: async <T extends KubeObject>(kind: KindInfo, namespace: string) => (await client.resource<T>(resourceTypeOf(kind)).list({ namespace })).items,
  };
}

/** A Lookup over a fixed set of objects: for unit tests, and for checking a batch before writing it. */
export function memoryLookup(objects: readonly KubeObject[]): Lookup {
  const ofKind = (kind: KindInfo) => objects.filter((o) => o.kind === kind.kind && (o.apiVersion === undefined || o.apiVersion === kind.apiVersion));
  return {
    get: <T extends KubeObject>(kind: KindInfo, name: string, namespace?: string) =>
      Promise.resolve(ofKind(kind).find((o) => o.metadata.name === name && (kind.scope === 'Cluster' || o.metadata.namespace === namespace)) as T | undefined),
    referencing: <T extends KubeObject>(kind: KindInfo, field: string, name: string) => ofKind(kind).filter((o) => specRefs(o).includes(`${field}:${name}`)) as T[],
    list: <T extends KubeObject>(kind: KindInfo) => ofKind(kind) as T[],
    current: <T extends KubeObject>(kind: KindInfo, namespace: string) => Promise.resolve(ofKind(kind).filter((o) => (o.metadata.namespace ?? '') === namespace) as T[]),
  };
}
