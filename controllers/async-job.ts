/**
 * AsyncJob: completes the jobs the CloudStack API records for its asynchronous commands, so
 * any API replica can answer `queryAsyncJobResult`, also after a restart. A job names its
 * target and what success looks like; it succeeds once the target's controller has observed
 * the generation the command wrote (the condition at that generation, and the state where one
 * is named), fails when that reconcile failed (Synced False) or the planner found no host
 * (Scheduled False, Unschedulable: 533), succeeds for delete commands once the target is gone
 * and for tags and details once the target carries them (lib/async-job.ts judges).
 * Completed jobs are kept for a day (CloudStack's job.expire.minutes), then deleted.
 */
import { AsyncJob, kinds, type AsyncJobObject } from '../crds/index.ts';
import { jobVerdict, type Target, type Verdict } from '../lib/async-job.ts';
import type { Informer } from '../lib/informer.ts';
import { isNotFound, type KubeObject, resourceTypeOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { commitStatus, type StatusWriter } from '../lib/status.ts';
import { metav1Time } from '../lib/time.ts';

const TARGET_INDEX = 'ops.async-job.target';
const JOB_STATUS: StatusWriter = {
  fieldManager: 'kumulus-operator',
  fields: ['state', 'jobStatus', 'jobProcStatus', 'resultCode', 'resultType', 'result', 'created', 'completed'],
  conditions: [],
};

export interface AsyncJobControllerOptions {
  /** A job still pending after this long fails (CloudStack's job.cancel.threshold.minutes is 60). */
  readonly timeoutMs?: number;
  /** How long a completed job is kept before deletion (job.expire.minutes, 1440). */
  readonly retentionMs?: number;
  readonly now?: () => Date;
}

function targetKey(apiVersion: string, kind: string, namespace: string | undefined, name: string): string {
  return `${apiVersion}/${kind}/${namespace ?? ''}/${name}`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

const failed = (code: number, text: string): Verdict => ({ done: true, code, text });

export function registerAsyncJobController(manager: Manager, options: AsyncJobControllerOptions = {}): void {
  const timeoutMs = options.timeoutMs ?? 60 * 60_000;
  const retentionMs = options.retentionMs ?? 24 * 60 * 60_000;
  const now = options.now ?? (() => new Date());
  const jobs = manager.informer<AsyncJobObject>(resourceTypeOf(AsyncJob));
  jobs.addIndex(TARGET_INDEX, (job) => [targetKey(job.spec.targetRef.apiVersion, job.spec.targetRef.kind, job.spec.targetRef.namespace, job.spec.targetRef.name)]);
  const client = manager.client.resource<AsyncJobObject>(resourceTypeOf(AsyncJob));

  const targets = new Map<string, Informer<Target>>();
  for (const kind of kinds) {
    if (kind.kind === AsyncJob.kind) continue;
    targets.set(`${kind.apiVersion}/${kind.kind}`, manager.informer<Target>(resourceTypeOf(kind)));
  }
  const watches = [...targets.entries()].map(([apiVersionKind, informer]) => ({
    informer: informer,
    map: (obj: KubeObject) =>
      jobs
        .byIndex(TARGET_INDEX, `${apiVersionKind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`)
        .map((job) => ({ namespace: job.metadata.namespace, name: job.metadata.name ?? '' })),
  }));

  manager.addController<AsyncJobObject>({
    name: 'asyncjob',
    for: jobs,
    watches,
    reconcile: async (ctx, request) => {
      const job = jobs.get(request);
      if (!job) return;
      const key = { namespace: job.metadata.namespace, name: job.metadata.name ?? '' };
      const at = now();
      const status = job.status;
      if (status?.jobStatus === 1 || status?.jobStatus === 2) {
        const completed = Date.parse(status.completed ?? job.metadata.creationTimestamp ?? '');
        const left = completed + retentionMs - at.getTime();
        if (left > 0) return { requeueAfter: left };
        await client.delete(key, { preconditions: { uid: job.metadata.uid }, signal: ctx.signal }).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
        return;
      }
      const created = status?.created ?? job.metadata.creationTimestamp ?? at.toISOString();
      const ageMs = at.getTime() - Date.parse(created);
      const ref = job.spec.targetRef;
      const informer = targets.get(`${ref.apiVersion}/${ref.kind}`);
      let verdict = informer ? jobVerdict(job, informer.get({ namespace: ref.namespace, name: ref.name }), ageMs) : failed(530, `unknown target kind ${ref.apiVersion} ${ref.kind}`);
      if (!verdict.done && ageMs >= timeoutMs) verdict = failed(530, `${ref.kind} ${ref.name} did not reach ${job.spec.expectedCondition.deleted ? 'deletion' : job.spec.expectedCondition.type} within ${seconds(timeoutMs)}`);
      const stamp = metav1Time(at);
      if (verdict.done) {
        const ok = verdict.code === 0;
        await commitStatus(
          client,
          job,
          JOB_STATUS,
          {
            state: ok ? 'SUCCEEDED' : 'FAILED',
            fields: {
              jobStatus: ok ? 1 : 2,
              jobProcStatus: 0,
              resultCode: verdict.code,
              resultType: 'object',
              result: ok ? undefined : { errorcode: verdict.code, errortext: verdict.text },
              created,
              completed: stamp,
            },
            conditions: [],
          },
          ctx.signal,
        );
        ctx.log.info('job completed', { command: job.spec.command, result: verdict.code, text: verdict.text });
        return { requeueAfter: retentionMs };
      }
      await commitStatus(client, job, JOB_STATUS, { state: 'IN_PROGRESS', fields: { jobStatus: 0, jobProcStatus: 0, resultType: 'object', created }, conditions: [] }, ctx.signal);
      // Target changes re-queue the job through the watches; this only bounds the wait.
      return { requeueAfter: Math.max(1000, Math.min(timeoutMs - ageMs, 60_000)) };
    },
  });
}
