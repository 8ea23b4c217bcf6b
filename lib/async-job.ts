/**
 * When an AsyncJob is done, judged from its target (crds/ops.ts): one pure function shared by
 * the operator's job controller, which records the verdict, and the CloudStack API, which
 * answers queryAsyncJobResult only once its own cache of the target reaches the same verdict
 * (a client that saw the job succeed then sees the target as the job left it).
 */
import { TARGET_GENERATION_ANNOTATION, type AsyncJobObject } from '../crds/index.ts';
import type { KubeObject } from './kube-client.ts';

/** The Scheduled condition's reason when the planner finds no host for the target. */
export const UNSCHEDULABLE = 'Unschedulable';

/** How long a target may be missing from a cache before the job counts it as deleted (the cache may simply lag). */
const GRACE_MS = 30_000;

export type Target = KubeObject & {
  status?: { state?: string; observedGeneration?: number; conditions?: { type: string; status: string; reason: string; message: string; observedGeneration?: number }[] };
};

export interface Verdict {
  readonly done: boolean;
  readonly code?: number;
  readonly text?: string;
}

const PENDING: Verdict = { done: false };
const SUCCEEDED: Verdict = { done: true, code: 0 };
const failed = (code: number, text: string): Verdict => ({ done: true, code, text });

/** Whether the target carries the annotation values the command wrote, and none of those it removed. */
function annotationsHold(expected: AsyncJobObject['spec']['expectedCondition'], target: Target): boolean {
  const have = target.metadata.annotations ?? {};
  return Object.entries(expected.annotations ?? {}).every(([key, value]) => have[key] === value) && (expected.absentAnnotations ?? []).every((key) => !(key in have));
}

/** What the target says about the job now (pure, so a restarted operator reaches the same verdict). */
export function jobVerdict(job: AsyncJobObject, target: Target | undefined, ageMs: number): Verdict {
  const ref = job.spec.targetRef;
  const expected = job.spec.expectedCondition;
  const same = target !== undefined && (ref.uid === undefined || target.metadata.uid === ref.uid);
  if (expected.deleted) {
    if (!same) return SUCCEEDED;
    const blocked = target.status?.conditions?.find((c) => c.type === 'DeletionBlocked' && c.status === 'True');
    return blocked ? failed(536, `${ref.kind} ${ref.name} cannot be deleted: ${blocked.message}`) : PENDING;
  }
  if (!same) {
    // The target may simply not have reached this process's cache yet.
    return ageMs < GRACE_MS ? PENDING : failed(530, `${ref.kind} ${ref.name} was deleted before the job completed`);
  }
  if (expected.annotations !== undefined || expected.absentAnnotations !== undefined) {
    // The command wrote them before recording the job: only a cache that lags, or a later request, can show otherwise.
    if (annotationsHold(expected, target)) return SUCCEEDED;
    return ageMs < GRACE_MS ? PENDING : failed(530, `${ref.kind} ${ref.name} no longer carries what the command wrote: another request changed it before the job completed`);
  }
  const generation = Number(job.metadata.annotations?.[TARGET_GENERATION_ANNOTATION] ?? '1');
  const conditions = target.status?.conditions ?? [];
  const observedAt = (c: { observedGeneration?: number }) => c.observedGeneration ?? target.status?.observedGeneration ?? 0;
  const wanted = conditions.find((c) => c.type === expected.type);
  const inState = expected.state === undefined || target.status?.state === expected.state;
  if (wanted && observedAt(wanted) >= generation && wanted.status === (expected.status ?? 'True') && inState) return SUCCEEDED;
  // The planner found no host: CloudStack fails the job with 533 (InsufficientCapacityException).
  const scheduled = conditions.find((c) => c.type === 'Scheduled');
  if (expected.type !== 'Scheduled' && scheduled && observedAt(scheduled) >= generation && scheduled.status === 'False' && scheduled.reason === UNSCHEDULABLE) {
    return failed(533, `Unable to create a deployment for ${ref.kind} ${ref.name}: ${scheduled.message}`);
  }
  // The condition's writer reports it could not do what the command asked (expected True).
  if (expected.failOnFalse === true && wanted && observedAt(wanted) >= generation && wanted.status === 'False') {
    return failed(530, `${ref.kind} ${ref.name}: ${wanted.message || wanted.reason}`);
  }
  const synced = conditions.find((c) => c.type === 'Synced');
  if (synced && observedAt(synced) >= generation && synced.status === 'False') {
    return failed(530, `${ref.kind} ${ref.name}: ${synced.message || synced.reason}`);
  }
  return PENDING;
}
