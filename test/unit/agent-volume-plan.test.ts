import { expect } from 'chai';
import { planDisk } from '../../node-daemon/volume-plan.ts';

/**
 * The Volume reconciler's plan for a disk, on observations made up here: a disk that is as its
 * Volume asks gets no step, so re-queues for unrelated changes (a pool's usage, a template's
 * status) run no qemu-img; otherwise exactly the change it lacks.
 */
describe('agent volume plan', function () {
  const GiB = 2 ** 30;

  it('makes a missing disk, whatever its size', function () {
    expect(planDisk({ volumeName: 'demo/root', wantedBytes: GiB })).to.deep.equal({ steps: [{ do: 'create' }] });
    expect(planDisk({ volumeName: 'demo/root' })).to.deep.equal({ steps: [{ do: 'create' }] });
  });

  it('does nothing to a disk of the asked size, or to a root disk that asks for none', function () {
    expect(planDisk({ volumeName: 'demo/data', wantedBytes: GiB, observed: { virtualSizeBytes: GiB } })).to.deep.equal({ steps: [] });
    expect(planDisk({ volumeName: 'demo/root', observed: { virtualSizeBytes: GiB } })).to.deep.equal({ steps: [] });
    expect(planDisk({ volumeName: 'demo/root', observed: { virtualSizeBytes: GiB }, runningUser: { uid: 'u1' } })).to.deep.equal({ steps: [] });
  });

  it('grows a disk no domain runs with in its file, and a running one through the hypervisor', function () {
    expect(planDisk({ volumeName: 'demo/data', wantedBytes: 2 * GiB, observed: { virtualSizeBytes: GiB } })).to.deep.equal({ steps: [{ do: 'grow', sizeBytes: 2 * GiB }] });
    expect(planDisk({ volumeName: 'demo/data', wantedBytes: 2 * GiB, observed: { virtualSizeBytes: GiB }, runningUser: { uid: 'u1' } })).to.deep.equal({
      steps: [{ do: 'grow-live', sizeBytes: 2 * GiB, domainUid: 'u1' }],
    });
  });

  it('refuses to shrink, naming the Volume, the field and the size to ask for', function () {
    const plan = planDisk({ volumeName: 'demo/data', wantedBytes: GiB, observed: { virtualSizeBytes: 2 * GiB }, runningUser: { uid: 'u1' } });
    expect(plan).to.have.property('problem').that.includes('demo/data spec.size').and.includes(String(2 * GiB)).and.includes('only grow');
  });
});
