import { AsyncJob, type KindInfo, type AsyncJobObject } from '../../crds/index.ts';
import { objectNameFor } from '../../lib/identity.ts';
import { ApiError as KubeApiError, isAlreadyExists, isConflict, type KubeClient, type KubeObject, type ResourceClient, type ResourceType, resourceTypeOf } from '../../lib/kube-client.ts';
import { readingYourWrites } from '../../lib/read-your-writes.ts';
import { GLOBAL_CONFIGURATION, resolveSettings, type Settings } from '../../lib/settings.ts';
import { createInfraCache, type InfraCache, type InformerSource } from '../lists/cache.ts';
import type { Caller } from '../protocol/auth.ts';
import type { Fields } from '../protocol/envelope.ts';
import { entityNotFound, internalError, invalidParameterValue, permissionDenied } from '../protocol/errors.ts';
import type { JobOutcome } from '../protocol/jobs.ts';
import { type CommandContext, jobObjectOutcome } from './define.ts';

/**
 * What the infrastructure commands share: the dependencies they run on (a Kubernetes client
 * acting as the caller, an RBAC check for cached reads, the informers), CloudStack names to
 * object names, Kubernetes refusals to CloudStack errors, and the submission of async jobs.
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

/** The `jobresult` object of a finished job, read from the target as it is now; undefined when it is gone. */
export type JobResultMapper = (job: AsyncJobObject, ctx: CommandContext) => Fields | undefined;

// Annotations of the AsyncJob contract; controllers/async-job.ts reads the same two names.
/** The target's metadata.generation the command wrote: the job completes once the controller has observed it. */
export const TARGET_GENERATION_ANNOTATION = 'ops.kumulus.io/target-generation';
/** The item inside the target the job is about (a traffic type, a provider), for its result. */
export const SUBJECT_ANNOTATION = 'ops.kumulus.io/subject';

export interface Infra {
  readonly deps: InfrastructureDeps;
  readonly cache: InfraCache;
  /** A client for `kind` acting as the caller. */
  resource<T extends KubeObject>(ctx: CommandContext, kind: KindInfo): ResourceClient<T>;
  /** Throws permission denied unless RBAC lets the caller read `kind` (in `namespace`); waits for the caches. */
  mayRead(ctx: CommandContext, kind: KindInfo | ResourceType, namespace?: string): Promise<void>;
  /** Records an async job on `target` as the caller; returns the job id (its uid). */
  submitJob(ctx: CommandContext, job: JobRequest): Promise<string>;
  readonly jobResults: Map<string, JobResultMapper>;
}

export interface JobRequest {
  readonly target: KubeObject & { metadata: { uid?: string; generation?: number } };
  readonly kind: KindInfo;
  /** Success is the target being gone (delete commands). */
  readonly deleted?: boolean;
  readonly subject?: string;
}

export function createInfra(deps: InfrastructureDeps): Infra {
  const cache = createInfraCache(deps.informers);
  const asyncJobs = (ctx: CommandContext) => deps.clientFor(ctx.caller).resource<AsyncJobObject>(resourceTypeOf(AsyncJob));

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

  async function submitJob(ctx: CommandContext, request: JobRequest): Promise<string> {
    const { target } = request;
    const user = cache.users.byUid(ctx.caller.userId)?.metadata.name ?? objectName(ctx.caller.username);
    const annotations: Record<string, string> = { [TARGET_GENERATION_ANNOTATION]: String(target.metadata.generation ?? 1) };
    if (request.subject !== undefined) annotations[SUBJECT_ANNOTATION] = request.subject;
    const job = await asyncJobs(ctx)
      .create({
        apiVersion: AsyncJob.apiVersion,
        kind: AsyncJob.kind,
        metadata: { generateName: 'job-', namespace: accountNamespace(ctx.caller), annotations },
        spec: {
          command: ctx.command,
          userRef: { name: user },
          targetRef: {
            apiVersion: request.kind.apiVersion,
            kind: request.kind.kind,
            name: target.metadata.name ?? '',
            ...(target.metadata.namespace ? { namespace: target.metadata.namespace } : {}),
            ...(target.metadata.uid ? { uid: target.metadata.uid } : {}),
          },
          expectedCondition: request.deleted ? { type: 'Synced', deleted: true } : { type: 'Synced', status: 'True' },
        },
      })
      .catch((err: unknown) => failure(err, ctx, { label: ctx.command.toLowerCase() }));
    const id = job.metadata.uid ?? '';
    // Read-your-writes on this replica: the first queryAsyncJobResult must find the job.
    await untilCached(() => cache.asyncJobs.byUid(id) !== undefined);
    return id;
  }

  const jobResults = new Map<string, JobResultMapper>(deps.jobResults ?? []);
  return {
    deps,
    cache,
    // A CloudStack client lists right after it writes; the lists come from these caches.
    resource: <T extends KubeObject>(ctx: CommandContext, kind: KindInfo) =>
      readingYourWrites(deps.clientFor(ctx.caller).resource<T>(resourceTypeOf(kind)), deps.informers.informer<T>(resourceTypeOf(kind))),
    mayRead,
    submitJob,
    jobResults,
  };
}

/** Waits (briefly) until this replica's cache reflects a write; informers lag the apiserver by milliseconds. */
export async function untilCached(done: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

// Names -----------------------------------------------------------------------------------

/**
 * metadata.name for a CloudStack free-text name (lib/identity.ts, shared with the tenancy
 * commands): a name that already is a DNS-1123 label is kept, so `zone1` is `kubectl get cszone
 * zone1`; any other gets a readable slug plus a hash of the exact text, so `Zone 1` and
 * `zone-1` never meet. Deterministic on every replica; at most 63 characters, because
 * ancestor names become label values.
 */
export function objectName(text: string): string {
  return objectNameFor(text, '');
}

/**
 * Creates an object named after a CloudStack name. CloudStack allows the same name twice where
 * the name is not an identity (two pods named pod1 in two zones, two offerings named Small), so
 * a taken object name moves on to `<name>-2`, `<name>-3`... deterministically.
 */
export async function createNamed<T extends KubeObject>(resource: ResourceClient<T>, base: string, build: (name: string) => T): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const name = attempt === 1 ? base : `${base.slice(0, 60)}-${attempt}`;
    try {
      return await resource.create(build(name));
    } catch (err) {
      if (!isAlreadyExists(err) || attempt >= 20) throw err;
    }
  }
}

/** The name CloudStack shows for an object: spec.displayName, else metadata.name. */
/** The effective global settings, from the cached `global` Configuration. */
export function globalSettings(infra: Infra): Settings {
  return resolveSettings(infra.cache.configurations.byName(GLOBAL_CONFIGURATION)?.spec.settings).settings;
}

export function displayName(obj: { metadata: { name?: string }; spec: { displayName?: string } }): string {
  return obj.spec.displayName ?? obj.metadata.name ?? '';
}

// Errors ----------------------------------------------------------------------------------

export interface Refusal {
  /** The command as parameter errors name it (`createzone`). */
  readonly label: string;
  /** The id the command was given, for a target that vanished. */
  readonly id?: string;
  /** Object fields to the parameters that set them, where the default rule guesses wrong. */
  readonly params?: Readonly<Record<string, string>>;
}

interface KubeStatus {
  message?: string;
  reason?: string;
  details?: { causes?: { field?: string; message?: string }[] };
}

/**
 * The CloudStack parameter behind an object field: an explicit mapping, else `spec.zoneRef.name`
 * → `zoneid` and `spec.startIp` → `startip` (CloudStack's names are the fields, lower-cased).
 */
export function parameterOf(field: string, params: Readonly<Record<string, string>> = {}): string {
  const plain = field.replace(/^\./, '');
  for (let candidate = plain; candidate !== ''; candidate = candidate.replace(/(\[[^\]]*\]|\.[^.[]*)$/, '')) {
    const mapped = params[candidate];
    if (mapped !== undefined) return mapped;
    if (!/[.[]/.test(candidate)) break;
  }
  const ref = /^spec\.(\w+)Ref\.name$/.exec(plain);
  if (ref) return `${ref[1]!.toLowerCase()}id`;
  const simple = /^spec\.(\w+)$/.exec(plain);
  if (simple) return simple[1]!.toLowerCase();
  return plain;
}

const VALUE_PREFIX = /^(?:Invalid value|Unsupported value|Required value|Duplicate value|Forbidden|Too many|Too long)(?:: (?:"(?:[^"\\]|\\.)*"|[^:]+))?: /;

/** The problems in an apiserver refusal, each as `parameter: message`, the same words the webhook or CEL used. */
export function refusalProblems(status: KubeStatus, params?: Readonly<Record<string, string>>): string[] {
  const causes = status.details?.causes?.filter((c) => c.message) ?? [];
  if (causes.length > 0) {
    return causes.map((c) => {
      const message = (c.message ?? '').replace(VALUE_PREFIX, '');
      // A rule over the whole spec (immutability) names no parameter.
      return c.field && c.field !== 'spec' ? `${parameterOf(c.field, params)}: ${message}` : message;
    });
  }
  const message = (status.message ?? '').replace(/^admission webhook "[^"]*" denied the request: /, '');
  return [message];
}

/** Throws the CloudStack error for a failed Kubernetes call. */
export function failure(err: unknown, ctx: CommandContext, refusal: Refusal): never {
  if (!(err instanceof KubeApiError)) throw err;
  const status = (err.status ?? {}) as KubeStatus;
  if (err.code === 403) {
    throw permissionDenied(`Account ${ctx.caller.accountName} does not have permission for ${ctx.command}: ${status.message ?? err.message}`);
  }
  if (err.code === 404) throw entityNotFound(refusal.label, 'id', refusal.id ?? '');
  // A uid precondition that no longer holds: the object of that name is another one now.
  if (err.code === 409 && err.reason === 'Conflict' && /precondition/i.test(err.message)) throw entityNotFound(refusal.label, 'id', refusal.id ?? '');
  if (err.code === 422 || err.code === 400 || (err.code === 409 && !isConflict(err) && !isAlreadyExists(err))) {
    const problems = refusalProblems(status, refusal.params).filter((problem) => problem !== '');
    throw invalidParameterValue(problems.length > 0 ? problems.join('; ') : err.message);
  }
  ctx.log.error('kubernetes call failed', { error: err.message });
  throw internalError(err.message);
}

// Jobs ------------------------------------------------------------------------------------

/** What queryAsyncJobResult reports for a job: pending, or the outcome the controller recorded. */
export function jobOutcome(job: AsyncJobObject, ctx: CommandContext, results: ReadonlyMap<string, JobResultMapper>): JobOutcome | undefined {
  const status = job.status;
  if (status?.jobStatus === 2) {
    const result = status.result as { errorcode?: unknown; errortext?: unknown } | undefined;
    return {
      kind: 'failure',
      errorCode: typeof result?.errorcode === 'number' ? result.errorcode : (status.resultCode ?? 530),
      errorText: typeof result?.errortext === 'string' ? result.errortext : 'the job failed',
    };
  }
  if (status?.jobStatus !== 1) return undefined;
  const command = ctx.table.get(job.spec.command);
  if (command?.catalogue.response.kind !== 'object') return { kind: 'success' };
  const fields = results.get(job.spec.command)?.(job, ctx);
  if (fields === undefined) return { kind: 'success', details: `${job.spec.targetRef.kind} ${job.spec.targetRef.name} no longer exists` };
  return jobObjectOutcome(command, fields);
}
