import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { IPAddress, Network, SSHKeyPair, VirtualMachine, Volume, type IPAddressObject, type NetworkObject, type SSHKeyPairObject, type VirtualMachineObject, type VolumeObject } from '../../crds/index.ts';
import { nicMac } from '../../lib/guest-identity.ts';
import { isNotFound, resourceTypeOf } from '../../lib/kube-client.ts';
import { installed, startLocalCloud, type LocalCloud } from '../support/local-cloud.ts';
import { until } from '../support/until.ts';

/**
 * The local cloud end to end, as its README user runs it: `npm start` (kumulus local), then the
 * README's two apply commands. VM web-1 of examples/vm comes to Running on this machine's host:
 * network web is implemented on a VNI of physnet1, web-1's NIC holds 10.1.1.10 with the MAC
 * derived from its uid, the domain runs, and the guest boots from the local template, leases
 * exactly 10.1.1.10 by DHCP from this host's dnsmasq and reads its SSH key from the config drive
 * (shown from its serial log). Where KVM cannot boot a stock guest kernel (no /dev/kvm, or a
 * PVM host) the agent emulates the guest, and the test says so. Then stop, start, reboot,
 * scale, destroy, recover and expunge go through spec, each checked against libvirt, and
 * `kubectl get kumulus -A` shows a state for every object.
 *
 * kubectl does what the README user does (apply, wait, get); the rest goes through the client
 * library, so a kubectl outside the apiserver's version skew affects only the README steps.
 */

type Condition = { type: string; status: string; observedGeneration?: number };

describe('local cloud end to end: examples/vm\'s web-1 boots on this host', function () {
  this.timeout(1_200_000);
  let cloud: LocalCloud | undefined;
  let uid = '';

  const local = () => cloud ?? expect.fail('the local cloud did not start');
  const vms = () => local().client.resource<VirtualMachineObject>(resourceTypeOf(VirtualMachine));
  const web = () => vms().get({ namespace: 'demo', name: 'web-1' });
  const setSpec = (patch: Record<string, unknown>) => vms().patch({ namespace: 'demo', name: 'web-1' }, { spec: patch });
  const domain = `kumulus-`;
  const domstate = async () => local().virsh('domstate', `${domain}${uid}`).catch(() => 'undefined');
  const settled = async (state: string, timeoutMs = 300_000) => {
    let last: unknown;
    return until(`web-1 ${state} and Ready at its generation`, timeoutMs, async () => {
      const vm = await web();
      last = vm.status;
      const ready = (vm.status?.conditions as Condition[] | undefined)?.find((c) => c.type === 'Ready');
      return vm.status?.state === state && ready?.status === 'True' && ready.observedGeneration === vm.metadata.generation ? vm : undefined;
    }, 1000).catch((err: unknown) => Promise.reject(new Error(`${(err as Error).message}; web-1 status: ${JSON.stringify(last)}`)));
  };

  before(async function () {
    this.timeout(600_000);
    for (const [command, why] of [
      ['kubectl', 'kubectl is not installed (the README applies the examples with it)'],
      ['virsh', 'libvirt (virsh) is not installed, so no guest can boot'],
    ] as const) {
      if (!installed(command, command === 'kubectl' ? 'version' : '--version', ...(command === 'kubectl' ? ['--client'] : []))) {
        console.log(`      skipped: ${why}`);
        this.skip();
      }
    }
    cloud = await startLocalCloud('compute-local');
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && cloud) console.log(`      kumulus local's last output:\n${cloud.output()}`);
  });

  after(async function () {
    this.timeout(420_000);
    // A VM left by a failed step is expunged first: stopping the local cloud leaves running guests running.
    const left = cloud ? await vms().list({ namespace: 'demo' }).then((l) => l.items, () => []) : [];
    for (const vm of left) await vms().delete({ namespace: 'demo', name: vm.metadata.name ?? '' }).catch(() => undefined);
    if (left.length > 0) await until('the VMs left behind to be expunged', 300_000, async () => ((await vms().list({ namespace: 'demo' })).items.length === 0 ? true : undefined), 1000).catch((err: unknown) => console.log(`      ${(err as Error).message}`));
    await cloud?.stop();
  });

  it('applies the README\'s two commands, and web-1 becomes Ready, Running on this host with network web on a VNI', async () => {
    const { kubectl } = local();
    expect(await kubectl('apply', '--server-side', '-R', '-f', 'examples/zone-advanced/')).to.match(/zone\.infra\.kumulus\.io\/zone1 serverside-applied/);
    expect(await kubectl('apply', '--server-side', '-R', '-f', 'examples/vm/')).to.match(/virtualmachine\.compute\.kumulus\.io\/web-1 serverside-applied/);
    await kubectl('wait', '--for=condition=Ready', 'virtualmachines/web-1', '-n', 'demo', '--timeout=600s');

    const vm = await web();
    uid = vm.metadata.uid ?? '';
    expect(vm.status?.state).to.equal('Running');
    expect(await domstate()).to.equal('running');
    const hosts = JSON.parse(await kubectl('get', 'cshost', '-o', 'json')) as { items: { metadata: { name: string } }[] };
    expect(hosts.items.map((h) => h.metadata.name)).to.deep.equal([vm.status?.placement?.host]);

    const network = await local().client.resource<NetworkObject>(resourceTypeOf(Network)).get({ namespace: 'demo', name: 'web' });
    expect(network.status?.state).to.equal('Implemented');
    const vni = Number(/^vxlan:\/\/(\d+)$/.exec(network.status?.broadcastUri ?? '')?.[1]);
    expect(vni, 'a VNI of physnet1\'s range 5000-5999').to.be.within(5000, 5999);
    expect(await kubectl('get', 'networks', '-n', 'demo')).to.match(new RegExp(`^web\\s+isolated-nat\\s+10\\.1\\.1\\.0/24\\s+vxlan://${vni}\\s+Implemented\\s`, 'm'));
    const nic = vm.status?.nics?.[0];
    expect(nic).to.include({ network: 'web', ipAddress: '10.1.1.10', netmask: '255.255.255.0', gateway: '10.1.1.1', isDefault: true, broadcastUri: network.status?.broadcastUri });
    expect(nic?.macAddress, 'the MAC derived from the VM\'s and the network\'s uids').to.equal(nicMac(uid, network.metadata.uid ?? ''));
    expect(await local().virsh('domiflist', `${domain}${uid}`)).to.include(nic?.macAddress ?? '-');
  });

  it('boots the guest: it leases exactly 10.1.1.10 by DHCP and installs demo-key from the config drive (serial log)', async () => {
    const key = await local().client.resource<SSHKeyPairObject>(resourceTypeOf(SSHKeyPair)).get({ namespace: 'demo', name: 'demo-key' });
    const fingerprint = key.status?.fingerprint ?? '';
    expect(fingerprint).to.match(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    const log = await until('the guest to lease its address and read its key', 600_000, async () => {
      const text = await local().serialLog(uid);
      if (text.includes('kumulus-guest: config-drive none')) expect.fail(`the guest found no config drive; its serial log:\n${text}`);
      return /kumulus-guest: lease eth0 /.test(text) && text.includes(`fingerprint=${fingerprint}`) ? text : undefined;
    }, 2000);
    const xml = await local().virsh('dumpxml', `${domain}${uid}`);
    const type = /<domain type='(\w+)'/.exec(xml)?.[1];
    const why = !existsSync('/dev/kvm') ? '/dev/kvm is absent' : existsSync('/sys/module/kvm_pvm') ? 'KVM here is PVM, which boots only PVM guest kernels' : '';
    expect(type, 'KVM where it boots a stock guest kernel, else QEMU emulation').to.equal(why ? 'qemu' : 'kvm');
    const lines = log.split('\n').filter((l) => /kumulus-guest: (booted|lease|ssh-key|config-drive)/.test(l));
    console.log(`      the guest ${type === 'qemu' ? `is emulated (QEMU TCG: ${why})` : 'runs on KVM'}; from its serial log:\n${lines.map((l) => `        ${l.trim()}`).join('\n')}`);
    const lease = log.split('\n').find((l) => l.includes('kumulus-guest: lease eth0 ')) ?? '';
    expect(lease).to.match(/ ip=10\.1\.1\.10\/(24|255\.255\.255\.0) router=10\.1\.1\.1 /);
    expect(lease).to.include('hostname=web-1');
    expect(log).to.match(/kumulus-guest: config-drive hostname=web-1 ssh-key=demo@example /);
    expect(log).to.include(`kumulus-guest: ssh-key for root: type=ssh-ed25519 comment=demo@example fingerprint=${fingerprint}`);
  });

  it('stops, starts, reboots and scales through spec, each checked against libvirt', async () => {
    await setSpec({ state: 'Stopped' });
    await settled('Stopped');
    expect(await domstate()).to.equal('shut off');
    await setSpec({ state: 'Running' });
    await settled('Running');
    expect(await domstate()).to.equal('running');

    const asked = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await setSpec({ rebootRequestedAt: asked });
    await until('the reboot to be reported', 300_000, async () => ((await web()).status?.lastRebootAt === asked ? true : undefined), 1000);
    await settled('Running');
    expect(await domstate()).to.equal('running');

    await setSpec({ state: 'Stopped' });
    await settled('Stopped');
    await setSpec({ serviceOfferingRef: { name: 'medium' } });
    await setSpec({ state: 'Running' });
    await settled('Running');
    const info = await local().virsh('dominfo', `${domain}${uid}`);
    expect(/^State:\s+(.+)$/m.exec(info)?.[1]).to.equal('running');
    expect(/^CPU\(s\):\s+(\d+)$/m.exec(info)?.[1], 'medium\'s 2 vCPUs').to.equal('2');
    expect(/^Max memory:\s+(\d+) KiB$/m.exec(info)?.[1], 'medium\'s 4 GiB').to.equal(String(4 * 1024 * 1024));
  });

  it('destroys (domain off, kept), recovers (Stopped, its address kept), and starts again', async () => {
    // The guest answers ACPI once its init has started acpid, which it has by the time it says it is up.
    const bootedUp = (log: string) => log.lastIndexOf('kumulus-guest: up ') > log.lastIndexOf('kumulus-guest: booted ');
    await until('the guest to be up after its last start', 600_000, async () => (bootedUp(await local().serialLog(uid)) ? true : undefined), 2000);
    const asked = Date.now();
    await setSpec({ state: 'Destroyed' });
    // When the agent reports the domain off (powerState), then when the operator settles Destroyed.
    await until('the agent to report web-1 powered off', 300_000, async () => ((await web()).status?.powerState === 'PowerOff' ? true : undefined), 250);
    const offAfter = Date.now() - asked;
    const destroyed = await settled('Destroyed');
    const settledAfter = Date.now() - asked;
    expect(destroyed.status?.destroyedAt).to.be.a('string');
    expect(await domstate()).to.equal('shut off');
    const log = await local().serialLog(uid);
    // Whether the guest powered off on ACPI or the agent powered the domain off at the end of the
    // grace period (half of expunge.delay), the VM is Destroyed before it could be expunged. The
    // emulated guest does not always act on the request (issue 11): the test says which it saw.
    const took = log.lastIndexOf('kumulus-guest: acpi power button: powering off') > log.lastIndexOf('kumulus-guest: booted ');
    console.log(`      destroyed: the guest ${took ? 'took' : 'did not take'} the ACPI request; the agent reported the domain off ${offAfter} ms and web-1 was Destroyed ${settledAfter} ms after spec.state Destroyed`);
    const events = await local().kubectl('get', 'events', '-n', 'demo', '--field-selector', 'involvedObject.name=web-1', '-o', 'custom-columns=FIRST:.firstTimestamp,LAST:.lastTimestamp,SERIES:.series.lastObservedTime,EVENT:.eventTime,REASON:.reason,MESSAGE:.message', '--no-headers');
    console.log(events.split('\n').filter((l) => /VM\.(STOP|DESTROY)/.test(l)).map((l) => `        ${l.trim()}`).join('\n'));
    // examples/zone-advanced sets expunge.delay to 60 s: recover before then.
    await setSpec({ state: 'Stopped' });
    const recovered = await settled('Stopped');
    expect(recovered.metadata.uid, 'the same VM, not expunged').to.equal(uid);
    expect(recovered.status?.destroyedAt).to.equal(undefined);
    expect(recovered.status?.nics?.[0]?.ipAddress).to.equal('10.1.1.10');
    expect(await domstate()).to.equal('shut off');
    await setSpec({ state: 'Running' });
    await settled('Running');
    expect(await domstate()).to.equal('running');
  });

  it('shows a state for every object in `kubectl get kumulus -A`', async () => {
    const all = JSON.parse(await local().kubectl('get', 'kumulus', '-A', '-o', 'json')) as { items: { kind: string; metadata: { name: string; namespace?: string }; status?: { state?: string } }[] };
    const stateless = all.items.filter((o) => !o.status?.state).map((o) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`);
    expect(stateless, 'objects without a state').to.deep.equal([]);
    const kinds = new Set(all.items.map((o) => o.kind));
    for (const kind of ['Zone', 'Pod', 'Cluster', 'Host', 'PrimaryStorage', 'SecondaryStorage', 'PhysicalNetwork', 'ServiceOffering', 'DiskOffering', 'NetworkOffering', 'Template', 'SSHKeyPair', 'Network', 'AffinityGroup', 'VirtualMachine', 'Volume', 'IPAddress']) {
      expect([...kinds], `kubectl get kumulus -A lists a ${kind}`).to.include(kind);
    }
    const table = await local().kubectl('get', 'virtualmachines', '-n', 'demo');
    expect(table).to.match(/^web-1\s.*\bRunning\b/m);
  });

  it('expunges web-1 when its object is deleted: domain, disks and address gone', async () => {
    const volumes = (await local().client.resource<VolumeObject>(resourceTypeOf(Volume)).list({ namespace: 'demo' })).items.filter((v) => v.spec?.vmRef?.name === 'web-1');
    expect(volumes.map((v) => v.metadata.name).sort()).to.deep.equal(['web-1-data', 'web-1-root']);
    const disksBefore = await readdir(join(local().stateDir, 'agent', 'shared', '0'));
    for (const v of volumes) expect(disksBefore.some((f) => f.startsWith(v.metadata.uid ?? '-')), `the disk of ${v.metadata.name} on the shared pool`).to.equal(true);

    await vms().delete({ namespace: 'demo', name: 'web-1' });
    await until('web-1 to be expunged', 300_000, async () => web().then(() => undefined, (err: unknown) => (isNotFound(err) ? true : Promise.reject(err as Error))), 1000);
    expect(await domstate(), 'the domain is undefined').to.equal('undefined');
    await until('web-1\'s volumes and address to be gone', 120_000, async () => {
      const left = (await local().client.resource<VolumeObject>(resourceTypeOf(Volume)).list({ namespace: 'demo' })).items.filter((v) => volumes.some((w) => w.metadata.uid === v.metadata.uid));
      const addresses = (await local().client.resource<IPAddressObject>(resourceTypeOf(IPAddress)).list({})).items.filter((a) => a.spec?.address === '10.1.1.10');
      return left.length === 0 && addresses.length === 0 ? true : undefined;
    }, 1000);
    const disksAfter = await readdir(join(local().stateDir, 'agent', 'shared', '0'));
    for (const v of volumes) expect(disksAfter.some((f) => f.startsWith(v.metadata.uid ?? '-')), `the disk of ${v.metadata.name}`).to.equal(false);
  });
});
