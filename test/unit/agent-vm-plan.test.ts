import { expect } from 'chai';
import type { DomainObservation, DomainSpec } from '../../node-daemon/drivers/hypervisor/types.ts';
import { planVm, PROCESS_START_JITTER_MS, reportedStartedAt, type VmFacts } from '../../node-daemon/vm-plan.ts';

/**
 * The VM reconciler's plan, on observations made up here: what it does to the domain for each
 * desired power state, blocker, pending request and deadline, and the Running condition it
 * reports. Nothing in it waits: the deadlines come back as requeueAfterMs.
 */

const uid = '3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b';
const root = { path: '/pool/root.qcow2', format: 'qcow2' as const, volumeUid: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', deviceId: 0 };
const data = { path: '/pool/data.qcow2', format: 'qcow2' as const, volumeUid: '7b6a5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d', deviceId: 1 };
const spec = (disks = [root]): DomainSpec => ({ uid, vcpus: 1, memoryMiB: 128, disks, nics: [], serialLogPath: '/var/log/vm.log' });
const now = new Date('2026-12-07T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

function domain(state: DomainObservation['state'], extra: Partial<DomainObservation> = {}): DomainObservation {
  return { uid, name: `kumulus-${uid}`, state, specDigest: 'd1', diskPaths: [root.path], ...extra };
}

function facts(extra: Partial<VmFacts> = {}): VmFacts {
  return { wantRunning: true, destroyed: false, deleting: false, generation: 3, desired: { spec: spec(), digest: 'd1' }, now, shutdownTimeoutMs: 2000, rebootTimeoutMs: 2000, expungeDelayMs: 86_400_000, ...extra };
}

const steps = (f: VmFacts) => planVm(f).steps.map((s) => s.do);

describe('agent VM plan: starting', function () {
  it('defines and starts a VM that has everything it needs; a reboot asked for meanwhile is void', function () {
    const plan = planVm(facts({ rebootToken: '2026-12-07T11:59:00Z' }));
    expect(plan.steps.map((s) => s.do)).to.deep.equal(['define', 'start']);
    expect(plan.running).to.deep.include({ status: 'False', reason: 'Starting' });
    expect(plan.rebootDone).to.equal('2026-12-07T11:59:00Z');
    expect(steps(facts({ domain: domain('shutoff') })), 'an existing definition is started as it is').to.deep.equal(['start']);
    expect(steps(facts({ domain: domain('crashed') }))).to.deep.equal(['start']);
  });

  it('starts nothing while a blocker stands, and says which one', function () {
    for (const reason of ['WaitingForVolumes', 'WaitingForIso', 'WaitingForNetwork', 'InsufficientCapacity', 'DomainError'] as const) {
      const plan = planVm(facts({ blocker: { reason, message: `because ${reason}` } }));
      expect(plan.steps, reason).to.deep.equal([]);
      expect(plan.running).to.deep.equal({ type: 'Running', status: 'False', reason, message: `because ${reason}` });
    }
    // A defined domain still gets its new definition while it waits.
    expect(steps(facts({ domain: domain('shutoff', { specDigest: 'old' }), blocker: { reason: 'InsufficientCapacity', message: 'full' } }))).to.deep.equal(['define']);
  });

  it('resumes a paused domain, and leaves a running one alone', function () {
    expect(steps(facts({ domain: domain('paused') }))).to.deep.equal(['resume']);
    const plan = planVm(facts({ domain: domain('running') }));
    expect(plan.steps).to.deep.equal([]);
    expect(plan.running).to.deep.equal({ type: 'Running', status: 'True', reason: 'Running', message: '' });
    expect(plan.requeueAfterMs).to.equal(undefined);
  });

  it('a blocker does not stop a running domain (a data disk still being made waits for it)', function () {
    const plan = planVm(facts({ domain: domain('running'), blocker: { reason: 'WaitingForVolumes', message: 'Volume web-data is not Provisioned' } }));
    expect(plan.steps).to.deep.equal([]);
    expect(plan.running.status).to.equal('True');
  });

  it('redefines a running domain without restarting it, and plugs data disks in and out live', function () {
    expect(steps(facts({ domain: domain('running', { specDigest: 'old' }) }))).to.deep.equal(['define']);
    const attach = planVm(facts({ domain: domain('running', { specDigest: 'old' }), desired: { spec: spec([root, data]), digest: 'd2' } }));
    expect(attach.steps).to.deep.equal([
      { do: 'define', spec: spec([root, data]) },
      { do: 'attach', disk: data },
    ]);
    const detach = planVm(facts({ domain: domain('running', { specDigest: 'd2', diskPaths: [root.path, data.path] }), desired: { spec: spec(), digest: 'd1' } }));
    expect(detach.steps).to.deep.equal([{ do: 'define', spec: spec() }, { do: 'detach', path: data.path }]);
    expect(detach.running.status).to.equal('True');
  });

  it('inserts and ejects the ISO drive\'s media of a running domain live, besides redefining it', function () {
    const iso = '/secondary/template/tmpl/x/x.iso';
    const withIso = { ...spec(), iso };
    expect(planVm(facts({ domain: domain('running'), desired: { spec: withIso, digest: 'd2' } })).steps).to.deep.equal([
      { do: 'define', spec: withIso },
      { do: 'media', path: iso },
    ]);
    expect(planVm(facts({ domain: domain('running', { specDigest: 'd2', isoPath: iso }) })).steps).to.deep.equal([
      { do: 'define', spec: spec() },
      { do: 'media', path: undefined },
    ]);
    expect(steps(facts({ domain: domain('running', { specDigest: 'd2', isoPath: iso }), desired: { spec: withIso, digest: 'd2' } })), 'already in').to.deep.equal([]);
    // A stopped domain takes the media with its definition at its next start.
    expect(steps(facts({ wantRunning: false, domain: domain('shutoff'), desired: { spec: withIso, digest: 'd2' } }))).to.deep.equal(['define']);
    // An ISO whose zone copy is awaited: a running domain's drive stays as it is, and it keeps running.
    const awaited = planVm(facts({ domain: domain('running', { isoPath: iso }), desired: undefined, blocker: { reason: 'WaitingForIso', message: 'not downloaded' } }));
    expect(awaited.steps).to.deep.equal([]);
    expect(awaited.running.status).to.equal('True');
    // A domain an earlier agent started without the drive: no live change (IDE cannot be hot-plugged), the redefinition brings it at the next start.
    expect(steps(facts({ domain: domain('running', { isoDriveMissing: true }), desired: { spec: withIso, digest: 'd2' } }))).to.deep.equal(['define']);
    // A domain started with its ISO takes it with the definition: nothing to change live.
    expect(steps(facts({ desired: { spec: withIso, digest: 'd2' } }))).to.deep.equal(['define', 'start']);
  });

  it('a new root disk (a restore) is never swapped under a running guest: powered off (ACPI first), then started on it', function () {
    const fresh = { ...root, path: '/pool/root-restored.qcow2', volumeUid: '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f' };
    const restored = { spec: spec([fresh, data]), digest: 'd3' };
    const running = planVm(facts({ domain: domain('running', { diskPaths: [root.path, data.path] }), desired: restored }));
    expect(running.steps, 'defined for the next start, then ACPI; no live attach of a boot disk').to.deep.equal([{ do: 'define', spec: spec([fresh, data]) }, { do: 'shutdown' }]);
    expect(running.running).to.deep.include({ status: 'False', reason: 'Starting' });
    expect(running.running.message).to.match(/root disk was replaced/);
    expect(running.requeueAfterMs).to.equal(2000);
    const ignored = facts({ domain: domain('running', { specDigest: 'd3', diskPaths: [root.path, data.path], shutdownSent: { token: '3', at: ago(2500) } }), desired: restored });
    expect(steps(ignored), 'a guest that ignores ACPI is powered off').to.deep.equal(['destroy']);
    expect(steps(facts({ domain: domain('shutoff', { specDigest: 'd3', diskPaths: [fresh.path, data.path] }), desired: restored })), 'off: started on the new disk').to.deep.equal(['start']);
    expect(steps(facts({ domain: domain('running', { specDigest: 'd3', diskPaths: [fresh.path, data.path] }), desired: restored })), 'running on it: nothing more').to.deep.equal([]);
    expect(steps(facts({ wantRunning: false, domain: domain('shutoff', { diskPaths: [root.path] }), desired: restored })), 'a stopped VM only gets the new definition').to.deep.equal(['define']);
  });

  it('waits out a shutdown in progress, then starts again', function () {
    const shuttingDown = planVm(facts({ domain: domain('shutdown', { shutdownSent: { token: '3', at: ago(500) } }) }));
    expect(shuttingDown.steps).to.deep.equal([]);
    expect(shuttingDown.running).to.deep.include({ status: 'False', reason: 'Starting' });
    expect(shuttingDown.requeueAfterMs).to.equal(1500);
    expect(steps(facts({ domain: domain('shutdown', { shutdownSent: { token: '3', at: ago(2500) } }) })), 'a shutdown that takes too long is cut short').to.deep.equal(['destroy']);
    expect(steps(facts({ domain: domain('shutdown') })), 'the guest shutting down on its own gets a deadline too').to.deep.equal(['shutdown']);
  });
});

describe('agent VM plan: a domain that powered off by itself (the guest shut down, or on the host)', function () {
  it('is reported off first (PoweredOff: the VM Stopped, one VM.STOP), then started again for spec.state Running', function () {
    const found = planVm(facts({ domain: domain('shutoff'), reportedOn: true }));
    expect(found.steps, 'not started in the pass that finds it off').to.deep.equal([]);
    expect(found.running).to.deep.include({ status: 'False', reason: 'PoweredOff' });
    expect(found.requeueAfterMs, 'started at once after the report').to.equal(0);
    expect(steps(facts({ domain: domain('crashed'), reportedOn: true }))).to.deep.equal([]);
    expect(steps(facts({ domain: domain('shutoff', { specDigest: 'old' }), reportedOn: true })), 'its definition is kept current meanwhile').to.deep.equal(['define']);
    // Reported off (the write back from the watch, or remembered over the version read): started.
    expect(steps(facts({ domain: domain('shutoff'), reportedOn: false }))).to.deep.equal(['start']);
    // A domain undefined behind the agent's back has no power-off to report: defined and started again.
    expect(steps(facts({ reportedOn: true }))).to.deep.equal(['define', 'start']);
  });

  it('is simply Stopped when spec.state does not want it running', function () {
    const plan = planVm(facts({ wantRunning: false, domain: domain('shutoff'), reportedOn: true }));
    expect(plan.steps).to.deep.equal([]);
    expect(plan.running).to.deep.include({ status: 'False', reason: 'Stopped' });
  });
});

describe('agent VM plan: stopping without blocking', function () {
  const stop = (extra: Partial<VmFacts>) => facts({ wantRunning: false, ...extra });

  it('sends ACPI once and comes back at the deadline', function () {
    const plan = planVm(stop({ domain: domain('running') }));
    expect(plan.steps.map((s) => s.do)).to.deep.equal(['shutdown']);
    expect(plan.running).to.deep.include({ status: 'False', reason: 'Stopping' });
    expect(plan.requeueAfterMs).to.equal(2000);
  });

  it('while the request is younger than the timeout, does nothing and requeues for the rest', function () {
    const plan = planVm(stop({ domain: domain('running', { shutdownSent: { token: '3', at: ago(700) } }) }));
    expect(plan.steps).to.deep.equal([]);
    expect(plan.requeueAfterMs).to.equal(1300);
    expect(plan.running.message).to.match(/ACPI shutdown sent 0.7 s ago/);
  });

  it('powers off a guest that ignored ACPI for the whole timeout', function () {
    const plan = planVm(stop({ domain: domain('running', { shutdownSent: { token: '3', at: ago(2000) } }) }));
    expect(plan.steps.map((s) => s.do)).to.deep.equal(['destroy']);
    expect(plan.running.message).to.match(/ignored the ACPI shutdown/);
  });

  it('a request of an earlier generation (stopped, started, stopped again) is not this one: ACPI again', function () {
    expect(steps(stop({ domain: domain('running', { shutdownSent: { token: '1', at: ago(60_000) } }) }))).to.deep.equal(['shutdown']);
  });

  it('a paused domain cannot take ACPI: it is powered off at once', function () {
    expect(steps(stop({ domain: domain('paused') }))).to.deep.equal(['destroy']);
  });

  it('a powered-off or never-defined VM is Stopped, keeps its definition current, and has nothing to reboot', function () {
    const off = planVm(stop({ domain: domain('shutoff', { specDigest: 'old' }), rebootToken: 'r' }));
    expect(off.steps.map((s) => s.do)).to.deep.equal(['define']);
    expect(off.running).to.deep.include({ status: 'False', reason: 'Stopped' });
    expect(off.rebootDone).to.equal('r');
    expect(planVm(stop({})).steps).to.deep.equal([]);
  });

  it('a destroy waits at most half of expunge.delay for the guest, so the VM is Destroyed, off and recoverable, before it is expunged', function () {
    const destroy = (extra: Partial<VmFacts>) => stop({ destroyed: true, shutdownTimeoutMs: 60_000, expungeDelayMs: 60_000, ...extra });
    const sent = planVm(destroy({ domain: domain('running') }));
    expect(sent.steps.map((s) => s.do)).to.deep.equal(['shutdown']);
    expect(sent.requeueAfterMs, 'half of expunge.delay, not the 60 s shutdown timeout').to.equal(30_000);
    const waiting = planVm(destroy({ domain: domain('running', { shutdownSent: { token: '3', at: ago(10_000) } }) }));
    expect(waiting.steps).to.deep.equal([]);
    expect(waiting.requeueAfterMs).to.equal(20_000);
    expect(waiting.running.message).to.match(/powered off after 30 s \(half of expunge.delay/);
    expect(steps(destroy({ domain: domain('running', { shutdownSent: { token: '3', at: ago(30_000) } }) }))).to.deep.equal(['destroy']);
    // The same wait on a stop runs the whole shutdown timeout.
    expect(steps(stop({ shutdownTimeoutMs: 60_000, expungeDelayMs: 60_000, domain: domain('running', { shutdownSent: { token: '3', at: ago(30_000) } }) }))).to.deep.equal([]);
    // A long expunge.delay leaves the shutdown timeout as it is.
    expect(planVm(destroy({ expungeDelayMs: 86_400_000, domain: domain('running') })).requeueAfterMs).to.equal(60_000);
    const now0 = planVm(destroy({ expungeDelayMs: 0, domain: domain('running') }));
    expect(now0.steps.map((s) => s.do), 'expunge.delay 0: no time to wait for the guest').to.deep.equal(['destroy']);
    expect(now0.running.message).to.match(/expunge.delay is 0/);
  });

  it('deleting undefines the domain, running or not', function () {
    expect(steps(facts({ deleting: true, domain: domain('running') }))).to.deep.equal(['undefine']);
    expect(steps(facts({ deleting: true }))).to.deep.equal([]);
  });
});

describe('agent VM plan: rebooting without blocking', function () {
  const token = '2026-12-07T11:59:59Z';
  const running = (extra: Partial<DomainObservation> = {}) => domain('running', extra);

  it('sends an ACPI reboot once and comes back at the deadline', function () {
    const plan = planVm(facts({ domain: running(), rebootToken: token }));
    expect(plan.steps).to.deep.equal([{ do: 'reboot', token }]);
    expect(plan.rebootDone).to.equal(undefined);
    expect(plan.requeueAfterMs).to.equal(2000);
  });

  it('is done when libvirt reports the guest rebooted after the request', function () {
    const plan = planVm(facts({ domain: running({ rebootSent: { token, at: ago(300) } }), rebootToken: token, rebootSeenAt: ago(100) }));
    expect(plan.steps).to.deep.equal([]);
    expect(plan.rebootDone).to.equal(token);
  });

  it('a reboot seen before the request does not count; past the timeout the domain is reset', function () {
    const waiting = planVm(facts({ domain: running({ rebootSent: { token, at: ago(300) } }), rebootToken: token, rebootSeenAt: ago(5000) }));
    expect(waiting.steps).to.deep.equal([]);
    expect(waiting.rebootDone).to.equal(undefined);
    expect(waiting.requeueAfterMs).to.equal(1700);
    const reset = planVm(facts({ domain: running({ rebootSent: { token, at: ago(2000) } }), rebootToken: token }));
    expect(reset.steps.map((s) => s.do)).to.deep.equal(['reset']);
    expect(reset.rebootDone).to.equal(token);
  });

  it('a new request replaces an older one recorded in the domain', function () {
    expect(planVm(facts({ domain: running({ rebootSent: { token: 'older', at: ago(100) } }), rebootToken: token })).steps).to.deep.equal([{ do: 'reboot', token }]);
  });
});

describe('agent: the start a running VM reports (status.startedAt)', function () {
  const recorded = '2026-12-08T01:25:30Z';
  const at = (iso: string, ms = 0) => new Date(Date.parse(iso) + ms);

  it('keeps the recorded start when the same process is read under a stepped clock (cluster-helm: 3 s after an agent upgrade)', function () {
    expect(reportedStartedAt(recorded, at(recorded, 3_000))).to.equal(recorded);
    expect(reportedStartedAt(recorded, at(recorded, -PROCESS_START_JITTER_MS))).to.equal(recorded);
  });

  it('reports a new process: a start further from the recorded one than a clock step moves it', function () {
    expect(reportedStartedAt(recorded, at(recorded, PROCESS_START_JITTER_MS + 1_000))).to.equal('2026-12-08T01:25:41Z');
    expect(reportedStartedAt(undefined, at(recorded, 3_000))).to.equal('2026-12-08T01:25:33Z');
  });

  it('keeps the recorded start, or takes now, when the hypervisor cannot tell', function () {
    expect(reportedStartedAt(recorded, undefined)).to.equal(recorded);
    expect(reportedStartedAt(undefined, undefined, at('2026-12-08T02:00:00Z'))).to.equal('2026-12-08T02:00:00Z');
  });
});
