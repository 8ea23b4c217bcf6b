import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EVENTS } from '../../lib/events.ts';
import type { RunningAgent } from '../../node-daemon/main.ts';
import { condition, createAgentWorld, getOrUndefined, waitFor, type AgentWorld, type Obj } from '../support/agent-world.ts';
import { until } from '../support/until.ts';

const exec = promisify(execFile);

/**
 * The agent's VM and Volume reconcilers on the simulator hypervisor, against the real control
 * plane, the test playing the operator (placement, status.nics, status.pool, the Scheduled
 * condition's time). No libvirt and no host networking: the simulated agent's network driver
 * touches nothing. Disks are real qcow2 files in a temporary pool. Covered here: data volumes
 * plugged into and out of a running domain and grown live, the config drive, the ISO in the
 * CD-ROM drive, and host admission, the last guard against a double-booked host.
 */
describe('agent on the simulator hypervisor: hot-plug and host admission (real control plane)', function () {
  this.timeout(120_000);
  let world: AgentWorld;
  let agent: RunningAgent | undefined;
  const running = (o: Obj) => condition(o, 'Running')?.status === 'True';

  before(async function () {
    world = await createAgentWorld('agent-sim');
    // A small template: the simulator boots nothing.
    const path = join(world.workDir, 'template.qcow2');
    await exec('qemu-img', ['create', '-q', '-f', 'qcow2', path, '64M']);
    const sha = createHash('sha256').update(await readFile(path)).digest('hex');
    await world.res('templates').create({
      metadata: { name: 'tiny', namespace: world.ns },
      spec: { url: `file://${path}`, format: 'QCOW2', checksum: `{SHA-256}${sha}`, zoneRefs: [{ name: world.names.zone }] },
    });
    agent = await world.runSimulatedAgent();
    await waitFor(world.res('primaryStorages'), world.names.pool, 'mounted', (p) => (p.status?.mounts as { mounted: boolean }[] | undefined)?.[0]?.mounted === true);
  });

  after(async function () {
    await agent?.stop();
    await world?.cleanup([]);
  });

  it('plugs a data volume into the running domain, grows it live, and unplugs it when it is detached', async function () {
    await world.placeVm('web');
    await waitFor(world.res('vms'), 'web', 'Running', running, 60_000, world.ns);
    const extra = await world.createDataVolume('web-extra', 'web', { deviceId: 1, size: '1Gi' });
    const path = join(world.poolDir, `${extra.metadata.uid}.qcow2`);
    await waitFor(world.res('volumes'), 'web-extra', 'Attached', (v) => condition(v, 'Attached')?.status === 'True', 30_000, world.ns);
    const listed = await waitFor(world.res('vms'), 'web', 'listing it', (o) => (o.status?.volumes as { name: string }[]).some((v) => v.name === 'web-extra'), 10_000, world.ns);
    expect(running(listed)).to.equal(true);
    // One without spec.deviceId takes the first free device, and status.volumes says which.
    await world.createDataVolume('web-free', 'web', { size: '1Gi' });
    const withFree = await waitFor(world.res('vms'), 'web', 'listing web-free', (o) => (o.status?.volumes as { name: string }[]).some((v) => v.name === 'web-free'), 30_000, world.ns);
    expect((withFree.status?.volumes as { name: string; deviceId: number }[]).map((v) => [v.name, v.deviceId]).sort()).to.deep.equal([
      ['web-extra', 1],
      ['web-free', 2],
      ['web-root', 0],
    ]);

    await world.res('volumes').patch({ name: 'web-extra', namespace: world.ns }, { spec: { size: '2Gi' } });
    await waitFor(world.res('volumes'), 'web-extra', 'grown', (v) => v.status?.sizeBytes === 2 * 2 ** 30, 30_000, world.ns);
    const info = JSON.parse((await exec('qemu-img', ['info', '-U', '--output=json', path])).stdout) as { 'virtual-size': number };
    expect(info['virtual-size']).to.equal(2 * 2 ** 30);

    await world.res('volumes').patch({ name: 'web-extra', namespace: world.ns }, { spec: { vmRef: null, deviceId: null } });
    const detached = await waitFor(world.res('volumes'), 'web-extra', 'Detached', (v) => condition(v, 'Attached')?.status === 'False', 30_000, world.ns);
    expect(condition(detached, 'Attached')?.message).to.equal('no domain on this host uses it');
    await waitFor(world.res('vms'), 'web', 'no longer listing it', (o) => !(o.status?.volumes as { name: string }[]).some((v) => v.name === 'web-extra'), 10_000, world.ns);
    await world.res('volumes').delete({ name: 'web-extra', namespace: world.ns });
    await until('the detached volume and its disk to go', 30_000, async () => ((await getOrUndefined(world.res('volumes'), 'web-extra', world.ns)) ? undefined : true));
  });

  it('builds the config drive from the VM and its key pair, rebuilds it when the pair gets its key, and removes it with the VM', async function () {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxU4aR5f3p1d0Y4pX3Wl6m3b8Kc2mJQ0rT7yH9vN2sB login@kumulus';
    // A pair whose key the operator generates: the VM may start before the key is written.
    await world.res('sshKeyPairs').create({ metadata: { name: 'login', namespace: world.ns }, spec: {} });
    const vm = await world.placeVm('keyed', { sshKeyPair: 'login' });
    await waitFor(world.res('vms'), 'keyed', 'Running', running, 60_000, world.ns);
    const iso = join(world.agentStateDir, 'config-drives', `${vm.metadata.uid}.iso`);
    const keys = async () => (await exec('isoinfo', ['-R', '-x', '/cloudstack/metadata/public-keys.txt', '-i', iso]).catch(() => ({ stdout: 'none' }))).stdout;
    expect(await keys(), 'a drive without a key yet').to.equal('');
    const metadata = JSON.parse((await exec('isoinfo', ['-R', '-x', '/openstack/latest/meta_data.json', '-i', iso])).stdout) as { uuid: string; hostname: string };
    expect(metadata).to.include({ uuid: vm.metadata.uid, hostname: 'keyed' });

    // The key pair's watch brings the VM back: the drive follows (the guest sees it at its next start).
    await world.res('sshKeyPairs').patch({ name: 'login', namespace: world.ns }, { spec: { publicKey: key } });
    await until('the drive to carry the key', 30_000, async () => ((await keys()) === `${key}\n` ? true : undefined));

    await world.res('vms').delete({ name: 'keyed', namespace: world.ns }, { propagationPolicy: 'Background' });
    await until('the VM and its drive to be gone', 60_000, async () =>
      (await getOrUndefined(world.res('vms'), 'keyed', world.ns)) === undefined && !existsSync(iso) ? true : undefined,
    );
  });

  it('starts a VM with its ISO (spec.attachedIsoRef) once the zone has it, from secondary storage, and ejects and inserts it live; status.attachedIso says what the drive holds', async function () {
    const content = join(world.workDir, 'iso-content');
    await mkdir(content, { recursive: true });
    await writeFile(join(content, 'README.TXT'), 'installer\n');
    const isoFile = join(world.workDir, 'installer.iso');
    await exec('genisoimage', ['-quiet', '-V', 'INSTALLER', '-o', isoFile, content]);
    // Placed before its ISO exists: it waits, saying for what.
    const vm = await world.placeVm('cd', { attachedIso: 'installer' });
    const waiting = await waitFor(world.res('vms'), 'cd', 'waiting for its ISO', (o) => condition(o, 'Running')?.reason === 'WaitingForIso', 30_000, world.ns);
    expect(condition(waiting, 'Running')?.message).to.equal(`the ISO for the CD-ROM drive (spec.attachedIsoRef): Template ${world.ns}/installer does not exist`);
    expect(waiting.status?.powerState, 'no domain yet').to.equal('PowerReportMissing');

    const sha = createHash('sha256').update(await readFile(isoFile)).digest('hex');
    const template = await world.res('templates').create({
      metadata: { name: 'installer', namespace: world.ns },
      spec: { url: `file://${isoFile}`, format: 'ISO', checksum: `{SHA-256}${sha}`, zoneRefs: [{ name: world.names.zone }] },
    });
    const up = await waitFor(world.res('vms'), 'cd', 'Running with its ISO', (o) => running(o) && o.status?.attachedIso !== undefined, 60_000, world.ns);
    expect(up.status?.attachedIso).to.deep.equal({ name: 'installer', namespace: world.ns });
    // The simulated domain (the agent's state dir) holds the zone's copy on secondary storage, not the URL's file.
    const uid = template.metadata.uid ?? '';
    const domainFile = join(world.agentStateDir, 'simulator', `${vm.metadata.uid}.json`);
    const drive = async () => JSON.parse(await readFile(domainFile, 'utf8')) as { definedIso?: string; liveIso?: string };
    const copy = join(world.workDir, 'secondary', 'template', 'tmpl', uid, `${uid}.iso`);
    expect(await drive()).to.include({ definedIso: copy, liveIso: copy });
    expect(createHash('sha256').update(await readFile(copy)).digest('hex')).to.equal(sha);

    await world.res('vms').patch({ name: 'cd', namespace: world.ns }, { spec: { attachedIsoRef: null } });
    const ejected = await waitFor(world.res('vms'), 'cd', 'ejected', (o) => o.status?.attachedIso === undefined, 30_000, world.ns);
    expect(running(ejected), 'live: the VM kept running').to.equal(true);
    expect(await drive()).to.not.have.any.keys('definedIso', 'liveIso');

    await world.res('vms').patch({ name: 'cd', namespace: world.ns }, { spec: { attachedIsoRef: { name: 'installer', namespace: world.ns } } });
    await waitFor(world.res('vms'), 'cd', 'inserted again', (o) => o.status?.attachedIso !== undefined, 30_000, world.ns);
    expect(await drive()).to.include({ definedIso: copy, liveIso: copy });
    // The live changes, as events on the VM (the first insert came with the definition at start).
    await until('ISO.DETACH and ISO.ATTACH events', 30_000, async () => {
      const events = await world.client.resource<Obj & { reason?: string; regarding?: { uid?: string } }>(EVENTS).list({ namespace: world.ns });
      const reasons = events.items.filter((e) => e.regarding?.uid === vm.metadata.uid).map((e) => e.reason);
      return reasons.includes('ISO.DETACH') && reasons.includes('ISO.ATTACH') ? true : undefined;
    });
  });

  it('refuses to start a VM that would take the host over its memory, in placement order, and starts it once room is made', async function () {
    const host = await world.res('hosts').get({ name: world.node });
    const memory = (host.status?.capacity as { memoryBytes: number }).memoryBytes;
    // Each takes 60% of the host: both fit nowhere together, as the planner would know.
    await world.res('serviceOfferings').create({ metadata: { name: `big-${world.ns}` }, spec: { cpuNumber: 1, cpuSpeed: 100, memory: String(Math.floor(memory * 0.6)) } });
    const placed = async (name: string, at: string) => {
      await world.placeVm(name, { offering: `big-${world.ns}`, scheduledAt: at });
    };
    // Placed in the opposite order of creation: the placement time decides, not the name or the
    // creation. The agent is away while both are placed: a running agent could start big-b before
    // big-a exists, and a running VM rightly counts before any placement.
    await agent?.stop();
    await placed('big-b', '2026-12-07T10:00:02Z');
    await placed('big-a', '2026-12-07T10:00:01Z');
    agent = await world.runSimulatedAgent();
    await waitFor(world.res('vms'), 'big-a', 'Running', running, 60_000, world.ns);
    const refused = await waitFor(world.res('vms'), 'big-b', 'refused', (o) => condition(o, 'Running')?.reason === 'InsufficientCapacity', 60_000, world.ns);
    expect(condition(refused, 'Running')?.status).to.equal('False');
    expect(condition(refused, 'Running')?.message).to.match(new RegExp(`^host ${world.node} is full for VM ${world.ns}/big-b, counting the VMs placed there before it: memory: it needs \\d+ MiB and \\d+ MiB of \\d+ MiB are left`));
    expect(refused.status?.powerState, 'no domain was made for it').to.equal('PowerReportMissing');

    await world.res('vms').delete({ name: 'big-a', namespace: world.ns }, { propagationPolicy: 'Background' });
    await waitFor(world.res('vms'), 'big-b', 'Running once big-a is gone', running, 60_000, world.ns);
    await world.res('serviceOfferings').delete({ name: `big-${world.ns}` });
  });
});
