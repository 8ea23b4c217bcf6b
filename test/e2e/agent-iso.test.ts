import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../../lib/log.ts';
import { commandRunner } from '../../node-daemon/drivers/exec.ts';
import { libvirtDriver, type LibvirtDriver } from '../../node-daemon/drivers/hypervisor/libvirt.ts';
import { domainName } from '../../node-daemon/drivers/identity.ts';
import { ensureGuestTemplate, type GuestTemplate } from '../../node-daemon/guest-template/build.ts';
import { runAgent, type RunningAgent } from '../../node-daemon/main.ts';
import { condition, createAgentWorld, getOrUndefined, waitFor, type AgentWorld, type Obj } from '../support/agent-world.ts';
import { guestDomainType } from '../support/guest-domain-type.ts';
import { useLibvirt, type TestLibvirt } from '../support/libvirtd.ts';
import { until } from '../support/until.ts';

const running = (o: Obj) => condition(o, 'Running')?.status === 'True' && o.status?.powerState === 'PowerOn';

/**
 * The ISO in a VM's CD-ROM drive (spec.attachedIsoRef), end to end on the agent: the real
 * control plane and real libvirt. The test plays the operator (placement, status.pool) and the
 * API (attachIso and detachIso write spec.attachedIsoRef). The agent downloads the ISO to the
 * zone's secondary storage, defines the domain with that copy in its IDE drive hdc, and ejects
 * and inserts the media of the running domain live; each step is read back from the live
 * domain XML through virsh, and from status.attachedIso.
 */
describe('agent: the ISO in the CD-ROM drive on real libvirt', function () {
  this.timeout(300_000);
  let world: AgentWorld;
  let libvirt: TestLibvirt;
  let guest: GuestTemplate;
  let hypervisor: LibvirtDriver;
  let agent: RunningAgent | undefined;
  let vmUid = '';

  before(async function () {
    this.timeout(600_000);
    libvirt = await useLibvirt();
    if (libvirt.limitation !== undefined) {
      console.log(`      SKIP: ${libvirt.limitation}`);
      this.skip();
    }
    world = await createAgentWorld('agent-iso');
    guest = await ensureGuestTemplate({ logger: log.child({ test: 'agent-iso' }) });
    hypervisor = libvirtDriver({ uri: libvirt.uri, domainType: guestDomainType, logger: log.child({ test: 'agent-iso' }) });
  });

  after(async function () {
    this.timeout(120_000);
    if (vmUid) await hypervisor?.undefine(vmUid).catch(() => undefined);
    await agent?.stop();
    await world?.cleanup([]);
    await libvirt?.release();
  });

  it('starts the VM with its ISO from secondary storage, ejects it live on detach and inserts it live on attach, the VM running throughout', async function () {
    const run = commandRunner();
    const content = join(world.workDir, 'iso-content');
    await mkdir(content, { recursive: true });
    await writeFile(join(content, 'README.TXT'), 'kumulus installer\n');
    const isoFile = join(world.workDir, 'installer.iso');
    await run(['genisoimage', '-quiet', '-V', 'INSTALLER', '-o', isoFile, content]);
    await chmod(isoFile, 0o644);
    const sha = createHash('sha256').update(await readFile(isoFile)).digest('hex');

    agent = await runAgent({ kubeConfig: world.client.kubeConfig, handleSignals: false, env: { NODE_NAME: world.node }, args: world.agentArgs(libvirt.uri) });
    await agent.joined;
    await world.createTemplate(guest);
    const iso = await world.res('templates').create({
      metadata: { name: 'installer', namespace: world.ns },
      spec: { url: `file://${isoFile}`, format: 'ISO', checksum: `{SHA-256}${sha}`, zoneRefs: [{ name: world.names.zone }] },
    });
    const vm = await world.placeVm('cd', { attachedIso: 'installer' });
    vmUid = vm.metadata.uid ?? '';
    const up = await waitFor(world.res('vms'), 'cd', 'Running', running, 180_000, world.ns);
    expect(up.status?.attachedIso).to.deep.equal({ name: 'installer', namespace: world.ns });

    // The zone's downloaded copy, not the URL's file: what CloudStack's KVM agent gives QEMU.
    const isoUid = iso.metadata.uid ?? '';
    const copy = join(world.workDir, 'secondary', 'template', 'tmpl', isoUid, `${isoUid}.iso`);
    expect(createHash('sha256').update(await readFile(copy)).digest('hex')).to.equal(sha);
    const dumpxml = async (...flags: string[]) => (await run(['virsh', '-c', libvirt.uri, 'dumpxml', ...flags, domainName(vmUid)])).stdout;
    /** The hdc drive's source file in libvirt's XML, or null when the drive is empty. */
    const hdc = (xml: string): string | null => {
      const drive = xml.split('</disk>').find((d) => /<target dev='hdc' bus='ide'/.test(d));
      expect(drive, `an hdc drive in\n${xml}`).to.match(/device='cdrom'/);
      return /<source file='([^']*)'/.exec(drive ?? '')?.[1] ?? null;
    };
    expect(hdc(await dumpxml()), 'started with the ISO').to.equal(copy);
    // QEMU opened it (as the user libvirt runs it as): its block layer has the media.
    const blocks = async () => (await run(['virsh', '-c', libvirt.uri, 'qemu-monitor-command', domainName(vmUid), '--hmp', 'info block'])).stdout;
    expect(await blocks()).to.include(copy);
    const pid = (await hypervisor.observe(vmUid))?.pid;

    // detachIso: the media is ejected from the running domain and from its definition.
    await world.res('vms').patch({ name: 'cd', namespace: world.ns }, { spec: { attachedIsoRef: null } });
    const ejected = await waitFor(world.res('vms'), 'cd', 'ejected', (o) => o.status?.attachedIso === undefined, 60_000, world.ns);
    expect(running(ejected)).to.equal(true);
    expect(hdc(await dumpxml()), 'ejected live').to.equal(null);
    expect(hdc(await dumpxml('--inactive')), 'and from the definition').to.equal(null);
    expect(await blocks()).to.not.include(copy);

    // attachIso: inserted again, live and in the definition.
    await world.res('vms').patch({ name: 'cd', namespace: world.ns }, { spec: { attachedIsoRef: { name: 'installer', namespace: world.ns } } });
    const inserted = await waitFor(world.res('vms'), 'cd', 'inserted', (o) => o.status?.attachedIso !== undefined, 60_000, world.ns);
    expect(inserted.status?.attachedIso).to.deep.equal({ name: 'installer', namespace: world.ns });
    expect(hdc(await dumpxml()), 'inserted live').to.equal(copy);
    expect(hdc(await dumpxml('--inactive'))).to.equal(copy);
    expect(await blocks()).to.include(copy);
    const after = await hypervisor.observe(vmUid);
    expect(after?.state).to.equal('running');
    expect(after?.pid, 'the same QEMU process throughout').to.equal(pid);

    await world.res('vms').delete({ name: 'cd', namespace: world.ns }, { propagationPolicy: 'Background' });
    await until('the VM and its domain to go', 60_000, async () => ((await getOrUndefined(world.res('vms'), 'cd', world.ns)) === undefined && (await hypervisor.observe(vmUid)) === undefined ? true : undefined));
    vmUid = '';
  });
});
