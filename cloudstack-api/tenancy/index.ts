import type { Identity } from '../../lib/identity.ts';
import type { KubeClient, ResourceType } from '../../lib/kube-client.ts';
import type { Authenticator, Caller } from '../protocol/auth.ts';
import { invalidSession } from '../protocol/errors.ts';
import { type AccessCheck, type AccessReviewer, createAccessReviewer } from './access.ts';
import { createKubernetesAuthenticator } from './authenticator.ts';
import type { InformerSource } from '../lists/indexes.ts';
import { createDirectory, type Directory } from './directory.ts';
import { createKubernetesSessionStore, type KubernetesSessionStore } from './session-store.ts';

/**
 * Tenancy for the API, in one object: who callers are (directory, authenticator, sessions)
 * and how the API acts for them. Every write goes through `clientFor(caller)`, which reaches
 * the apiserver as the caller; every cached read is gated by `may`/`mayList`, which ask the
 * apiserver's authorizer about the caller. The privileged `system` client is for the API's
 * own data only (credentials, sessions), never for a caller's reads.
 */
export interface Tenancy {
  readonly directory: Directory;
  readonly auth: Authenticator;
  readonly sessions: KubernetesSessionStore;
  readonly access: AccessReviewer;
  /** The API's own client: credentials and sessions only. */
  readonly system: KubeClient;
  readonly informers: InformerSource;
  identityOf(caller: Caller): Identity;
  /** A client acting as the caller (impersonation): RBAC decides each request. */
  clientFor(caller: Caller): KubeClient;
  /** Whether RBAC lets the caller do this. */
  may(caller: Caller, check: AccessCheck): Promise<boolean>;
  /** Whether RBAC lets the caller list `resource` in `namespace` (cluster-wide when absent): the gate on cached reads. */
  mayList(caller: Caller, resource: ResourceType, namespace?: string): Promise<boolean>;
}

export interface TenancyOptions {
  /** The API's own (service account) client. */
  readonly client: KubeClient;
  /** The API's shared informers. */
  readonly informers: InformerSource;
  /** How long an access review answer is reused (default 5 s). */
  readonly accessTtlMs?: number;
}

export function createTenancy(options: TenancyOptions): Tenancy {
  const directory = createDirectory(options.informers);
  const access = createAccessReviewer(options.client, { ttlMs: options.accessTtlMs });
  const identityOf = (caller: Caller): Identity => {
    const identity = directory.identityOf(caller);
    // The user went away between authentication and now: as good as a dead session.
    if (!identity) throw invalidSession();
    return identity;
  };
  const clients = new Map<string, KubeClient>();
  return {
    directory,
    auth: createKubernetesAuthenticator(directory),
    sessions: createKubernetesSessionStore(options.client, options.informers, directory),
    access,
    system: options.client,
    informers: options.informers,
    identityOf,
    clientFor(caller) {
      const identity = identityOf(caller);
      const key = JSON.stringify(identity);
      let client = clients.get(key);
      if (!client) {
        if (clients.size > 10_000) clients.clear();
        client = options.client.as(identity);
        clients.set(key, client);
      }
      return client;
    },
    may: (caller, check) => access.allowed(identityOf(caller), check),
    mayList: (caller, resource, namespace) => access.allowed(identityOf(caller), { verb: 'list', resource, namespace }),
  };
}

export type { AccessCheck, AccessReviewer } from './access.ts';
export type { Directory } from './directory.ts';
