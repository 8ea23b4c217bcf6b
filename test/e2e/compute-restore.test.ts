import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rootVolumeName } from '../../lib/compute.ts';
import { metav1Time } from '../../lib/time.ts';
import { condition, createComputeWorld, type ComputeWorld, type Obj } from '../support/compute-world.ts';

/**
 * restoreVirtualMachine through spec (spec.restoreRequestedAt), with the real operator and a
 * real agent process on the simulated hypervisor: the root disk is made again from the
 * template (or a new one), the old disk is deleted, the VM keeps its uid, NICs and address, and
 * returns to its power state; a restore cut short by killing both processes converges with
 * one new root and nothing leaked. (The webhook's refusals: compute-admission.test.ts; this
 * world runs no webhook.)
 * Simulated hosts touch nothing of this machine's but their folders: no host lock.
 */

type Ref = { name?: string };

describe('compute restore: a VM\'s root disk made again from its template (operator and agent, simulated hypervisor)', function () {
  this.timeout(300_000);
  let world: ComputeWorld;
  let operator: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  let host = '';
  let uid = '';

  const vm = async () => (await world.get('VirtualMachine', 'web'))!;
  const spec = (patch: Record<string, unknown>) => world.res('VirtualMachine').patch({ name: 'web', namespace: world.ns }, { spec: patch });
  const settled = (state: string) => (o: Obj) => o.status?.state === state && condition(o, 'Ready')?.status === 'True' && condition(o, 'Ready')?.observedGeneration === o.metadata.generation;
  const restored = (token: string, state: string) => (o: Obj) => o.status?.['lastRestoreAt'] === token && settled(state)(o);
  const volumesOfWeb = async () => (await world.inventory()).volumes.filter((v) => (v.spec?.vmRef as Ref | undefined)?.name === 'web');
  /** A distinct request token per call (the tokens have whole seconds). */
  let lastToken = 0;
  const token = () => {
    lastToken = Math.max(Date.now(), lastToken + 1000);
    return metav1Time(new Date(lastToken));
  };

  /** The notes of the VM's VM.RESTORE events, once the event recorder has written them. */
  async function restoreEvents(): Promise<string[]> {
    const events = world.client.resource<Obj & { reason?: string; note?: string; regarding?: { name?: string } }>({ group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true });
    const deadline = Date.now() + 15_000;
    for (;;) {
      const notes = (await events.list({ namespace: world.ns })).items.filter((e) => e.regarding?.name === 'web' && e.reason === 'VM.RESTORE').map((e) => e.note ?? '');
      if (notes.length > 0 || Date.now() > deadline) return notes;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Every Volume of the VM has exactly its disk on the host, and no other disk is there. */
  async function expectNoLeaks(): Promise<void> {
    const inventory = await world.inventory();
    const uids = inventory.volumes.map((v) => v.metadata.uid ?? '').sort();
    // The pool's own folders (template copies, heartbeats) start with a dot; every other file is a Volume's disk.
    const files = inventory.disks.filter((d) => !d.file.startsWith('.')).map((d) => d.file.replace(/\.(qcow2|raw)$/, '')).sort();
    expect(files, 'disk files on the pool = the Volumes').to.deep.equal(uids);
    expect(inventory.domains.map((d) => d.uid)).to.deep.equal([uid]);
  }

  before(async function () {
    this.timeout(240_000);
    world = await createComputeWorld('crestore', { hosts: 1, networks: 1 });
    operator = world.startOperator();
    agent = world.startAgent(world.hosts[0]!);
    await world.ready();
    const image = join(world.workDir, 'tiny.qcow2');
    const checksum = createHash('sha256').update(await readFile(image)).digest('hex');
    await world.res('Template').create({ metadata: { name: 'tiny2', namespace: world.ns }, spec: { url: `file://${image}`, format: 'QCOW2', checksum: `{SHA-256}${checksum}`, hypervisor: 'Simulator', zoneRefs: [{ name: world.names.zone }] } });
    await world.waitFor('Template', 'tiny2', 'downloaded', (o) => o.status?.['isReady'] === true, 120_000);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.log(await world.logs(40));
  });

  after(async function () {
    this.timeout(120_000);
    await world.kill(operator);
    await world.kill(agent);
    await world?.cleanup();
  });

  it('restores a running VM: a new root disk, the old one deleted, the same uid, NICs and address, powered off and started again', async () => {
    await world.res('VirtualMachine').create({
      metadata: { name: 'web', namespace: world.ns },
      spec: world.vmSpec({ networks: [{ name: world.names.networks[0] }], dataDisks: [{ name: 'data', diskOfferingRef: { name: world.names.disk } }] }),
    });
    const before = await world.waitFor('VirtualMachine', 'web', 'Running and Ready', settled('Running'), 120_000);
    uid = before.metadata.uid ?? '';
    host = (before.status?.placement as { host: string }).host;
    const oldRoot = (await volumesOfWeb()).find((v) => v.metadata.name === 'web-root')!;
    expect(oldRoot, 'the first root volume').to.not.equal(undefined);
    const oldDomain = (await world.domains(host)).find((d) => d.uid === uid) as unknown as { startedAt: number };

    const asked = token();
    await spec({ restoreRequestedAt: asked });
    // What Ready said on the way (sampled as the wait polls): Restoring, with what it waits for.
    const said = new Set<string>();
    const after = await world.waitFor('VirtualMachine', 'web', 'restored and Running', (o) => {
      const ready = condition(o, 'Ready');
      if (ready?.reason === 'Restoring') said.add(ready.message ?? '');
      return restored(asked, 'Running')(o);
    }, 120_000);
    const newName = rootVolumeName({ metadata: { name: 'web', uid }, spec: { restoreRequestedAt: asked } });
    expect([...said].some((m) => m.includes(newName) || m.includes('replaced root disk')), `Ready said Restoring on the way: ${[...said].join(' | ')}`).to.equal(true);
    expect(await restoreEvents(), 'one VM.RESTORE event naming the new root').to.deep.equal([`root disk replaced by Volume ${newName} from template ${world.ns}/${world.names.template}`]);
    const volumes = await volumesOfWeb();
    expect(volumes.map((v) => v.metadata.name).sort(), 'the data disk stays; the root is the new one only').to.deep.equal(['web-data', newName].sort());
    const newRoot = volumes.find((v) => v.metadata.name === newName)!;
    expect(newRoot.metadata.uid).to.not.equal(oldRoot.metadata.uid);
    expect((newRoot.spec?.templateRef as Ref).name).to.equal(world.names.template);
    expect(after.metadata.uid, 'the same VM').to.equal(uid);
    expect(after.status?.nics, 'the same NICs and address').to.deep.equal(before.status?.nics);
    expect((after.status?.volumes as { name: string; deviceId: number }[]).find((v) => v.deviceId === 0)?.name, 'the domain boots the new disk').to.equal(newName);
    const newDomain = (await world.domains(host)).find((d) => d.uid === uid) as unknown as { state: string; startedAt: number; liveDisks: string[] };
    expect(newDomain.state).to.equal('running');
    expect(newDomain.startedAt, 'started again').to.be.greaterThan(oldDomain.startedAt);
    expect(newDomain.liveDisks.some((p) => p.includes(newRoot.metadata.uid ?? '-'))).to.equal(true);
    expect(newDomain.liveDisks.some((p) => p.includes(oldRoot.metadata.uid ?? '-')), 'the old disk is out of the domain').to.equal(false);
    await expectNoLeaks();
  });

  it('restores a stopped VM onto another template, which becomes its template; it stays stopped', async () => {
    await spec({ state: 'Stopped' });
    await world.waitFor('VirtualMachine', 'web', 'Stopped', settled('Stopped'));
    const asked = token();
    await spec({ restoreRequestedAt: asked, templateRef: { name: 'tiny2' } });
    await world.waitFor('VirtualMachine', 'web', 'restored and Stopped', restored(asked, 'Stopped'), 120_000);
    const newName = rootVolumeName({ metadata: { name: 'web', uid }, spec: { restoreRequestedAt: asked } });
    const root = (await volumesOfWeb()).filter((v) => v.spec?.type === 'ROOT');
    expect(root.map((v) => v.metadata.name)).to.deep.equal([newName]);
    expect((root[0]?.spec?.templateRef as Ref).name).to.equal('tiny2');
    const domain = (await world.domains(host)).find((d) => d.uid === uid) as unknown as { state: string; definedDisks: string[] };
    expect(domain.state, 'not started by the restore').to.equal('shutoff');
    expect(domain.definedDisks.some((p) => p.includes(root[0]?.metadata.uid ?? '-')), 'defined with the new disk').to.equal(true);
    await expectNoLeaks();
  });

  it('refuses a template change without a restore, and a restore of an ISO VM (the apiserver\'s rules; the webhook\'s: compute-admission.test.ts)', async () => {
    const refusal = (write: Promise<unknown>) =>
      write.then(
        () => 'admitted',
        (e: unknown) => (e as Error).message,
      );
    expect(await refusal(spec({ templateRef: { name: world.names.template } }))).to.match(/spec.templateRef changes only with a restore: set spec.restoreRequestedAt/);
    const iso = world.res('VirtualMachine').create({ metadata: { name: 'iso-vm', namespace: world.ns }, spec: { ...world.vmSpec({ state: 'Stopped' }), templateRef: undefined, isoRef: { name: 'nope' }, rootDiskOfferingRef: { name: world.names.disk }, restoreRequestedAt: token() } });
    expect(await refusal(iso)).to.match(/spec.restoreRequestedAt needs spec.templateRef/);
  });

  it('converges when the operator and the agent are killed in the middle of a restore: one new root, nothing leaked', async () => {
    await spec({ state: 'Running' });
    await world.waitFor('VirtualMachine', 'web', 'Running', settled('Running'));
    const asked = token();
    const newName = rootVolumeName({ metadata: { name: 'web', uid }, spec: { restoreRequestedAt: asked } });
    await spec({ restoreRequestedAt: asked, templateRef: { name: world.names.template } });
    // Killed once the new root exists, before the restore is through.
    await world.waitFor('Volume', newName, 'created', () => true, 60_000);
    await world.kill(agent);
    await world.kill(operator);
    expect((await vm()).status?.['lastRestoreAt'], 'cut short before it was done').to.not.equal(asked);
    operator = world.startOperator();
    agent = world.startAgent(host);
    await world.waitFor('VirtualMachine', 'web', 'restored and Running', restored(asked, 'Running'), 180_000);
    const roots = (await volumesOfWeb()).filter((v) => v.spec?.type === 'ROOT');
    expect(roots.map((v) => v.metadata.name)).to.deep.equal([newName]);
    await expectNoLeaks();
  });
});
