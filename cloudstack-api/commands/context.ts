import { AsyncJob, type AsyncJobObject, type KindInfo } from '../../crds/index.ts';
import { type KubeClient, type KubeObject, type ResourceClient, type ResourceType, resourceTypeOf } from '../../lib/kube-client.ts';
import { readingYourWrites } from '../../lib/read-your-writes.ts';
import { GLOBAL_CONFIGURATION, resolveSettings, type Settings } from '../../lib/settings.ts';
import { createInfraCache, type InfraCache } from '../lists/cache.ts';
import type { InformerSource } from '../lists/indexes.ts';
import type { Caller } from '../protocol/auth.ts';
import { internalError, permissionDenied } from '../protocol/errors.ts';
import type { CommandContext } from './define.ts';
import { type JobRequest, type JobResultMapper, submitJob } from './job-support.ts';
import { objectName } from './names.ts';

/**
 * What every command group runs on: a Kubernetes client acting as the caller (whose writes
 * return once this replica's caches show them), an RBAC check for cached reads, the caches,
 * and the submission of async jobs.
 */

export interface InfrastructureDeps {
  /** A client whose requests reach the apiserver as the caller (impersonation), so RBAC decides every write. */
  readonly clientFor: (caller: Caller) => KubeClient;
  /** Whether RBAC lets the caller list `resource` in `namespace` (cluster-wide when absent): the gate on every cached read. */
  readonly mayList: (caller: Caller, resource: ResourceType, namespace?: string) => Promise<boolean>;
  /** The API's shared informers (a Manager or an InformerFactory); lists are served from them. */
  readonly informers: InformerSource;
  /** Job results of async commands from other groups (VMs, volumes...), by command name. */
  readonly jobResults?: ReadonlyMap<string, JobResultMapper>;
}

export interface Infra {
  readonly deps: InfrastructureDeps;
  readonly cache: InfraCache;
  /** A client for `kind` acting as the caller; its writes return once this replica's cache holds them. */
  resource<T extends KubeObject>(ctx: CommandContext, kind: KindInfo): ResourceClient<T>;
  /** Throws permission denied unless RBAC lets the caller read `kind` (in `namespace`); waits for the caches. */
  mayRead(ctx: CommandContext, kind: KindInfo | ResourceType, namespace?: string): Promise<void>;
  /** Records an async job on `target` as the caller; returns the job id (its uid). */
  submitJob(ctx: CommandContext, job: JobRequest): Promise<string>;
  readonly jobResults: Map<string, JobResultMapper>;
}

export function createInfra(deps: InfrastructureDeps): Infra {
  const cache = createInfraCache(deps.informers);
  // A CloudStack client lists right after it writes; the lists come from these caches.
  const resource = <T extends KubeObject>(ctx: CommandContext, kind: KindInfo): ResourceClient<T> =>
    readingYourWrites(deps.clientFor(ctx.caller).resource<T>(resourceTypeOf(kind)), deps.informers.informer<T>(resourceTypeOf(kind)));

  async function mayRead(ctx: CommandContext, kind: KindInfo | ResourceType, namespace?: string): Promise<void> {
    const type = 'plural' in kind && 'namespaced' in kind ? kind : resourceTypeOf(kind);
    if (!(await deps.mayList(ctx.caller, type, namespace))) {
      throw permissionDenied(`Account ${ctx.caller.accountName} does not have permission to list ${type.plural}${namespace ? ` in namespace ${namespace}` : ''}`);
    }
    await cache.synced();
  }

  function accountNamespace(caller: Caller): string {
    const account = cache.accounts.byUid(caller.accountId);
    if (!account) throw internalError(`account ${caller.accountName} (${caller.accountId}) has no Account object; its jobs have no namespace to live in`);
    return account.spec.namespace;
  }

  return {
    deps,
    cache,
    resource,
    mayRead,
    // Read-your-writes on this replica: the first queryAsyncJobResult finds the job.
    submitJob: (ctx, request) =>
      submitJob(resource<AsyncJobObject>(ctx, AsyncJob), { namespace: accountNamespace(ctx.caller), user: cache.users.byUid(ctx.caller.userId)?.metadata.name ?? objectName(ctx.caller.username) }, ctx, request),
    jobResults: new Map<string, JobResultMapper>(deps.jobResults ?? []),
  };
}

/** The effective global settings, from the cached `global` Configuration. */
export function globalSettings(infra: Infra): Settings {
  return resolveSettings(infra.cache.configurations.byName(GLOBAL_CONFIGURATION)?.spec.settings).settings;
}
