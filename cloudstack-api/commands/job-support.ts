import { AsyncJob, SUBJECT_ANNOTATION, TARGET_GENERATION_ANNOTATION, type AsyncJobObject, type KindInfo } from '../../crds/index.ts';
import type { KubeObject, ResourceClient } from '../../lib/kube-client.ts';
import type { Fields } from '../protocol/envelope.ts';
import type { JobOutcome } from '../protocol/jobs.ts';
import { type CommandContext, jobObjectOutcome } from './define.ts';
import { failure } from './errors.ts';

/**
 * Async jobs (PROTOCOL.md §5) as AsyncJob objects: an async command records one, as the caller,
 * in the caller's namespace, naming its target and what success looks like; the operator's
 * job controller (controllers/async-job.ts) completes it from the target's conditions, so any
 * replica answers queryAsyncJobResult, also after a restart.
 */


/** The `jobresult` object of a finished job, read from the target as it is now; undefined when it is gone. */
export type JobResultMapper = (job: AsyncJobObject, ctx: CommandContext) => Fields | undefined;

export interface JobRequest {
  readonly target: KubeObject & { metadata: { uid?: string; generation?: number } };
  readonly kind: KindInfo;
  /** Success is the target being gone (delete commands). */
  readonly deleted?: boolean;
  /**
   * The condition whose status at the written generation means success; Synced True when absent.
   * failOnFalse: the condition False at that generation fails the job (530) with its message.
   */
  readonly condition?: { readonly type: string; readonly status: 'True' | 'False'; readonly failOnFalse?: boolean };
  /** The status.state the target must also reach (storage maintenance ends in Maintenance, not at its first step). */
  readonly state?: string;
  /** Success is the target carrying these annotations (null: not carrying the key): what tags and details wrote, which no controller observes. */
  readonly annotations?: Readonly<Record<string, string | null>>;
  readonly subject?: string;
}

export interface JobOwner {
  /** The caller's account namespace, where its jobs live. */
  readonly namespace: string;
  /** The caller's User object name. */
  readonly user: string;
}

function expectation(request: JobRequest): AsyncJobObject['spec']['expectedCondition'] {
  if (request.deleted) return { type: 'Synced', deleted: true };
  if (request.annotations !== undefined) {
    const entries = Object.entries(request.annotations);
    const present = entries.filter((e): e is [string, string] => e[1] !== null);
    const absent = entries.filter(([, value]) => value === null).map(([key]) => key);
    return { type: 'Annotations', annotations: Object.fromEntries(present), ...(absent.length > 0 ? { absentAnnotations: absent } : {}) };
  }
  return { ...(request.condition ?? { type: 'Synced', status: 'True' }), ...(request.state !== undefined ? { state: request.state } : {}) };
}

/** Records an async job on `request.target` through `jobs` (a client acting as the caller); returns the job id (its uid). */
export async function submitJob(jobs: ResourceClient<AsyncJobObject>, owner: JobOwner, ctx: CommandContext, request: JobRequest): Promise<string> {
  const { target } = request;
  const annotations: Record<string, string> = { [TARGET_GENERATION_ANNOTATION]: String(target.metadata.generation ?? 1) };
  if (request.subject !== undefined) annotations[SUBJECT_ANNOTATION] = request.subject;
  const job = await jobs
    .create({
      apiVersion: AsyncJob.apiVersion,
      kind: AsyncJob.kind,
      metadata: { generateName: 'job-', namespace: owner.namespace, annotations },
      spec: {
        command: ctx.command,
        userRef: { name: owner.user },
        targetRef: {
          apiVersion: request.kind.apiVersion,
          kind: request.kind.kind,
          name: target.metadata.name ?? '',
          ...(target.metadata.namespace ? { namespace: target.metadata.namespace } : {}),
          ...(target.metadata.uid ? { uid: target.metadata.uid } : {}),
        },
        expectedCondition: expectation(request),
      },
    })
    .catch((err: unknown) => failure(err, ctx, { label: ctx.command.toLowerCase() }));
  return job.metadata.uid ?? '';
}

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
