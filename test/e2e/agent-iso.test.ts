import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commandRunner } from '../../node-daemon/drivers/exec.ts';
import { domainName } from '../../node-daemon/drivers/identity.ts';
import { runAgent } from '../../node-daemon/main.ts';
import { condition, getOrUndefined, waitFor, type Obj } from '../support/agent-world.ts';
import { useLibvirtAgentWorld } from '../support/libvirt-agent-world.ts';
import { until } from '../support/until.ts';

const running = (o: Obj) => condition(o, 'Running')?.status === 'True' && o.status?.powerState === 'PowerOn';

/**
 * The ISO in a VM's CD-ROM drive (spec.attachedIsoRef), end to end on the agent: the real
 * control plane and real libvirt. The test plays the operator (placement, status.pool) and the
 * API (attachIso and detachIso write spec.attachedIsoRef). The agent downloads the ISO to the
 * zone's secondary storage, defines the domain with that copy in its IDE drive hdc, and ejects
 * and inserts the media of the running domain live; each step is read back from the live
 * domain XML through virsh, and from status.attachedIso and the agent's MediaSynced condition
 * (what the API's attachIso and detachIso jobs complete on).
 */
describe('agent: the ISO in the CD-ROM drive on real libvirt', function () {
  this.timeout(300_000);
  const fx = useLibvirtAgentWorld('agent-iso', { test: 'agent-iso' });

  it('starts the VM with its ISO from secondary storage, ejects it live on detach and inserts it live on attach, the VM running throughout', async function () {
    const run = commandRunner();
    const content = join(fx.world.workDir, 'iso-content');
    await mkdir(content, { recursive: true });
    await writeFile(join(content, 'README.TXT'), 'kumulus installer\n');
    const isoFile = join(fx.world.workDir, 'installer.iso');
    await run(['genisoimage', '-quiet', '-V', 'INSTALLER', '-o', isoFile, content]);
    await chmod(isoFile, 0o644);
    const sha = createHash('sha256').update(await readFile(isoFile)).digest('hex');

    fx.agent = await runAgent({ kubeConfig: fx.world.client.kubeConfig, handleSignals: false, env: { NODE_NAME: fx.world.node }, args: fx.world.agentArgs(fx.libvirt.uri) });
    await fx.agent.joined;
    await fx.world.createTemplate(fx.guest);
    const iso = await fx.world.res('templates').create({
      metadata: { name: 'installer', namespace: fx.world.ns },
      spec: { url: `file://${isoFile}`, format: 'ISO', checksum: `{SHA-256}${sha}`, zoneRefs: [{ name: fx.world.names.zone }] },
    });
    const vm = await fx.world.placeVm('cd', { attachedIso: 'installer' });
    fx.vmUid = vm.metadata.uid ?? '';
    const up = await waitFor(fx.world.res('vms'), 'cd', 'Running', running, 180_000, fx.world.ns);
    expect(up.status?.attachedIso).to.deep.equal({ name: 'installer', namespace: fx.world.ns });

    // The zone's downloaded copy, not the URL's file: what CloudStack's KVM agent gives QEMU.
    const isoUid = iso.metadata.uid ?? '';
    const copy = join(fx.world.workDir, 'secondary', 'template', 'tmpl', isoUid, `${isoUid}.iso`);
    expect(createHash('sha256').update(await readFile(copy)).digest('hex')).to.equal(sha);
    const dumpxml = async (...flags: string[]) => (await run(['virsh', '-c', fx.libvirt.uri, 'dumpxml', ...flags, domainName(fx.vmUid)])).stdout;
    /** The hdc drive's source file in libvirt's XML, or null when the drive is empty. */
    const hdc = (xml: string): string | null => {
      const drive = xml.split('</disk>').find((d) => /<target dev='hdc' bus='ide'/.test(d));
      expect(drive, `an hdc drive in\n${xml}`).to.match(/device='cdrom'/);
      return /<source file='([^']*)'/.exec(drive ?? '')?.[1] ?? null;
    };
    expect(hdc(await dumpxml()), 'started with the ISO').to.equal(copy);
    // QEMU opened it (as the user libvirt runs it as): its block layer has the media.
    const blocks = async () => (await run(['virsh', '-c', fx.libvirt.uri, 'qemu-monitor-command', domainName(fx.vmUid), '--hmp', 'info block'])).stdout;
    expect(await blocks()).to.include(copy);
    const pid = (await fx.hypervisor.observe(fx.vmUid))?.pid;

    // detachIso: the media is ejected from the running domain and from its definition.
    await fx.world.res('vms').patch({ name: 'cd', namespace: fx.world.ns }, { spec: { attachedIsoRef: null } });
    const ejected = await waitFor(fx.world.res('vms'), 'cd', 'ejected', (o) => o.status?.attachedIso === undefined, 60_000, fx.world.ns);
    expect(running(ejected)).to.equal(true);
    // What detachIso's job completes on: the agent's word on the drive, at the generation written.
    expect(condition(ejected, 'MediaSynced')).to.include({ status: 'True', reason: 'Empty', observedGeneration: ejected.metadata.generation });
    expect(hdc(await dumpxml()), 'ejected live').to.equal(null);
    expect(hdc(await dumpxml('--inactive')), 'and from the definition').to.equal(null);
    expect(await blocks()).to.not.include(copy);

    // attachIso: inserted again, live and in the definition.
    await fx.world.res('vms').patch({ name: 'cd', namespace: fx.world.ns }, { spec: { attachedIsoRef: { name: 'installer', namespace: fx.world.ns } } });
    const inserted = await waitFor(fx.world.res('vms'), 'cd', 'inserted', (o) => o.status?.attachedIso !== undefined, 60_000, fx.world.ns);
    expect(inserted.status?.attachedIso).to.deep.equal({ name: 'installer', namespace: fx.world.ns });
    expect(condition(inserted, 'MediaSynced')).to.include({ status: 'True', reason: 'Inserted', observedGeneration: inserted.metadata.generation });
    expect(hdc(await dumpxml()), 'inserted live').to.equal(copy);
    expect(hdc(await dumpxml('--inactive'))).to.equal(copy);
    expect(await blocks()).to.include(copy);
    const after = await fx.hypervisor.observe(fx.vmUid);
    expect(after?.state).to.equal('running');
    expect(after?.pid, 'the same QEMU process throughout').to.equal(pid);

    await fx.world.res('vms').delete({ name: 'cd', namespace: fx.world.ns }, { propagationPolicy: 'Background' });
    await until('the VM and its domain to go', 60_000, async () => ((await getOrUndefined(fx.world.res('vms'), 'cd', fx.world.ns)) === undefined && (await fx.hypervisor.observe(fx.vmUid)) === undefined ? true : undefined));
    fx.vmUid = '';
  });
});
