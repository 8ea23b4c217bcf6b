import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { diskTarget, digestOfDomainXml, renderDiskXml, renderDomainXml } from '../../node-daemon/drivers/hypervisor/domain-xml.ts';
import { diskPathsOfXml, isoDriveOfXml, isoPathOfXml, libvirtDriver, metadataAttributes, parseVirshList } from '../../node-daemon/drivers/hypervisor/libvirt.ts';
import { parseDomstats, statsFromDomstats } from '../../node-daemon/drivers/hypervisor/domstats.ts';
import { simulatorDriver } from '../../node-daemon/drivers/hypervisor/simulator.ts';
import type { DomainEvent, DomainSpec } from '../../node-daemon/drivers/hypervisor/types.ts';
import { parseVirshEventLine } from '../../node-daemon/drivers/hypervisor/virsh-events.ts';
import { nicMac } from '../../lib/guest-identity.ts';
import { domainName, vmUidOfDomain } from '../../node-daemon/drivers/identity.ts';
import type { Runner } from '../../node-daemon/drivers/exec.ts';
import { log } from '../../lib/log.ts';

const uid = '3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b';
const volumeUid = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const netUid = '11111111-2222-4333-8444-555555555555';

const spec = (): DomainSpec => ({
  uid,
  title: 'web <1> & "db"',
  vcpus: 2,
  memoryMiB: 1024,
  disks: [{ path: '/pools/p/root.qcow2', format: 'qcow2', volumeUid, deviceId: 0 }],
  nics: [{ mac: nicMac(uid, netUid), bridge: 'kbx1001', mtu: 1450 }],
  serialLogPath: '/var/log/kumulus/vm.log',
});

describe('agent hypervisor: identity', function () {
  it('derives the domain name and MACs from uids, the same every time', function () {
    expect(domainName(uid)).to.equal(`kumulus-${uid}`);
    expect(vmUidOfDomain(domainName(uid))).to.equal(uid);
    expect(vmUidOfDomain('someone-elses-vm')).to.equal(undefined);
    const mac = nicMac(uid, netUid);
    expect(mac).to.equal(nicMac(uid, netUid));
    expect(mac).to.not.equal(nicMac(uid, randomUUID()));
    expect(mac).to.match(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const first = Number.parseInt(mac.slice(0, 2), 16);
    expect(first & 0x02, 'locally administered').to.equal(2);
    expect(first & 0x01, 'unicast').to.equal(0);
  });
});

describe('agent hypervisor: domain XML', function () {
  it('renders UUID, name, sizes, disks, NICs, serial log and VNC, escaping free text', function () {
    const { xml, digest } = renderDomainXml(spec(), { type: 'kvm' });
    expect(xml).to.include(`<uuid>${uid}</uuid>`).and.include(`<name>kumulus-${uid}</name>`);
    expect(xml).to.include("<memory unit='MiB'>1024</memory>").and.include("<vcpu placement='static'>2</vcpu>");
    expect(xml).to.include("<source file='/pools/p/root.qcow2'/>").and.include("<target dev='vda' bus='virtio'/>");
    expect(xml).to.include(`<serial>${volumeUid.replaceAll('-', '').slice(0, 20)}</serial>`);
    expect(xml, 'the root disk boots by device order').to.include("<boot order='1'/>").and.not.include("<boot dev=");
    expect(xml).to.include(`<mac address='${nicMac(uid, netUid)}'/>`).and.include("<source bridge='kbx1001'/>").and.include("<mtu size='1450'/>");
    expect(xml).to.include("<source path='/var/log/kumulus/vm.log' append='on'/>");
    expect(xml).to.include("<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>");
    expect(xml).to.include('<title>web &#60;1&#62; &#38; &#34;db&#34;</title>');
    expect(xml).to.not.include('<cpu ');
    expect(digestOfDomainXml(xml)).to.equal(digest);
  });

  it('gives the firmware nothing to do that no guest uses: no NIC option ROM (no network boot), no USB controller', function () {
    const { xml } = renderDomainXml(spec(), { type: 'kvm' });
    const nic = /<interface type='bridge'>([\s\S]*?)<\/interface>/.exec(xml)?.[1] ?? '';
    expect(nic).to.include("<rom enabled='no'/>");
    expect(nic, 'the NIC is not in the boot order').to.not.include('<boot');
    expect(xml).to.include("<controller type='usb' model='none'/>").and.not.include("bus='usb'");
  });

  it('puts data disks on the virtio-scsi controller, named by deviceId, and renders the same element for a live attach', function () {
    const dataUid = '7b6a5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d';
    const data = { path: '/pools/p/data.qcow2', format: 'qcow2' as const, volumeUid: dataUid, deviceId: 3 };
    const { xml } = renderDomainXml({ ...spec(), disks: [data, ...spec().disks] }, { type: 'kvm' });
    expect(xml.indexOf("dev='vda'"), 'the root disk comes first whatever the order given').to.be.below(xml.indexOf("dev='sdc'"));
    expect(xml).to.include("<target dev='sdc' bus='scsi'/>").and.include("<controller type='scsi' index='0' model='virtio-scsi'/>");
    expect(xml).to.include(renderDiskXml(data).split('\n').map((l) => (l ? `    ${l}` : l)).join('\n').trimEnd());
    expect(renderDiskXml(data)).to.not.include('<boot');
    expect([1, 26, 27, 53].map((id) => diskTarget(id).dev)).to.deep.equal(['sda', 'sdz', 'sdaa', 'sdba']);
    expect(() => renderDomainXml({ ...spec(), disks: [...spec().disks, { ...data, deviceId: 0 }] }, { type: 'kvm' })).to.throw(/disks\[1\]\.deviceId: 0 is taken/);
  });

  it('changes the digest exactly when the domain would change', function () {
    const base = renderDomainXml(spec(), { type: 'kvm' }).digest;
    expect(renderDomainXml(spec(), { type: 'kvm' }).digest).to.equal(base);
    expect(renderDomainXml({ ...spec(), memoryMiB: 2048 }, { type: 'kvm' }).digest).to.not.equal(base);
    expect(renderDomainXml(spec(), { type: 'qemu' }).digest).to.not.equal(base);
    expect(renderDomainXml(spec(), { type: 'kvm', cpuMode: 'host-model' }).xml).to.include("<cpu mode='host-model' check='none'/>");
    expect(renderDomainXml({ ...spec(), configDrive: '/var/lib/kumulus/agent/config-drives/x.iso' }, { type: 'kvm' }).digest).to.not.equal(base);
  });

  it('attaches the config drive read-only as an IDE CD-ROM on hdd, after the disks', function () {
    const { xml } = renderDomainXml({ ...spec(), configDrive: '/state/config-drives/vm.iso' }, { type: 'kvm' });
    const cdrom = /<disk type='file' device='cdrom'>([\s\S]*?)<\/disk>/.exec(xml)?.[1] ?? '';
    expect(cdrom).to.include("<driver name='qemu' type='raw'/>").and.include("<source file='/state/config-drives/vm.iso'/>");
    expect(cdrom).to.include("<target dev='hdd' bus='ide'/>").and.include('<readonly/>');
    expect(xml.indexOf("device='cdrom'"), 'the root disk stays the first (boot) disk').to.be.greaterThan(xml.indexOf("<target dev='vda'"));
    expect(renderDomainXml(spec(), { type: 'kvm' }).xml).to.not.include("dev='hdd'");
    expect(() => renderDomainXml({ ...spec(), configDrive: 'vm.iso' }, { type: 'kvm' })).to.throw(/configDrive: "vm.iso" must be an absolute path/);
  });

  it('always has the ISO drive on hdc, empty or with the ISO, second in boot order, so media change live', function () {
    const drive = (xml: string) => /<disk type='file' device='cdrom'>((?:(?!<\/disk>)[\s\S])*?<target dev='hdc' bus='ide'\/>[\s\S]*?)<\/disk>/.exec(xml)?.[1] ?? '';
    const empty = renderDomainXml(spec(), { type: 'kvm' });
    expect(drive(empty.xml)).to.include('<readonly/>').and.include("<boot order='2'/>").and.not.include('<source');
    const loaded = renderDomainXml({ ...spec(), iso: "/secondary/template/tmpl/x/it's.iso" }, { type: 'kvm' });
    expect(drive(loaded.xml)).to.include("<source file='/secondary/template/tmpl/x/it&#39;s.iso'/>");
    expect(loaded.digest, 'the media is part of the definition').to.not.equal(empty.digest);
    expect(isoPathOfXml(loaded.xml)).to.equal("/secondary/template/tmpl/x/it's.iso");
    expect(isoPathOfXml(empty.xml)).to.equal(undefined);
    expect(isoDriveOfXml(empty.xml), 'an empty drive').to.deep.equal({});
    expect(isoDriveOfXml(loaded.xml)).to.deep.equal({ path: "/secondary/template/tmpl/x/it's.iso" });
    const withoutDrive = "<domain><devices><disk type='file' device='cdrom'><source file='/state/x.iso'/><target dev='hdd' bus='ide'/></disk></devices></domain>";
    expect(isoDriveOfXml(withoutDrive), 'a domain defined before the drive: none').to.equal(undefined);
    expect(isoPathOfXml(renderDomainXml({ ...spec(), configDrive: '/state/config-drives/vm.iso' }, { type: 'kvm' }).xml), 'the config drive (hdd) is no ISO in the drive').to.equal(undefined);
    expect(diskPathsOfXml(loaded.xml), 'nor a disk to plug').to.deep.equal([spec().disks[0]?.path]);
    expect(() => renderDomainXml({ ...spec(), iso: 'x.iso' }, { type: 'kvm' })).to.throw(/iso: "x.iso" must be an absolute path/);
  });

  it('rejects bad specs naming the field and the fix', function () {
    expect(() => renderDomainXml({ ...spec(), uid: 'web-1' }, { type: 'kvm' })).to.throw(/uid.*metadata\.uid/);
    expect(() => renderDomainXml({ ...spec(), vcpus: 0 }, { type: 'kvm' })).to.throw(/vcpus: 0 must be an integer ≥ 1/);
    expect(() => renderDomainXml({ ...spec(), disks: [{ path: 'root.qcow2', format: 'qcow2', volumeUid, deviceId: 0 }] }, { type: 'kvm' })).to.throw(
      /disks\[0\]\.path.*absolute/,
    );
    expect(() => renderDomainXml({ ...spec(), nics: [{ mac: 'AA:BB:CC:DD:EE:FF', bridge: 'br0' }] }, { type: 'kvm' })).to.throw(/nics\[0\]\.mac/);
    expect(() => renderDomainXml({ ...spec(), nics: [{ mac: '02:00:00:00:00:01', bridge: 'a-very-long-bridge-name' }] }, { type: 'kvm' })).to.throw(
      /nics\[0\]\.bridge: must be 1-15/,
    );
  });
});

describe('agent hypervisor: virsh output', function () {
  it('reads disk images (not CD-ROMs) and the recorded requests back from a domain XML as libvirt prints it', function () {
    const live = [
      "<domain type='kvm' id='1'>",
      '  <metadata>',
      `    <kumulus:domain xmlns:kumulus='https://kumulus.io/xmlns/domain/v1'><kumulus:digest>${'a'.repeat(64)}</kumulus:digest></kumulus:domain>`,
      '    <kumulus-shutdown:shutdown xmlns:kumulus-shutdown="https://kumulus.io/xmlns/shutdown/v1" token="7" at="2026-12-07T12:00:00.000Z"/>',
      '  </metadata>',
      "  <disk type='file' device='disk'><source file='/pools/p/a&apos;b.qcow2' index='1'/><target dev='vda' bus='virtio'/></disk>",
      "  <disk type='file' device='disk'>",
      "    <source file='/pools/p/data.qcow2'/>",
      "    <target dev='sda' bus='scsi'/>",
      '  </disk>',
      "  <disk type='network' device='disk'><source protocol='rbd' name='pool/img'/></disk>",
      // The config drive is not a disk the agent plugs: a CD-ROM cannot be unplugged live.
      "  <disk type='file' device='cdrom'><source file='/state/config-drives/x.iso'/><target dev='hdd' bus='ide'/><readonly/></disk>",
      '</domain>',
    ].join('\n');
    expect(diskPathsOfXml(live)).to.deep.equal(["/pools/p/a'b.qcow2", '/pools/p/data.qcow2']);
    expect(metadataAttributes(live, 'https://kumulus.io/xmlns/shutdown/v1')).to.deep.equal({ 'xmlns:kumulus-shutdown': 'https://kumulus.io/xmlns/shutdown/v1', token: '7', at: '2026-12-07T12:00:00.000Z' });
    expect(metadataAttributes(live, 'https://kumulus.io/xmlns/reboot/v1')).to.equal(undefined);
    expect(digestOfDomainXml(live)).to.equal('a'.repeat(64));
  });

  it('parses event lines for Kumulus domains and ignores others', function () {
    const line = `2026-11-21 21:56:55.367+0000: event 'lifecycle' for domain 'kumulus-${uid}': Started Booted`;
    expect(parseVirshEventLine(line)).to.deep.include({ type: 'lifecycle', uid, detail: 'Started Booted' });
    expect(parseVirshEventLine(`event 'reboot' for domain 'kumulus-${uid}'`)).to.deep.include({ type: 'reboot', uid });
    expect(parseVirshEventLine(`event 'device-added' for domain 'kumulus-${uid}': net0`)).to.deep.include({ type: 'other', detail: 'device-added: net0' });
    expect(parseVirshEventLine("event 'lifecycle' for domain 'other-vm': Stopped Destroyed")).to.equal(undefined);
    expect(parseVirshEventLine('events received: 3')).to.equal(undefined);
  });

  it('turns domstats into per-VM figures, an empty drive left out', function () {
    const text = [
      `Domain: 'kumulus-${uid}'`,
      '  state.state=1',
      '  cpu.time=123456789',
      '  balloon.current=1048576',
      '  balloon.rss=524288',
      '  vcpu.current=2',
      '  net.count=1',
      '  net.0.name=vnet3',
      '  net.0.rx.bytes=1000',
      '  net.0.tx.bytes=2000',
      '  net.0.rx.pkts=10',
      '  net.0.tx.pkts=20',
      '  block.count=3',
      '  block.0.name=vda',
      '  block.0.path=/pools/p/root.qcow2',
      '  block.0.rd.bytes=4096',
      '  block.0.wr.bytes=8192',
      '  block.0.rd.reqs=1',
      '  block.0.wr.reqs=2',
      '  block.1.name=hdd',
      '  block.1.path=/state/config-drives/x.iso',
      '  block.1.rd.bytes=2048',
      '  block.1.rd.reqs=4',
      // The empty ISO drive: no file, no figures.
      '  block.2.name=hdc',
      '',
      "Domain: 'not-ours'",
      '  state.state=5',
    ].join('\n');
    const stats = statsFromDomstats(parseDomstats(text));
    expect(stats).to.deep.equal([
      {
        uid,
        state: 'running',
        cpuTimeNs: 123456789,
        vcpus: 2,
        memoryKiB: 1048576,
        memoryRssKiB: 524288,
        nics: [{ name: 'vnet3', rxBytes: 1000, txBytes: 2000, rxPackets: 10, txPackets: 20 }],
        disks: [
          { name: 'vda', readBytes: 4096, writeBytes: 8192, readOps: 1, writeOps: 2 },
          { name: 'hdd', readBytes: 2048, writeBytes: 0, readOps: 4, writeOps: 0 },
        ],
      },
    ]);
  });
});

describe('agent hypervisor: libvirt define', function () {
  /** virsh as a recording fake, one entry per virsh run: no domain exists, and every other command succeeds. */
  const recording = () => {
    const commands: string[] = [];
    const runner: Runner = (argv) => {
      const args = argv.slice(4);
      const batch = (args[0] ?? '').split('; ');
      commands.push(batch.filter((c) => !c.startsWith('echo ')).map((c) => c.split(' ')[0]).join(',') || (args[0] ?? ''));
      // virsh's batch mode: each echo prints its text, each read of the missing domain nothing but an error; the last echo makes it exit 0.
      if (batch.length > 1) {
        const stdout = batch.map((c) => (c.startsWith('echo ') ? c.slice(5) : '')).join('');
        return Promise.resolve({ stdout, stderr: batch.filter((c) => !c.startsWith('echo ')).map(() => `error: failed to get domain '${domainName(uid)}'\n`).join('') });
      }
      return Promise.resolve({ stdout: '', stderr: '' });
    };
    return { commands, driver: libvirtDriver({ uri: 'qemu:///system', domainType: 'kvm', logger: log, runner }) };
  };

  it('reads the domain (definition, state and live XML in one virsh run) before defining it, unless the caller has just observed it', async function () {
    const unknown = recording();
    expect(await unknown.driver.define(spec())).to.equal('define');
    expect(unknown.commands).to.deep.equal(['dumpxml,domstate,dumpxml', 'define']);

    const absent = recording();
    expect(await absent.driver.define(spec(), { domain: undefined })).to.equal('define');
    expect(absent.commands, 'observed absent: defined at once').to.deep.equal(['define']);

    const right = recording();
    const current = { uid, name: domainName(uid), state: 'shutoff' as const, diskPaths: [], specDigest: right.driver.digest(spec()) };
    expect(await right.driver.define(spec(), { domain: current })).to.equal(undefined);
    expect(right.commands, 'observed right: nothing to do').to.deep.equal([]);
    expect(await right.driver.define({ ...spec(), vcpus: 4 }, { domain: current })).to.equal('redefine');
    expect(right.commands).to.deep.equal(['define']);
  });
});

describe('agent hypervisor: libvirt list', function () {
  const other = '5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a';
  const xmlOf = (disk: string) =>
    `<domain type='kvm'>\n  <devices>\n    <disk type='file' device='disk'>\n      <source file='${disk}'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n` +
    `    <disk type='file' device='cdrom'>\n      <source file='/state/config-drives/x.iso'/>\n      <target dev='hdd' bus='ide'/>\n    </disk>\n  </devices>\n</domain>\n`;

  it('reads names and states from `virsh list`, then every domain\'s XML in one more virsh run, and asks no QEMU', async function () {
    const calls: string[][] = [];
    const runner: Runner = (argv) => {
      const args = argv.slice(4);
      calls.push(args);
      if (args[0] === 'list') {
        return Promise.resolve({ stdout: ` 3    ${domainName(uid)}   running\n -    someone-elses-vm   running\n -    ${domainName(other)}   shut off\n`, stderr: '' });
      }
      // virsh's batch mode: each command's output in turn, echo without a newline; a domain gone meanwhile prints nothing.
      const out = (args[0] ?? '').split('; ').map((cmd) => (cmd.startsWith('echo ') ? cmd.slice(5) : cmd === `dumpxml ${domainName(uid)}` ? xmlOf('/pools/p/root.qcow2') : '')).join('');
      return Promise.resolve({ stdout: out, stderr: `error: failed to get domain '${domainName(other)}'\n` });
    };
    const driver = libvirtDriver({ uri: 'qemu:///system', domainType: 'kvm', logger: log, runner });
    expect(await driver.list(), 'the domain undefined between the two calls is gone; CD-ROMs are no disks').to.deep.equal([
      { uid, name: domainName(uid), state: 'running', diskPaths: ['/pools/p/root.qcow2'] },
    ]);
    expect(calls.map((c) => c[0]?.split(' ')[0])).to.deep.equal(['list', 'echo']);
    expect(calls.flat().join(' ')).to.not.include('domstats').and.not.include('someone-elses-vm');
    expect(parseVirshList(' -    kumulus-x   shut off\n 12   kumulus-y   in shutdown\n\n')).to.deep.equal([
      { name: 'kumulus-x', state: 'shut off' },
      { name: 'kumulus-y', state: 'in shutdown' },
    ]);
  });

  it('observes a domain in one virsh run: the definition\'s digest, the state, the running domain\'s disks; an error that is not a missing domain throws', async function () {
    const definition = `<domain type='kvm'>\n  <metadata><kumulus:digest>${'a'.repeat(64)}</kumulus:digest></metadata>\n</domain>\n`;
    const live = xmlOf('/pools/p/root.qcow2').replace('</devices>', "<disk type='file' device='disk'><source file='/pools/p/hot.qcow2'/><target dev='sda' bus='scsi'/></disk></devices>");
    const runs: string[] = [];
    const answer = (stderr: string, outputs: Record<string, string>): Runner => (argv) => {
      runs.push(argv[4] ?? '');
      const stdout = (argv[4] ?? '').split('; ').map((c) => (c.startsWith('echo ') ? c.slice(5) : (outputs[c.split(' ').slice(0, -1).join(' ')] ?? ''))).join('');
      return Promise.resolve({ stdout, stderr });
    };
    const running = libvirtDriver({ uri: 'qemu:///system', domainType: 'kvm', logger: log, runner: answer('', { 'dumpxml --inactive': definition, domstate: 'running\n', dumpxml: live }) });
    const seen = await running.observe(uid);
    expect(seen).to.include({ uid, state: 'running', specDigest: 'a'.repeat(64) });
    expect(seen?.diskPaths, 'the live XML, with the disk plugged in').to.deep.equal(['/pools/p/root.qcow2', '/pools/p/hot.qcow2']);
    expect(runs).to.have.length(1);
    const off = libvirtDriver({ uri: 'qemu:///system', domainType: 'kvm', logger: log, runner: answer('', { 'dumpxml --inactive': xmlOf('/pools/p/root.qcow2'), domstate: 'shut off\n', dumpxml: live }) });
    expect((await off.observe(uid))?.diskPaths, 'a domain that does not run: its definition').to.deep.equal(['/pools/p/root.qcow2']);
    const gone = libvirtDriver({ uri: 'qemu:///system', domainType: 'kvm', logger: log, runner: answer(`error: failed to get domain '${domainName(uid)}'\n`, {}) });
    expect(await gone.observe(uid)).to.equal(undefined);
    const broken = libvirtDriver({ uri: 'qemu:///system', domainType: 'kvm', logger: log, runner: answer('error: failed to connect to the hypervisor\n', {}) });
    let failure: unknown;
    await broken.observe(uid).catch((err: unknown) => (failure = err));
    expect(String(failure)).to.include('failed to connect to the hypervisor');
  });

  it('makes no second call when no domain is Kumulus\'s', async function () {
    const calls: string[] = [];
    const runner: Runner = (argv) => {
      calls.push(argv[4] ?? '');
      return Promise.resolve({ stdout: ' -    someone-elses-vm   shut off\n', stderr: '' });
    };
    expect(await libvirtDriver({ uri: 'qemu:///system', domainType: 'kvm', logger: log, runner }).list()).to.deep.equal([]);
    expect(calls).to.deep.equal(['list']);
  });
});

describe('agent hypervisor: simulator', function () {
  it('has the driver contract: define once, start, plug disks live, shut down on ACPI, reboot, undefine, with libvirt\'s events', async function () {
    const driver = simulatorDriver();
    const events: DomainEvent[] = [];
    const sub = driver.followEvents((e) => events.push(e));
    expect(await driver.define(spec())).to.equal('define');
    expect(await driver.define(spec())).to.equal(undefined);
    expect((await driver.observe(uid))?.specDigest).to.equal(driver.digest(spec()));
    await driver.start(uid);
    const data = { path: '/pools/p/data.qcow2', format: 'qcow2' as const, volumeUid, deviceId: 1 };
    await driver.attachDisk(uid, data);
    expect((await driver.observe(uid))?.diskPaths).to.deep.equal(['/pools/p/root.qcow2', data.path]);
    expect((await driver.list()).map((d) => d.diskPaths)).to.deep.equal([['/pools/p/root.qcow2', data.path]]);
    await driver.detachDisk(uid, data.path);
    const at = new Date();
    await driver.reboot(uid, 'r1', at);
    expect((await driver.observe(uid))?.rebootSent).to.deep.equal({ token: 'r1', at });
    expect(await driver.define({ ...spec(), vcpus: 4 })).to.equal('redefine');
    await driver.shutdown(uid, '2', new Date());
    const off = await driver.observe(uid);
    expect(off?.state).to.equal('shutoff');
    expect(off?.shutdownSent, 'the requests go with the running domain').to.equal(undefined);
    expect(off?.rebootSent).to.equal(undefined);
    await driver.undefine(uid);
    expect(await driver.list()).to.deep.equal([]);
    expect(events.map((e) => (e.type === 'resync' ? 'resync' : `${e.type} ${e.detail}`))).to.deep.equal([
      'resync',
      'lifecycle Defined Added',
      'lifecycle Started Booted',
      'reboot ',
      'lifecycle Defined Updated',
      'lifecycle Stopped Shutdown',
      'lifecycle Undefined Removed',
    ]);
    await sub.stop();
  });

  it('has the ISO drive: the definition\'s media at start, changed live (a missing file refused), the definition\'s again at the next start', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'kumulus-simulator-iso-'));
    try {
      const [a, b] = [join(dir, 'a.iso'), join(dir, 'b.iso')];
      await Promise.all([a, b].map((path) => writeFile(path, 'iso')));
      const driver = simulatorDriver();
      await driver.define({ ...spec(), iso: a });
      expect((await driver.observe(uid))?.isoPath, 'a stopped domain: its definition\'s').to.equal(a);
      await driver.start(uid);
      expect((await driver.observe(uid))?.isoPath).to.equal(a);
      await driver.changeMedia(uid, undefined);
      expect(await driver.observe(uid), 'ejected live').to.not.have.property('isoPath');
      await driver.changeMedia(uid, b);
      expect((await driver.observe(uid))?.isoPath, 'inserted live').to.equal(b);
      let refused: unknown;
      await driver.changeMedia(uid, join(dir, 'gone.iso')).catch((err: unknown) => (refused = err));
      expect(String(refused)).to.match(/cannot insert .*gone\.iso: no such file/);
      expect((await driver.observe(uid))?.isoPath, 'the refused media leaves the drive as it was').to.equal(b);
      await driver.destroy(uid);
      expect((await driver.observe(uid))?.isoPath, 'off: the definition\'s again').to.equal(a);
      await driver.start(uid);
      expect((await driver.observe(uid))?.isoPath).to.equal(a);
      await driver.define(spec());
      expect((await driver.observe(uid))?.isoPath, 'redefined without: the running drive keeps its media').to.equal(a);
      await driver.destroy(uid);
      expect(await driver.observe(uid)).to.not.have.property('isoPath');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps its domains in a directory, so a restarted agent finds them as it would libvirt\'s', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'kumulus-simulator-'));
    try {
      const first = simulatorDriver({ dir });
      await first.define(spec());
      await first.start(uid);
      const at = new Date();
      await first.reboot(uid, 'r1', at);
      const before = await first.observe(uid);
      const again = simulatorDriver({ dir });
      expect(await again.observe(uid)).to.deep.equal(before);
      expect(before).to.deep.include({ state: 'running', rebootSent: { token: 'r1', at } });
      expect(simulatorDriver().domainCount(), 'without a directory, nothing is kept').to.equal(0);
      await again.undefine(uid);
      expect(await simulatorDriver({ dir }).list()).to.deep.equal([]);
      expect(await readdir(dir)).to.deep.equal([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
