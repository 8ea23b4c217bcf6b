import { formatApiDate } from './dates.ts';
import type { Fields, ResponseBody } from './envelope.ts';

/**
 * Async job shapes (PROTOCOL.md §5). An async command answers at once with its job id (and the
 * new entity's id for create-type commands); `queryAsyncJobResult` then reports the job flat
 * under its envelope, with `jobresult` holding the object under its object name.
 */

export const JobStatus = { pending: 0, succeeded: 1, failed: 2 } as const;

/** What a finished job produced: the object (under its object name), a success, or a failure. */
export type JobOutcome =
  | { readonly kind: 'object'; readonly name: string; readonly object: Fields }
  | { readonly kind: 'success'; readonly details?: string }
  | { readonly kind: 'failure'; readonly errorCode: number; readonly errorText: string };

export interface AsyncJobView {
  readonly jobid: string;
  /** Absent while the job is pending. */
  readonly outcome?: JobOutcome;
  /** The command that started the job, e.g. `createPhysicalNetwork`. */
  readonly cmd: string;
  readonly instanceType?: string;
  readonly instanceId?: string;
  readonly created: Date;
  readonly completed?: Date;
  readonly userid: string;
  readonly accountid: string;
  readonly account: string;
  readonly domainid: string;
  readonly domainpath: string;
}

/** The immediate answer of an async command: `{"jobid":…}`, or `{"id":…,"jobid":…}` for create-type commands. */
export function jobSubmitted(jobid: string, id?: string): ResponseBody {
  return { kind: 'flat', fields: id === undefined ? { jobid } : { id, jobid } };
}

function jobStatus(outcome: JobOutcome | undefined): number {
  if (outcome === undefined) return JobStatus.pending;
  return outcome.kind === 'failure' ? JobStatus.failed : JobStatus.succeeded;
}

function jobResult(outcome: JobOutcome | undefined): Fields | undefined {
  switch (outcome?.kind) {
    case undefined:
      return undefined;
    case 'object':
      return { [outcome.name]: outcome.object };
    case 'success':
      return { success: true, details: outcome.details };
    case 'failure':
      return { errorcode: outcome.errorCode, errortext: outcome.errorText };
  }
}

/** The flat fields of `queryAsyncJobResult` (and the items of `listAsyncJobs`). */
export function asyncJobFields(job: AsyncJobView): Fields {
  const outcome = job.outcome;
  return {
    jobid: job.jobid,
    jobstatus: jobStatus(outcome),
    jobprocstatus: 0,
    jobresultcode: outcome?.kind === 'failure' ? outcome.errorCode : 0,
    jobresulttype: 'object',
    jobresult: jobResult(outcome),
    jobinstancetype: job.instanceType,
    jobinstanceid: job.instanceId,
    cmd: job.cmd,
    created: formatApiDate(job.created),
    completed: job.completed === undefined ? undefined : formatApiDate(job.completed),
    userid: job.userid,
    accountid: job.accountid,
    account: job.account,
    domainid: job.domainid,
    domainpath: job.domainpath,
  };
}
