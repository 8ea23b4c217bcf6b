import { expect } from 'chai';
import type { AsyncJobObject } from '../../crds/index.ts';
import { jobVerdict, type Target } from '../../lib/async-job.ts';
import { TARGET_GENERATION_ANNOTATION } from '../../crds/index.ts';

/**
 * The AsyncJob verdict: a job follows its target's conditions at the generation the command
 * wrote, so a stale condition (from before the change) never completes it, a failed
 * reconcile fails it, and a delete succeeds once the target is gone.
 */

const UID = '7b6a3a1e-0000-4000-8000-000000000001';

function job(expected: AsyncJobObject['spec']['expectedCondition'], generation = 3): AsyncJobObject {
  return {
    apiVersion: 'ops.kumulus.io/v1alpha1',
    kind: 'AsyncJob',
    metadata: { name: 'job-x', namespace: 'cs-admin', annotations: { [TARGET_GENERATION_ANNOTATION]: String(generation) } },
    spec: {
      command: 'prepareHostForMaintenance',
      userRef: { name: 'admin' },
      targetRef: { apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'Host', name: 'h1', uid: UID },
      expectedCondition: expected,
    },
  };
}

function host(conditions: { type: string; status: string; observedGeneration?: number; message?: string; reason?: string }[], uid = UID): Target {
  return { metadata: { name: 'h1', uid }, status: { observedGeneration: 3, conditions: conditions.map((c) => ({ reason: 'R', message: c.message ?? '', ...c })) } };
}

describe('AsyncJob verdicts', () => {
  it('stays pending while the condition describes an older generation', () => {
    expect(jobVerdict(job({ type: 'Synced', status: 'True' }), host([{ type: 'Synced', status: 'True', observedGeneration: 2 }]), 1000)).to.deep.equal({ done: false });
  });

  it('succeeds once the condition holds at the written generation', () => {
    expect(jobVerdict(job({ type: 'Synced', status: 'True' }), host([{ type: 'Synced', status: 'True', observedGeneration: 3 }]), 1000)).to.deep.equal({ done: true, code: 0 });
  });

  it('fails with 530 and the reconcile error when Synced is False at that generation', () => {
    const verdict = jobVerdict(job({ type: 'Ready', status: 'True' }), host([{ type: 'Synced', status: 'False', observedGeneration: 3, message: 'the pool cannot be mounted' }]), 1000);
    expect(verdict).to.deep.equal({ done: true, code: 530, text: 'Host h1: the pool cannot be mounted' });
  });

  it('fails with 533 when the planner finds no host at that generation, and not for an older one', () => {
    const unschedulable = (observedGeneration: number) => host([{ type: 'Scheduled', status: 'False', reason: 'Unschedulable', observedGeneration, message: 'no host in zone z1 has 4 free cores' }]);
    expect(jobVerdict(job({ type: 'Ready', status: 'True' }), unschedulable(3), 1000)).to.deep.equal({ done: true, code: 533, text: 'Unable to create a deployment for Host h1: no host in zone z1 has 4 free cores' });
    expect(jobVerdict(job({ type: 'Ready', status: 'True' }), unschedulable(2), 1000)).to.deep.equal({ done: false });
  });

  it('fails with 530 and the writer\'s message when a failOnFalse condition is False at that generation; Unknown and older ones stay pending', () => {
    const media = job({ type: 'MediaSynced', status: 'True', failOnFalse: true });
    const drive = (status: string, observedGeneration: number) => host([{ type: 'MediaSynced', status, reason: 'MediaError', observedGeneration, message: 'host h could not insert ISO a/b: no such file' }]);
    expect(jobVerdict(media, drive('False', 3), 1000)).to.deep.equal({ done: true, code: 530, text: 'Host h1: host h could not insert ISO a/b: no such file' });
    expect(jobVerdict(media, drive('False', 2), 1000), 'a failure of an older generation').to.deep.equal({ done: false });
    expect(jobVerdict(media, drive('Unknown', 3), 1000)).to.deep.equal({ done: false });
    expect(jobVerdict(media, drive('True', 3), 1000)).to.deep.equal({ done: true, code: 0 });
    // Without failOnFalse, False only keeps the job waiting.
    expect(jobVerdict(job({ type: 'MediaSynced', status: 'True' }), drive('False', 3), 1000)).to.deep.equal({ done: false });
  });

  it('succeeds a delete once the target is gone, or replaced by another object of that name', () => {
    expect(jobVerdict(job({ type: 'Synced', deleted: true }), undefined, 1000)).to.deep.equal({ done: true, code: 0 });
    expect(jobVerdict(job({ type: 'Synced', deleted: true }), host([], 'another-uid'), 1000)).to.deep.equal({ done: true, code: 0 });
    expect(jobVerdict(job({ type: 'Synced', deleted: true }), host([]), 1000)).to.deep.equal({ done: false });
  });

  it('fails a delete held by dependents with 536', () => {
    const verdict = jobVerdict(job({ type: 'Synced', deleted: true }), host([{ type: 'DeletionBlocked', status: 'True', message: 'VirtualMachine a/b remains' }]), 1000);
    expect(verdict).to.deep.equal({ done: true, code: 536, text: 'Host h1 cannot be deleted: VirtualMachine a/b remains' });
  });

  it('waits for a named state too: a pool in PrepareForMaintenance does not end the maintenance job', () => {
    const pool = (state: string): Target => ({ ...host([{ type: 'Synced', status: 'True', observedGeneration: 3 }]), status: { state, observedGeneration: 3, conditions: [{ type: 'Synced', status: 'True', reason: 'R', message: '', observedGeneration: 3 }] } });
    const maintenance = job({ type: 'Synced', status: 'True', state: 'Maintenance' });
    expect(jobVerdict(maintenance, pool('PrepareForMaintenance'), 1000)).to.deep.equal({ done: false });
    expect(jobVerdict(maintenance, pool('Maintenance'), 1000)).to.deep.equal({ done: true, code: 0 });
    // Without the state, the first step would have ended it.
    expect(jobVerdict(job({ type: 'Synced', status: 'True' }), pool('PrepareForMaintenance'), 1000)).to.deep.equal({ done: true, code: 0 });
  });

  it('completes a tags or details job once the target carries what the command wrote, whatever its conditions', () => {
    const tagged = (annotations: Record<string, string>): Target => ({ metadata: { name: 'h1', uid: UID, annotations }, status: { conditions: [] } });
    const tags = job({ type: 'Annotations', annotations: { 'tags.cloudstack.kumulus.io/env': 'prod' }, absentAnnotations: ['tags.cloudstack.kumulus.io/old'] });
    expect(jobVerdict(tags, tagged({ 'tags.cloudstack.kumulus.io/env': 'prod' }), 1000)).to.deep.equal({ done: true, code: 0 });
    // A lagging cache: the old value, or the removed key still there.
    expect(jobVerdict(tags, tagged({ 'tags.cloudstack.kumulus.io/env': 'dev' }), 1000)).to.deep.equal({ done: false });
    expect(jobVerdict(tags, tagged({ 'tags.cloudstack.kumulus.io/env': 'prod', 'tags.cloudstack.kumulus.io/old': 'x' }), 1000)).to.deep.equal({ done: false });
    // Changed by a later request before the job could see its own write.
    expect(jobVerdict(tags, tagged({ 'tags.cloudstack.kumulus.io/env': 'dev' }), 31_000)).to.deep.equal({
      done: true,
      code: 530,
      text: 'Host h1 no longer carries what the command wrote: another request changed it before the job completed',
    });
  });

  it('waits for a target not yet seen, then fails when it never appears', () => {
    expect(jobVerdict(job({ type: 'Synced', status: 'True' }), undefined, 1000)).to.deep.equal({ done: false });
    expect(jobVerdict(job({ type: 'Synced', status: 'True' }), undefined, 31_000)).to.deep.equal({ done: true, code: 530, text: 'Host h1 was deleted before the job completed' });
  });
});
