import { expect } from 'chai';
import type { DomainObservation } from '../../node-daemon/drivers/hypervisor/types.ts';
import { mediaCondition, type MediaFacts } from '../../node-daemon/vm-media.ts';

/**
 * The agent's MediaSynced condition, on observations made up here: what attachIso and detachIso
 * complete on. True once the drive holds what spec asks (or no domain is defined yet to hold
 * it), False with the cause when this host cannot change it, Unknown otherwise.
 */

const uid = '3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b';
const iso = { name: 'installer', namespace: 'tenant' };

function domain(state: DomainObservation['state'], extra: Partial<DomainObservation> = {}): DomainObservation {
  return { uid, name: `kumulus-${uid}`, state, diskPaths: [], ...extra };
}

const media = (facts: Partial<MediaFacts>) => {
  const { status, reason, message } = mediaCondition({ host: 'h1', wanted: iso, inDrive: undefined, domain: domain('running'), ...facts });
  return { status, reason, message };
};

describe('agent: MediaSynced, what the drive holds against spec.attachedIsoRef', function () {
  it('is True once the running domain\'s drive, or a stopped one\'s definition, holds the ISO asked, or nothing on a detach', function () {
    expect(media({ inDrive: iso })).to.deep.equal({ status: 'True', reason: 'Inserted', message: 'the CD-ROM drive of the running domain on host h1 holds ISO tenant/installer' });
    expect(media({ inDrive: iso, domain: domain('shutoff') })).to.deep.equal({ status: 'True', reason: 'Inserted', message: 'the CD-ROM drive of the domain definition on host h1 holds ISO tenant/installer' });
    expect(media({ wanted: undefined })).to.deep.equal({ status: 'True', reason: 'Empty', message: 'the CD-ROM drive of the running domain on host h1 holds no ISO' });
  });

  it('is True when no domain is defined yet: its definition takes the ISO', function () {
    expect(media({ domain: undefined })).to.include({ status: 'True', reason: 'NotDefined' });
  });

  it('is False with the cause when change-media failed or this host cannot read the ISO', function () {
    expect(media({ mediaError: 'no such file' })).to.deep.equal({ status: 'False', reason: 'MediaError', message: 'host h1 could not insert ISO tenant/installer into the running domain\'s CD-ROM drive: no such file' });
    expect(media({ wanted: undefined, inDrive: iso, mediaError: 'device busy' })).to.include({ status: 'False', reason: 'MediaError', message: 'host h1 could not eject the media of the running domain\'s CD-ROM drive: device busy' });
    expect(media({ isoProblem: 'not mounted' })).to.deep.equal({ status: 'False', reason: 'WaitingForIso', message: 'host h1: not mounted' });
    expect(media({ isoProblem: 'not mounted', domain: undefined }), 'nor can a first definition take it').to.include({ status: 'False', reason: 'WaitingForIso' });
    // Already in the drive: an unreadable copy does not matter any more.
    expect(media({ inDrive: iso, isoProblem: 'not mounted' })).to.include({ status: 'True', reason: 'Inserted' });
  });

  it('is False for a running domain without a drive (its media cannot change live), Unknown while something else comes first', function () {
    expect(media({ domain: domain('running', { isoDriveMissing: true }) })).to.include({ status: 'False', reason: 'NoDrive' });
    expect(media({ domain: domain('shutoff'), notBuilt: 'the ROOT Volume is not Provisioned' })).to.deep.equal({
      status: 'Unknown',
      reason: 'Pending',
      message: 'the CD-ROM drive on host h1 holds no ISO, not ISO tenant/installer yet: the ROOT Volume is not Provisioned',
    });
  });
});
