import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { EVENTS } from '../../lib/events.ts';
import type { KubeObject } from '../../lib/kube-client.ts';
import { condition, createComputeWorld, type ComputeWorld, type Obj } from '../support/compute-world.ts';
import { until } from '../support/until.ts';

/**
 * A VM's whole lifecycle through spec, with the real operator and two real agents (processes)
 * on the simulated hypervisor: each step is checked against the simulated domain of the host
 * the VM was placed on and its disk files (NICs and addresses: compute-local.test.ts, on a real
 * host). Simulated hosts touch nothing of this machine's but their folders: no host lock.
 */

type Placement = { zone: string; pod: string; cluster: string; host: string };

describe('compute lifecycle: operator and agents (simulated hypervisor) drive a VM through spec', function () {
  this.timeout(300_000);
  let world: ComputeWorld;
  const procs: ChildProcess[] = [];
  let uid = '';
  let host = '';
  /** The uids of web's volumes, for the events they leave behind after the expunge. */
  const volumeUids: Record<string, string> = {};

  const vm = () => world.get('VirtualMachine', 'web');
  const domain = async () => (await world.domains(host)).find((d) => d.uid === uid);
  const settled = (state: string) => (o: Obj) => o.status?.state === state && condition(o, 'Ready')?.status === 'True' && condition(o, 'Ready')?.observedGeneration === o.metadata.generation;
  const spec = (patch: Record<string, unknown>) => world.res('VirtualMachine').patch({ name: 'web', namespace: world.ns }, { spec: patch });

  before(async function () {
    this.timeout(240_000);
    world = await createComputeWorld('clife', { hosts: 2 });
    procs.push(world.startOperator(), ...world.hosts.map((h) => world.startAgent(h)));
    await world.ready();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.log(await world.logs());
  });

  after(async function () {
    this.timeout(120_000);
    for (const p of procs) await world.kill(p);
    await world?.cleanup();
  });

  it('deploys: placed, its volumes made on the host\'s pool, the domain running', async () => {
    await world.res('VirtualMachine').create({
      metadata: { name: 'web', namespace: world.ns },
      spec: world.vmSpec({ dataDisks: [{ name: 'data', diskOfferingRef: { name: world.names.disk } }] }),
    });
    const running = await world.waitFor('VirtualMachine', 'web', 'Running and Ready', settled('Running'), 120_000);
    uid = running.metadata.uid ?? '';
    host = (running.status?.placement as Placement).host;
    expect(world.hosts).to.include(host);
    expect(await domain()).to.deep.include({ state: 'running', vcpus: 1, memoryMiB: 64 });
    const inventory = await world.inventory();
    const volumes = inventory.volumes.filter((v) => (v.spec?.vmRef as { name?: string } | undefined)?.name === 'web');
    expect(volumes.map((v) => v.metadata.name).sort()).to.deep.equal(['web-data', 'web-root']);
    for (const v of volumes) {
      volumeUids[v.metadata.name ?? ''] = v.metadata.uid ?? '';
      // Attaching until the agent reports the running domain holds it.
      await world.waitFor('Volume', v.metadata.name ?? '', 'Ready', (o) => o.status?.state === 'Ready');
      expect(inventory.disks.filter((d) => d.file.startsWith(v.metadata.uid ?? '-')), `the disk of ${v.metadata.name} on ${host}`).to.have.length(1);
      expect(inventory.disks.find((d) => d.file.startsWith(v.metadata.uid ?? '-'))?.host).to.equal(host);
    }
  });

  it('reports each event of the deploy once, from its one emitter (lib/agent-contract.ts, "Events")', async () => {
    const operator = 'kumulus.io/operator';
    const agent = 'kumulus.io/agent';
    const volume = [`VOLUME.ATTACH by ${operator}`, `VOLUME.CREATE by ${operator}`];
    const expected: Record<string, string[]> = { web: [`VM.CREATE by ${operator}`, `VM.START by ${agent}`], 'web-data': volume, 'web-root': volume };
    type Event = KubeObject & { reason: string; reportingController: string; regarding: { name: string; uid: string }; series?: { count: number } };
    /** Each event of the deploy's objects as `<reason> by <emitter>`, once per Event and once more per repeat of its series. */
    const seen = async (): Promise<Record<string, string[]>> => {
      const list = await world.client.resource<Event>(EVENTS).list({ namespace: world.ns });
      const out: Record<string, string[]> = {};
      for (const e of list.items) {
        if (!(e.regarding.name in expected)) continue;
        out[e.regarding.name] = [...(out[e.regarding.name] ?? []), ...Array<string>(e.series?.count ?? 1).fill(`${e.reason} by ${e.reportingController}`)].sort();
      }
      return out;
    };
    // Events are written after the status they mark: wait for the expected ones, then give a duplicate the time to land.
    await until('the deploy\'s events', 30_000, async () => {
      const now = await seen();
      return Object.entries(expected).every(([name, want]) => want.every((w) => now[name]?.includes(w))) ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 2000));
    expect(await seen()).to.deep.equal(expected);
    // The volumes' first state is the one after the pool chosen with the VM's placement: never Allocated (no pool).
    const creates = (await world.client.resource<Event & { note: string }>(EVENTS).list({ namespace: world.ns })).items.filter((e) => e.reason === 'VOLUME.CREATE');
    expect(creates.map((e) => [e.regarding.name, e.note]).sort()).to.deep.equal([
      ['web-data', 'volume Creating'],
      ['web-root', 'volume Creating'],
    ]);
  });

  it('stops and starts: the domain powers off and on', async () => {
    await spec({ state: 'Stopped' });
    await world.waitFor('VirtualMachine', 'web', 'Stopped', settled('Stopped'));
    expect((await domain())?.state).to.equal('shutoff');
    await spec({ state: 'Running' });
    await world.waitFor('VirtualMachine', 'web', 'Running', settled('Running'));
    expect((await domain())?.state).to.equal('running');
  });

  it('reboots by request token: the agent reports it done', async () => {
    const asked = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await spec({ rebootRequestedAt: asked });
    const rebooted = await world.waitFor('VirtualMachine', 'web', 'rebooted', (o) => o.status?.lastRebootAt === asked && settled('Running')(o));
    expect(rebooted.status?.state).to.equal('Running');
    expect((await domain())?.state).to.equal('running');
  });

  it('scales while stopped: the domain is defined with the new offering\'s cores and memory', async () => {
    await spec({ state: 'Stopped' });
    await world.waitFor('VirtualMachine', 'web', 'Stopped', settled('Stopped'));
    await spec({ serviceOfferingRef: { name: world.names.large } });
    // CloudStack's VM.UPGRADE (changeServiceForVirtualMachine), from the operator that records the size accepted (status.serviceOffering).
    const upgraded = await world.waitFor('VirtualMachine', 'web', 'the new size accepted', (o) => (o.status?.serviceOffering as { name?: string } | undefined)?.name === world.names.large);
    expect(upgraded.status?.serviceOffering).to.deep.equal({ name: world.names.large });
    await until('VM.UPGRADE', 30_000, async () => {
      const list = await world.client.resource<KubeObject & { reason: string; note: string; regarding: { uid: string } }>(EVENTS).list({ namespace: world.ns });
      return list.items.find((e) => e.regarding.uid === uid && e.reason === 'VM.UPGRADE' && e.note === `service offering ${world.names.small} -> ${world.names.large}`) ? true : undefined;
    });
    await spec({ state: 'Running' });
    await world.waitFor('VirtualMachine', 'web', 'Running with the new offering', settled('Running'));
    expect(await domain()).to.deep.include({ state: 'running', vcpus: 2, memoryMiB: 128 });
  });

  it('destroys (domain off and kept) and recovers (Stopped, the same domain)', async () => {
    await spec({ state: 'Destroyed' });
    const destroyed = await world.waitFor('VirtualMachine', 'web', 'Destroyed', settled('Destroyed'));
    expect(destroyed.status?.destroyedAt).to.be.a('string');
    expect((await domain())?.state).to.equal('shutoff');
    await spec({ state: 'Stopped' });
    const recovered = await world.waitFor('VirtualMachine', 'web', 'recovered', settled('Stopped'));
    expect(recovered.status?.destroyedAt).to.equal(undefined);
    expect((await domain())?.state).to.equal('shutoff');
  });

  it('expunges on deletion: domain, disks and volumes go', async () => {
    const volumeUids = (await world.inventory()).volumes.filter((v) => (v.spec?.vmRef as { name?: string } | undefined)?.name === 'web').map((v) => v.metadata.uid ?? '');
    await world.res('VirtualMachine').delete({ name: 'web', namespace: world.ns });
    await until('VM web to be gone', 60_000, async () => ((await vm()) ? undefined : true));
    await until('its volumes and disks to be gone', 60_000, async () => {
      const inventory = await world.inventory();
      const left = [
        ...inventory.volumes.filter((v) => volumeUids.includes(v.metadata.uid ?? '')).map((v) => `Volume ${v.metadata.name}`),
        ...inventory.disks.filter((d) => volumeUids.some((u) => d.file.startsWith(u))).map((d) => `disk ${d.file}`),
      ];
      return left.length === 0 ? true : undefined;
    });
    expect(await domain(), 'the domain is undefined').to.equal(undefined);
  });

  it('reports each fact of the whole lifecycle once, from its one emitter (a repeat with the same note counts in the series of its Event)', async () => {
    const operator = 'kumulus.io/operator';
    const agent = 'kumulus.io/agent';
    const times = (n: number, what: string) => Array<string>(n).fill(what);
    // Started three times (deploy, after the stop, after the scale), stopped three times (stop, stop to scale, destroy: the guest answers ACPI), rebooted once, scaled once.
    const vmFacts = [
      `VM.CREATE by ${operator}`,
      ...times(3, `VM.START by ${agent}`),
      ...times(3, `VM.STOP by ${agent}`),
      `VM.REBOOT by ${agent}`,
      `VM.UPGRADE by ${operator}`,
      `VM.DESTROY by ${operator}`,
      `VM.RECOVER by ${operator}`,
      `VM.EXPUNGE by ${operator}`,
    ];
    const volumeFacts = [`VOLUME.CREATE by ${operator}`, `VOLUME.ATTACH by ${operator}`];
    const expected: Record<string, string[]> = { [uid]: vmFacts.sort(), [volumeUids['web-root'] ?? '']: [...volumeFacts].sort(), [volumeUids['web-data'] ?? '']: [...volumeFacts].sort() };
    type Event = KubeObject & { reason: string; reportingController: string; regarding: { uid: string }; series?: { count: number } };
    const seen = async (): Promise<Record<string, string[]>> => {
      const list = await world.client.resource<Event>(EVENTS).list({ namespace: world.ns });
      const out: Record<string, string[]> = {};
      for (const e of list.items) {
        if (!(e.regarding.uid in expected)) continue;
        out[e.regarding.uid] = [...(out[e.regarding.uid] ?? []), ...times(e.series?.count ?? 1, `${e.reason} by ${e.reportingController}`)];
      }
      // At the expunge, the disk leaving the undefined domain (VOLUME.DETACH) and the volume's deletion (VOLUME.DELETE) are each
      // seen once at most: a volume gone before the operator saw it deleting has no VOLUME.DELETE (issue 11).
      for (const [key, list] of Object.entries(out)) {
        const once = [`VOLUME.DETACH by ${operator}`, `VOLUME.DELETE by ${operator}`].filter((w) => list.filter((x) => x === w).length === 1);
        out[key] = list.filter((w) => !once.includes(w)).sort();
      }
      return out;
    };
    // A repeat of an Event (the same note) is counted in its series, whose count an emitter writes within 30 s.
    await until('the lifecycle\'s events', 60_000, async () => {
      const now = await seen();
      return Object.entries(expected).every(([key, want]) => now[key]?.length === want.length) ? true : undefined;
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await seen()).to.deep.equal(expected);
  });

  it('expunges a destroyed VM by itself after expunge.delay', async () => {
    await world.setSettings({ 'expunge.delay': '3' });
    await world.res('VirtualMachine').create({ metadata: { name: 'short', namespace: world.ns }, spec: world.vmSpec() });
    const running = await world.waitFor('VirtualMachine', 'short', 'Running', settled('Running'), 120_000);
    await world.res('VirtualMachine').patch({ name: 'short', namespace: world.ns }, { spec: { state: 'Destroyed' } });
    await until('VM short to be expunged', 60_000, async () => ((await world.get('VirtualMachine', 'short')) ? undefined : true));
    expect((await world.domains()).find((d) => d.uid === running.metadata.uid)).to.equal(undefined);
  });
});
