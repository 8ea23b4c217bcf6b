import { AsyncJob, type AsyncJobObject } from '../../crds/index.ts';
import { keywordMatches } from '../lists/filters.ts';
import { inScope, SCOPE_PARAMS, scopedNamespaces } from '../lists/scope.ts';
import { entityNotFound } from '../protocol/errors.ts';
import { asyncJobFields, type AsyncJobView } from '../protocol/jobs.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { untilObserved } from '../../lib/read-your-writes.ts';
import type { Infra } from './context.ts';
import { jobOutcome } from './job-support.ts';
import { resourceTypeOf } from '../../lib/kube-client.ts';
import { jobVerdict } from '../../lib/async-job.ts';

/**
 * queryAsyncJobResult and listAsyncJobs (PROTOCOL.md §5), answered from AsyncJob objects, so
 * any replica answers, also after a restart: the controller records completion in the job's
 * status, and `jobresult` is the target object as it is now, under the command's object name.
 */

function view(infra: Infra, job: AsyncJobObject, ctx: CommandContext): AsyncJobView {
  const { cache } = infra;
  const user = cache.users.byName(job.spec.userRef.name);
  const account = user ? cache.accounts.byName(user.spec.accountRef.name) : undefined;
  const domain = account ? cache.domains.byName(account.spec.domainRef.name) : undefined;
  const created = job.status?.created ?? job.metadata.creationTimestamp;
  const outcome = jobOutcome(job, ctx, infra.jobResults);
  return {
    jobid: job.metadata.uid ?? '',
    ...(outcome ? { outcome } : {}),
    cmd: job.spec.command,
    instanceType: job.spec.targetRef.kind,
    instanceId: job.spec.targetRef.uid,
    created: created === undefined ? new Date(0) : new Date(created),
    ...(job.status?.completed !== undefined ? { completed: new Date(job.status.completed) } : {}),
    userid: user?.metadata.uid ?? '',
    accountid: account?.metadata.uid ?? '',
    account: account ? (account.spec.displayName ?? account.metadata.name ?? '') : '',
    domainid: domain?.metadata.uid ?? '',
    domainpath: domain?.status?.path ?? '',
  };
}

export function jobCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const jobsType = resourceTypeOf(AsyncJob);

  /**
   * Read-your-writes for a finished job: the operator completed it from its own cache of the
   * target, and this replica's cache of the target may lag. A client that sees the job succeed
   * acts on the target next (deleteStoragePool after enableStorageMaintenance), so the answer
   * waits, bounded, until this cache reaches the same verdict.
   */
  async function targetCaughtUp(job: AsyncJobObject): Promise<void> {
    if (job.status?.jobStatus !== 1) return;
    const ref = job.spec.targetRef;
    const target = cache.ofKind(ref.apiVersion, ref.kind);
    if (!target) return;
    const age = Date.parse(job.status.completed ?? '') - Date.parse(job.status.created ?? job.metadata.creationTimestamp ?? '');
    const holds = () => jobVerdict(job, target.byName(ref.name, ref.namespace), Number.isNaN(age) ? 0 : age).code === 0;
    await untilObserved(target.informer, holds);
  }

  const queryAsyncJobResult = defineCommand({
    name: 'queryAsyncJobResult',
    kind: 'flat',
    description: 'Retrieves the current status of asynchronous job.',
    params: { jobid: { type: 'uuid', description: 'the ID of the asynchronous job', required: true, entity: 'asyncjobs' } },
    async handle(p, ctx) {
      await cache.synced();
      // Another replica may have just created the job: give this cache a moment to see it.
      await untilObserved(cache.asyncJobs.informer, () => cache.asyncJobs.byUid(p.jobid) !== undefined);
      const job = cache.asyncJobs.byUid(p.jobid);
      if (!job) throw entityNotFound('queryasyncjobresult', 'jobid', p.jobid);
      await infra.mayRead(ctx, AsyncJob, job.metadata.namespace);
      await targetCaughtUp(job);
      return job;
    },
    map: (job, ctx) => asyncJobFields(view(infra, job, ctx)),
  });

  const listAsyncJobs = defineCommand({
    name: 'listAsyncJobs',
    kind: 'list',
    description: 'Lists all pending asynchronous jobs for the account.',
    params: {
      startdate: { type: 'date', withTime: true, description: 'The start date of the async job (use format "yyyy-MM-dd\'T\'HH:mm:ss\'+\'SSSS")' },
      keyword: { type: 'string', description: 'List by keyword' },
      ...SCOPE_PARAMS,
      resourceid: { type: 'string', description: 'the id of the resource' },
      resourcetype: { type: 'string', description: 'the type of the resource' },
    },
    async handle(p, ctx) {
      await cache.synced();
      const namespaces = await scopedNamespaces(cache, ctx.caller, p, jobsType, 'listasyncjobs', infra.deps.mayList);
      const start = p.startdate?.getTime();
      return cache.asyncJobs
        .list()
        .filter(
          (job) =>
            inScope(namespaces, job.metadata.namespace) &&
            keywordMatches(p.keyword, job.spec.command) &&
            (start === undefined || Date.parse(job.metadata.creationTimestamp ?? '') >= start) &&
            (p.resourceid === undefined || p.resourceid === job.spec.targetRef.uid) &&
            (p.resourcetype === undefined || p.resourcetype.toLowerCase() === job.spec.targetRef.kind.toLowerCase()),
        )
        .sort((a, b) => Date.parse(b.metadata.creationTimestamp ?? '') - Date.parse(a.metadata.creationTimestamp ?? ''));
    },
    mapItem: (job, ctx) => asyncJobFields(view(infra, job, ctx)),
  });

  return [queryAsyncJobResult, listAsyncJobs];
}
