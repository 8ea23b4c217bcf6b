import { expect } from 'chai';
import { hostConnection, nextResourceState, type HeartbeatInput } from '../../controllers/host-state.ts';

describe('infra: host states', () => {
  const now = new Date('2026-01-01T00:10:00Z');
  const at = (secondsAgo: number) => new Date(now.getTime() - secondsAgo * 1000).toISOString();
  const base: HeartbeatInput = { renewTime: at(0), everConnected: true, now, pingIntervalSeconds: 60, pingTimeout: 2.5, nodeName: 'node1' };

  it('is Up while the heartbeat is within ping.interval, and says when to look again', () => {
    const c = hostConnection({ ...base, renewTime: at(10) });
    expect(c.state).to.equal('Up');
    expect(c.recheckAfterMs).to.equal(50_001);
  });

  it('is Disconnected after ping.interval and Down after ping.interval × ping.timeout', () => {
    const late = hostConnection({ ...base, renewTime: at(61) });
    expect(late.state).to.equal('Disconnected');
    expect(late.recheckAfterMs).to.equal(89_001);
    expect(hostConnection({ ...base, renewTime: at(150) }).state).to.equal('Disconnected');
    const down = hostConnection({ ...base, renewTime: at(151) });
    expect(down.state).to.equal('Down');
    expect(down.message).to.equal('no heartbeat since 2026-01-01T00:07:29Z, more than 150 s (ping.interval 60 s × ping.timeout 2.5): check the agent on node node1');
    // The message does not move with time, so parents quoting it do not rewrite their status.
    expect(hostConnection({ ...base, renewTime: at(151), now: new Date(now.getTime() + 5000) }).message).to.equal(down.message);
    expect(down.recheckAfterMs).to.equal(undefined);
  });

  it('is Connecting before the first heartbeat, and Down when a known host\'s Lease vanishes', () => {
    expect(hostConnection({ ...base, renewTime: undefined, everConnected: false })).to.include({ state: 'Connecting', reason: 'WaitingForAgent' });
    expect(hostConnection({ ...base, renewTime: undefined, everConnected: true })).to.include({ state: 'Down', reason: 'HeartbeatLeaseMissing' });
  });

  it('is Alert when a connected agent reports trouble', () => {
    const c = hostConnection({ ...base, agentTrouble: 'LibvirtUnreachable: no socket' });
    expect(c).to.include({ state: 'Alert', reason: 'AgentReportedTrouble', message: 'the agent reports trouble: LibvirtUnreachable: no socket' });
  });

  describe('resource state', () => {
    const input = { current: 'Enabled' as const, maintenance: false, allocationState: 'Enabled' as const, connection: 'Up' as const, vms: [] as string[] };

    it('follows spec.allocationState outside maintenance, including cancel', () => {
      expect(nextResourceState({ ...input, allocationState: 'Disabled' }).state).to.equal('Disabled');
      expect(nextResourceState({ ...input, current: 'Maintenance' }).state).to.equal('Enabled');
    });

    it('always passes through PrepareForMaintenance, completing once no VM is placed', () => {
      expect(nextResourceState({ ...input, maintenance: true }).state).to.equal('PrepareForMaintenance');
      const waiting = nextResourceState({ ...input, maintenance: true, current: 'PrepareForMaintenance', vms: ['ns/vm1'] });
      expect(waiting).to.deep.equal({ state: 'PrepareForMaintenance', message: 'waiting for 1 VM(s) to leave: ns/vm1' });
      expect(nextResourceState({ ...input, maintenance: true, current: 'PrepareForMaintenance' }).state).to.equal('Maintenance');
    });

    it('reports errors: a host lost while VMs remain, and VMs placed on a host in maintenance', () => {
      expect(nextResourceState({ ...input, maintenance: true, current: 'PrepareForMaintenance', connection: 'Down', vms: ['ns/vm1'] }).state).to.equal('ErrorInPrepareForMaintenance');
      expect(nextResourceState({ ...input, maintenance: true, current: 'ErrorInPrepareForMaintenance', connection: 'Up', vms: ['ns/vm1'] }).state).to.equal('PrepareForMaintenance');
      expect(nextResourceState({ ...input, maintenance: true, current: 'Maintenance', vms: ['ns/vm1'] }).state).to.equal('ErrorInMaintenance');
      expect(nextResourceState({ ...input, maintenance: true, current: 'ErrorInMaintenance' }).state).to.equal('Maintenance');
    });
  });
});
