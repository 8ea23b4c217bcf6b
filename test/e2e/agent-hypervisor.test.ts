import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { expect } from 'chai';
import { log } from '../../lib/log.ts';
import { commandRunner } from '../../node-daemon/drivers/exec.ts';
import { hostFacts } from '../../node-daemon/drivers/host/facts.ts';
import { libvirtDriver, type LibvirtDriver } from '../../node-daemon/drivers/hypervisor/libvirt.ts';
import type { DomainEvent, DomainSpec } from '../../node-daemon/drivers/hypervisor/types.ts';
import { domainName } from '../../node-daemon/drivers/identity.ts';
import { fileStorageDriver } from '../../node-daemon/drivers/storage/driver.ts';
import type { PoolSpec } from '../../node-daemon/drivers/storage/types.ts';
import { ensureGuestTemplate, type GuestTemplate } from '../../node-daemon/guest-template/build.ts';
import { useLibvirt, type TestLibvirt } from '../support/libvirtd.ts';
import { until } from '../support/until.ts';


describe('agent hypervisor driver on real libvirt/KVM', function () {
  this.timeout(180_000);
  let libvirt: TestLibvirt;
  /** Real KVM domains wherever libvirt is real: the default would pick emulation on a PVM host. */
  const kvm = () => (libvirt.limitation === undefined ? { domainType: 'kvm' as const } : {});
  let guest: GuestTemplate;
  let driver: LibvirtDriver;
  let workDir: string;
  let pool: PoolSpec;
  const vmUid = randomUUID();
  const rootUid = randomUUID();
  const logger = log.child({ test: 'agent-hypervisor' });

  before(async function () {
    libvirt = await useLibvirt();
    if (libvirt.limitation !== undefined) console.log(`      NOTE: ${libvirt.limitation}`);
    guest = await ensureGuestTemplate({ logger });
    // Under /var/tmp and world-traversable: a system libvirtd runs QEMU as libvirt-qemu.
    workDir = await mkdtemp('/var/tmp/kumulus-e2e-');
    await chmod(workDir, 0o755);
    pool = { type: 'Local', uid: randomUUID(), path: join(workDir, 'pool') };
    driver = libvirtDriver({ uri: libvirt.uri, ...kvm(), logger });
  });

  after(async function () {
    await driver?.undefine(vmUid).catch(() => undefined);
    await libvirt?.release();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const spec = (): DomainSpec => ({
    uid: vmUid,
    title: 'e2e lifecycle',
    vcpus: 1,
    memoryMiB: 128,
    disks: [{ path: join(workDir, 'pool', `${rootUid}.qcow2`), format: 'qcow2', volumeUid: rootUid, deviceId: 0 }],
    nics: [],
    serialLogPath: join(workDir, `${vmUid}.serial.log`),
  });

  it('reports host facts: capacity from libvirt and /proc, hypervisor version, CPU model, bridges and interfaces', async function () {
    const facts = await hostFacts(libvirt.uri);
    console.log(`      ${JSON.stringify({ ...facts, interfaces: facts.interfaces.length })}`);
    expect(facts.memoryBytes).to.equal(totalmem());
    if (libvirt.uri.startsWith('test:')) return;
    expect(facts.cpuThreads).to.equal(cpus().length);
    expect(facts.cpuModel).to.equal(cpus()[0]?.model.trim());
    expect(facts.hypervisor.type).to.equal('QEMU');
    expect(facts.hypervisor.version).to.match(/^\d+\.\d+/);
    expect(facts.interfaces.map((i) => i.name)).to.include('eth0');
  });

  it('builds the root disk from the cached template, then defines, starts, shuts down, starts, reboots and destroys the domain, no call waiting for the guest', async function () {
    const storage = fileStorageDriver({ hostName: 'e2e', logger });
    expect((await storage.applyPool(pool)).ready).to.equal(true);
    const actions = await storage.applyVolume(pool, {
      kind: 'root',
      uid: rootUid,
      template: { uid: randomUUID(), format: 'qcow2', checksum: `{SHA-256}${guest.sha256}`, url: `file://${guest.path}` },
      sizeBytes: 128 * 1024 * 1024,
    });
    expect(actions).to.deep.equal(['fill-template', 'create']);
    const volume = await storage.observeVolume(pool, rootUid);
    expect(volume?.backingFile).to.match(/\.kumulus-templates\//);
    expect(volume?.virtualSizeBytes).to.equal(128 * 1024 * 1024);

    const events: DomainEvent[] = [];
    const follower = driver.followEvents((e) => events.push(e));
    try {
      expect(await driver.define(spec())).to.equal('define');
      expect(await driver.define(spec()), 'already right').to.equal(undefined);
      await driver.start(vmUid);
      const running = await driver.observe(vmUid);
      expect(running?.state).to.equal('running');
      expect(running?.pid).to.be.a('number');
      if (libvirt.limitation === undefined) {
        const xml = (await commandRunner()(['virsh', '-c', libvirt.uri, 'dumpxml', domainName(vmUid)])).stdout;
        expect(xml, 'a KVM domain, whatever the driver would pick by default').to.match(/<domain type='kvm'/);
      }
      await until('a Started event', 10_000, () => Promise.resolve(events.find((e) => e.type === 'lifecycle' && e.detail.startsWith('Started'))));

      // No guest answers ACPI here (the kernel has not come up yet, nor the guest's acpid): the
      // shutdown returns at once, recorded in the running domain, which stays up until it is
      // destroyed.
      const sentAt = new Date();
      const t0 = Date.now();
      await driver.shutdown(vmUid, '7', sentAt);
      expect(Date.now() - t0, 'the ACPI request does not wait for the guest').to.be.below(2000);
      const asked = await driver.observe(vmUid);
      expect(asked?.shutdownSent).to.deep.equal({ token: '7', at: sentAt });
      expect(asked?.state).to.equal('running');
      await driver.destroy(vmUid);
      const off = await driver.observe(vmUid);
      expect(off?.state).to.equal('shutoff');
      expect(off?.shutdownSent, 'the record goes with the running domain').to.equal(undefined);

      await driver.start(vmUid);
      const pidBefore = (await driver.observe(vmUid))?.pid;
      await driver.reboot(vmUid, 'r1', sentAt);
      expect((await driver.observe(vmUid))?.rebootSent).to.deep.equal({ token: 'r1', at: sentAt });
      await driver.reset(vmUid);
      const afterReboot = await driver.observe(vmUid);
      expect(afterReboot?.state).to.equal('running');
      expect(afterReboot?.pid, 'a reboot keeps the QEMU process').to.equal(pidBefore);

      const stats = (await driver.stats()).find((s) => s.uid === vmUid);
      expect(stats?.state).to.equal('running');
      expect(stats?.cpuTimeNs).to.be.greaterThan(0);
      expect(stats?.disks.map((d) => d.name)).to.deep.equal(['vda']);

      await driver.destroy(vmUid);
      expect((await driver.observe(vmUid))?.state).to.equal('shutoff');
      await until('a Stopped Destroyed event', 10_000, () =>
        Promise.resolve(events.find((e) => e.type === 'lifecycle' && e.detail.startsWith('Stopped Destroyed'))),
      );
    } finally {
      await follower.stop();
    }
  });

  it('adopts a running domain after the event follower is killed and the driver restarts: same UUID, same QEMU PID, no actions', async function () {
    await driver.define(spec());
    await driver.start(vmUid);
    const before = await driver.observe(vmUid);
    expect(before?.state).to.equal('running');
    expect(before?.pid).to.be.a('number');

    const events: DomainEvent[] = [];
    const follower = driver.followEvents((e) => events.push(e));
    const firstChild = follower.childPid();
    expect(firstChild).to.be.a('number');
    process.kill(firstChild ?? 0, 'SIGKILL');
    await until('the follower to restart', 10_000, () => {
      const pid = follower.childPid();
      return Promise.resolve(pid !== undefined && pid !== firstChild ? pid : undefined);
    });
    expect(events.filter((e) => e.type === 'resync')).to.have.length(2);
    await follower.stop();

    const restarted = libvirtDriver({ uri: libvirt.uri, ...kvm(), logger });
    const listed = await restarted.list();
    expect(listed.map((d) => d.uid)).to.include(vmUid);
    const adopted = await restarted.observe(vmUid);
    expect(adopted?.uid).to.equal(vmUid);
    expect(adopted?.pid).to.equal(before?.pid);
    expect(adopted?.specDigest, 'nothing to change').to.equal(restarted.digest(spec()));
    expect(await restarted.define(spec())).to.equal(undefined);
    expect((await restarted.observe(vmUid))?.pid).to.equal(before?.pid);

    // A changed spec is redefined without touching the running guest.
    expect(await restarted.define({ ...spec(), memoryMiB: 160 })).to.equal('redefine');
    expect((await restarted.observe(vmUid))?.pid).to.equal(before?.pid);

    await restarted.undefine(vmUid);
    expect(await restarted.observe(vmUid)).to.equal(undefined);
  });

  it('puts the ISO in the CD-ROM drive (hdc) at define, and ejects and inserts media in the running domain live, as its live XML shows', async function () {
    const run = commandRunner();
    // Two small ISOs, as the template machinery leaves them on secondary storage: read-only files.
    const isos: string[] = [];
    for (const label of ['FIRST', 'SECOND']) {
      const content = join(workDir, `iso-${label}`);
      await mkdir(content, { recursive: true });
      await writeFile(join(content, 'README.TXT'), `${label}\n`);
      const path = join(workDir, `${label.toLowerCase()}.iso`);
      await run(['genisoimage', '-quiet', '-V', label, '-o', path, content]);
      await chmod(path, 0o644);
      isos.push(path);
    }
    const [first = '', second = ''] = isos;
    const dumpxml = async (...flags: string[]) => (await run(['virsh', '-c', libvirt.uri, 'dumpxml', ...flags, domainName(vmUid)])).stdout;
    /** The hdc drive's source file, read here from libvirt's XML (not with the driver's parser), or null when the drive is empty. */
    const hdc = (xml: string): string | null => {
      const drive = xml.split('</disk>').find((d) => /<target dev='hdc' bus='ide'/.test(d));
      expect(drive, `an hdc drive in\n${xml}`).to.match(/device='cdrom'/);
      return /<source file='([^']*)'/.exec(drive ?? '')?.[1] ?? null;
    };

    // A fresh domain, whatever an earlier test of this file left.
    await driver.undefine(vmUid).catch(() => undefined);
    expect(await driver.define({ ...spec(), iso: first })).to.equal('define');
    await driver.start(vmUid);
    const pid = (await driver.observe(vmUid))?.pid;
    expect(hdc(await dumpxml()), 'started with the definition\'s ISO').to.equal(first);
    expect((await driver.observe(vmUid))?.isoPath).to.equal(first);
    if (libvirt.limitation === undefined) {
      // QEMU opened the file: its block layer shows the media in the IDE drive.
      const blocks = (await run(['virsh', '-c', libvirt.uri, 'qemu-monitor-command', domainName(vmUid), '--hmp', 'info block'])).stdout;
      expect(blocks).to.include(first);
    }

    await driver.changeMedia(vmUid, undefined);
    expect(hdc(await dumpxml()), 'ejected live').to.equal(null);
    expect(await driver.observe(vmUid)).to.not.have.property('isoPath');
    expect(hdc(await dumpxml('--inactive')), 'the definition is define\'s: untouched by the live change').to.equal(first);

    // The agent's order for a new ISO: the definition first (the next start), then the running drive.
    expect(await driver.define({ ...spec(), iso: second })).to.equal('redefine');
    await driver.changeMedia(vmUid, second);
    expect(hdc(await dumpxml()), 'inserted live').to.equal(second);
    expect(hdc(await dumpxml('--inactive'))).to.equal(second);
    expect((await driver.observe(vmUid))?.isoPath).to.equal(second);
    // Replaced while in: no eject first.
    await driver.changeMedia(vmUid, first);
    expect(hdc(await dumpxml()), 'replaced live').to.equal(first);
    const running = await driver.observe(vmUid);
    expect(running?.state).to.equal('running');
    expect(running?.pid, 'the same QEMU process throughout').to.equal(pid);
    expect(running?.diskPaths, 'the ISO is no disk of the VM').to.deep.equal([spec().disks[0]?.path]);

    let refused: unknown;
    await driver.changeMedia(vmUid, join(workDir, 'absent.iso')).catch((err: unknown) => (refused = err));
    expect(refused, 'media that is not there is refused').to.be.instanceOf(Error);
    expect(hdc(await dumpxml()), 'and the drive keeps what it held').to.equal(first);

    await driver.destroy(vmUid);
    expect((await driver.observe(vmUid))?.isoPath, 'off: the definition\'s media').to.equal(second);
    await driver.undefine(vmUid);
  });
});
