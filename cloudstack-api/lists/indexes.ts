import type { AccountObject, DomainObject, UserObject } from '../../crds/index.ts';
import type { Informer } from '../../lib/informer.ts';
import type { KubeObject, ResourceType } from '../../lib/kube-client.ts';
import { byField } from '../../lib/store.ts';

/**
 * The indexes the API files its shared informers under, in one place for the list caches
 * (cache.ts) and the tenancy directory (tenancy/directory.ts): both ask the same informers
 * the same questions, so each index exists once per informer, whoever registers it first.
 */

/** Where informers come from: a Manager or an InformerFactory of lib/informer.ts. */
export interface InformerSource {
  informer<T extends KubeObject = KubeObject>(type: ResourceType, options?: { namespace?: string; labelSelector?: string }): Informer<T>;
}

/** Index names, prefixed so they never collide with the controllers' on a shared informer. */
export const INDEX = {
  uid: 'cloudstack-api.uid',
  zone: 'cloudstack-api.zone',
  pod: 'cloudstack-api.pod',
  cluster: 'cloudstack-api.cluster',
  node: 'cloudstack-api.node',
  /** VMs by the host they are placed on (status.placement.host). */
  host: 'cloudstack-api.host',
  namespace: 'cloudstack-api.account-namespace',
  /** Domains by parent, accounts by domain (object names). */
  domain: 'cloudstack-api.domain',
  /** Users by account (object name). */
  account: 'cloudstack-api.account',
  username: 'cloudstack-api.username',
  apiKey: 'cloudstack-api.api-key',
  /** Volumes by their VM, as `namespace/name`. */
  vm: 'cloudstack-api.vm',
  /** Objects by CloudStack name in their namespace, as `namespace/displayName` (instance groups). */
  shownName: 'cloudstack-api.shown-name',
  /** AsyncJobs by the uid of their target (spec.targetRef.uid). */
  target: 'cloudstack-api.target',
} as const;

/** What an index files an object under: one value, or none. */
export type Extract<T> = (obj: T) => string | undefined;

const registered = new WeakMap<object, Set<string>>();

/**
 * Files `informer`'s objects under `name` (and by uid, the CloudStack id, always), once per
 * informer however many command tables or directories are built on it. An index name means
 * one function: the first registration wins.
 */
export function indexed<T extends KubeObject>(informer: Informer<T>, indexes: Readonly<Record<string, Extract<T>>> = {}): Informer<T> {
  let names = registered.get(informer);
  if (!names) registered.set(informer, (names = new Set()));
  for (const [name, extract] of Object.entries({ [INDEX.uid]: (o: T) => o.metadata.uid, ...indexes })) {
    if (names.has(name)) continue;
    informer.addIndex(name, byField(extract));
    names.add(name);
  }
  return informer;
}

/** The object with this uid (CloudStack id). */
export function byUid<T extends KubeObject>(informer: Informer<T>, uid: string): T | undefined {
  return informer.byIndex(INDEX.uid, uid)[0];
}

// The tenancy kinds' indexes, shared by cache.ts and tenancy/directory.ts.
export const DOMAIN_INDEXES: Readonly<Record<string, Extract<DomainObject>>> = { [INDEX.domain]: (d) => d.spec.parentRef?.name };
export const ACCOUNT_INDEXES: Readonly<Record<string, Extract<AccountObject>>> = { [INDEX.namespace]: (a) => a.spec.namespace, [INDEX.domain]: (a) => a.spec.domainRef.name };
export const USER_INDEXES: Readonly<Record<string, Extract<UserObject>>> = { [INDEX.account]: (u) => u.spec.accountRef.name, [INDEX.username]: (u) => u.spec.username };
