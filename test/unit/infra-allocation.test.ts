import { expect } from 'chai';
import { allocatableCondition, capacityAlert, disabledBlocker } from '../../controllers/allocation.ts';
import { countRollup } from '../../controllers/capacity.ts';
import { parentAllocatable, someChildReady } from '../../controllers/reconciler.ts';

function child(name: string, ready: boolean, message = '') {
  return { metadata: { name }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'Up' : 'Down', message }] } };
}

describe('infra: readiness and allocation conditions', () => {
  it('is Ready with one Ready child, naming the ones that are not', () => {
    const r = someChildReady('Host', [child('h1', true), child('h2', false, 'Down: no heartbeat')], 'no hosts');
    expect(r).to.deep.equal({ ok: true, ready: 1, message: '1 of 2 Host(s) Ready; not Ready: Host h2: Down: no heartbeat' });
  });

  it('is not Ready when no child is, naming each child and its reason', () => {
    const r = someChildReady('Cluster', [child('c1', false, 'no Host is Ready: Host h1: Down'), { metadata: { name: 'c2' } }], 'no clusters');
    expect(r.ok).to.equal(false);
    expect(r.message).to.equal('no Cluster is Ready: Cluster c1: no Host is Ready: Host h1: Down; Cluster c2: not reconciled yet');
    expect(someChildReady('Pod', [], 'the zone has no pods: create one')).to.deep.equal({ ok: false, message: 'the zone has no pods: create one', ready: 0 });
  });

  it('follows the parent\'s Allocatable condition and says why not', () => {
    const allocatable = (status: string, message: string) => ({ metadata: { name: 'z1' }, status: { conditions: [{ type: 'Allocatable', status, reason: 'Disabled', message }] } });
    expect(parentAllocatable('Zone', 'z1', allocatable('True', ''))).to.deep.equal({ ok: true, message: '' });
    expect(parentAllocatable('Zone', 'z1', allocatable('False', 'the zone is Disabled')).message).to.equal('Zone z1 is not allocatable: the zone is Disabled');
    expect(parentAllocatable('Zone', 'z9', undefined).message).to.equal('Zone z9 does not exist');
  });

  it('is Allocatable only with no blocker, reporting the first reason and every message', () => {
    expect(allocatableCondition([])).to.include({ status: 'True' });
    const blocked = allocatableCondition([disabledBlocker('pod', 'Disabled')!, { reason: 'NotReady', message: 'the pod is not Ready' }]);
    expect(blocked).to.deep.equal({
      type: 'Allocatable',
      status: 'False',
      reason: 'Disabled',
      message: 'not a placement target: the pod is Disabled (set spec.allocationState to Enabled to place VMs here); the pod is not Ready',
    });
    expect(disabledBlocker('pod', 'Enabled')).to.equal(undefined);
  });

  it('raises CapacityAlert at a notification threshold, with an event only when it newly turns True', () => {
    const rules = [{ type: 'VLAN' as const, measure: 'used' as const, threshold: 0.75, setting: 'zone.vlan.capacity.notificationthreshold' }];
    const first = capacityAlert(countRollup('VLAN', 4, 3), rules, false);
    expect(first.condition).to.include({ status: 'True', reason: 'NotificationThresholdReached', message: 'VLAN used 75% reached zone.vlan.capacity.notificationthreshold 75%' });
    expect(first.events.map((e) => e.reason)).to.deep.equal(['ALERT.CAPACITY']);
    expect(capacityAlert(countRollup('VLAN', 4, 3), rules, true).events).to.deep.equal([]);
    expect(capacityAlert(countRollup('VLAN', 4, 2), rules, true).condition.status).to.equal('False');
  });
});
