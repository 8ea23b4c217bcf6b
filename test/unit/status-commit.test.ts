import { expect } from 'chai';
import { agentMountStatus, agentVmStatus, agentVolumeStatus } from '../../lib/agent-contract.ts';
import { planFailure, planStatus, type StatusBag, type StatusWriter } from '../../lib/status.ts';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const t1 = new Date('2026-01-01T01:00:00.000Z');

/** The operator's writer of a VM, as controllers/infra-context.ts operatorStatus builds it. */
const operator: StatusWriter = {
  fieldManager: 'kumulus-operator',
  fields: ['observedGeneration', 'state', 'placement'],
  conditions: ['Ready', 'Scheduled', 'Synced'],
};
const agent = agentVmStatus('host1');

describe('status commit: plan', () => {
  it('plans only the writer\'s own fields and conditions, with Synced True when it owns Synced', () => {
    const current: StatusBag = {
      state: 'Starting',
      powerState: 'PowerOff',
      conditions: [{ type: 'Running', status: 'False', reason: 'Stopped', message: '', lastTransitionTime: '2025-12-31T00:00:00Z', observedGeneration: 1 }],
    };
    const next = planStatus(current, 2, operator, { state: 'Running', fields: { placement: { host: 'host1' } }, conditions: [{ type: 'Ready', status: 'True', reason: 'Running' }] }, t0);
    expect(next).to.deep.equal({
      observedGeneration: 2,
      state: 'Running',
      placement: { host: 'host1' },
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Running', message: '', observedGeneration: 2, lastTransitionTime: '2026-01-01T00:00:00Z' },
        { type: 'Synced', status: 'True', reason: 'ReconcileSuccess', message: '', observedGeneration: 2, lastTransitionTime: '2026-01-01T00:00:00Z' },
      ],
    });
  });

  it('plans nothing when the object already shows it, and moves lastTransitionTime only on a flip', () => {
    const desired = { fields: { powerState: 'PowerOn', instanceName: 'i-1' }, conditions: [{ type: 'Running', status: 'True' as const, reason: 'DomainRunning' }] };
    const first = planStatus({ state: 'Running' }, 3, agent, desired, t0);
    expect(first).to.deep.equal({
      powerState: 'PowerOn',
      instanceName: 'i-1',
      conditions: [{ type: 'Running', status: 'True', reason: 'DomainRunning', message: '', observedGeneration: 3, lastTransitionTime: '2026-01-01T00:00:00Z' }],
    });
    expect(first).not.to.have.property('observedGeneration');
    const stored: StatusBag = { ...first, state: 'Running', observedGeneration: 3 };
    expect(planStatus(stored, 3, agent, desired, t1)).to.equal(undefined, 'nothing changed: no write');

    const message = planStatus(stored, 3, agent, { ...desired, conditions: [{ type: 'Running', status: 'True', reason: 'DomainRunning', message: 'resumed' }] }, t1);
    expect(message?.conditions?.[0]?.lastTransitionTime).to.equal('2026-01-01T00:00:00Z', 'same status: the transition time stays');
    const flip = planStatus(stored, 3, agent, { ...desired, conditions: [{ type: 'Running', status: 'False', reason: 'Stopped' }] }, t1);
    expect(flip?.conditions?.[0]?.lastTransitionTime).to.equal('2026-01-01T01:00:00Z', 'a flip moves it');
  });

  it('drops an owned field or condition the writer no longer sets', () => {
    const writer: StatusWriter = { ...operator, conditions: [...operator.conditions, 'DeletionBlocked'] };
    const stored = planStatus(undefined, 1, writer, { state: 'Enabled', conditions: [{ type: 'Ready', status: 'False', reason: 'Deleting' }, { type: 'DeletionBlocked', status: 'True', reason: 'DependentsRemain' }] }, t0)!;
    const next = planStatus(stored, 1, writer, { state: 'Enabled', conditions: [{ type: 'Ready', status: 'False', reason: 'Deleting' }] }, t0);
    expect(next?.conditions?.map((c) => c.type)).to.deep.equal(['Ready', 'Synced']);
  });

  it('refuses a field or condition the writer does not own, naming it', () => {
    expect(() => planStatus(undefined, 1, agent, { state: 'Running', conditions: [] })).to.throw('status.state is not owned by field manager kumulus-agent.host1');
    expect(() => planStatus(undefined, 1, agent, { conditions: [{ type: 'Ready', status: 'True', reason: 'Running' }] })).to.throw('condition Ready is not owned');
    expect(() => planStatus(undefined, 1, agentVolumeStatus('host1'), { fields: { pool: 'p1' }, conditions: [] })).to.throw('status.pool');
  });

  it('owns only its own entry of a keyed list', () => {
    const writer = agentMountStatus('host1');
    const mine = { host: 'host1', mounted: true, capacityBytes: 10, usedBytes: 1, message: '', lastTransitionTime: '2026-01-01T00:00:00Z' };
    const current: StatusBag = { capacityBytes: 10, mounts: [{ ...mine, host: 'host0' }, mine] };
    expect(planStatus(current, 1, writer, { fields: { mounts: [mine] }, conditions: [] }, t1)).to.equal(undefined, 'other hosts\' entries are not this writer\'s');
    expect(planStatus(current, 1, writer, { fields: { mounts: [{ ...mine, mounted: false }] }, conditions: [] }, t1)).to.deep.equal({ mounts: [{ ...mine, mounted: false }] });
    expect(planStatus(current, 1, writer, { conditions: [] }, t1)).to.deep.equal({}, 'leaving the pool gives up the entry');
    expect(planStatus({ mounts: [{ ...mine, host: 'host0' }] }, 1, writer, { conditions: [] }, t1)).to.equal(undefined);
  });
});

describe('status commit: failure', () => {
  const stored: StatusBag = {
    observedGeneration: 1,
    state: 'Running',
    placement: { host: 'host1' },
    powerState: 'PowerOn',
    conditions: [
      { type: 'Ready', status: 'True', reason: 'Running', message: '', observedGeneration: 1, lastTransitionTime: '2025-12-31T00:00:00Z' },
      { type: 'Synced', status: 'True', reason: 'ReconcileSuccess', message: '', observedGeneration: 1, lastTransitionTime: '2025-12-31T00:00:00Z' },
      { type: 'Running', status: 'True', reason: 'DomainRunning', message: '', observedGeneration: 1, lastTransitionTime: '2025-12-31T00:00:00Z' },
    ],
  };

  it('records Synced False and keeps the writer\'s other fields as stored, not the other owner\'s', () => {
    const next = planFailure(stored, 2, operator, new Error('Host host1 is not Up'), undefined, t0);
    expect(next).to.deep.equal({
      observedGeneration: 1,
      state: 'Running',
      placement: { host: 'host1' },
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Running', message: '', observedGeneration: 1, lastTransitionTime: '2025-12-31T00:00:00Z' },
        { type: 'Synced', status: 'False', reason: 'ReconcileError', message: 'Host host1 is not Up', observedGeneration: 2, lastTransitionTime: '2026-01-01T00:00:00Z' },
      ],
    });
    const failed = { ...stored, conditions: [...stored.conditions!.filter((c) => c.type !== 'Synced'), ...next!.conditions!.filter((c) => c.type === 'Synced')] };
    expect(planFailure(failed, 2, operator, new Error('Host host1 is not Up'), undefined, t1)).to.equal(undefined, 'already recorded: no write');
  });

  it('records a failure in the writer\'s own condition', () => {
    const next = planFailure(stored, 2, agent, 'libvirt: domain crashed', { type: 'Running', reason: 'DomainError' }, t0);
    expect(next).to.deep.equal({
      powerState: 'PowerOn',
      conditions: [{ type: 'Running', status: 'False', reason: 'DomainError', message: 'libvirt: domain crashed', observedGeneration: 2, lastTransitionTime: '2026-01-01T00:00:00Z' }],
    });
    expect(() => planFailure(stored, 2, agent, 'x')).to.throw('condition Synced is not owned by field manager kumulus-agent.host1');
  });
});
