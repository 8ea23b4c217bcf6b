import { expect } from 'chai';
import type { ServiceOfferingObject, VirtualMachineObject, VolumeObject } from '../../crds/index.ts';
import { admissionOrder, admit, type Holder, type HostRoom } from '../../node-daemon/admission.ts';
import { attachedIsoOf, demandOf, disksOf, domainVolumes, isoInDrive } from '../../node-daemon/virtual-machine.ts';

const GiB = 2 ** 30;
const room: HostRoom = { host: 'h1', cores: 4, cpuSpeedMhz: 2000, memoryBytes: 2 * GiB, cpuOvercommit: 1, memoryOvercommit: 1 };
const vm = (n: number, extra: Partial<Holder> = {}): Holder => ({
  uid: `00000000-0000-4000-8000-00000000000${n}`,
  name: `ns/vm${n}`,
  cores: 1,
  cpuMhz: 1000,
  memoryBytes: GiB,
  running: false,
  placedAt: `2026-12-07T12:00:0${n}Z`,
  ...extra,
});

describe('agent host admission', function () {
  it('admits the VMs that fit in placement order and refuses the one that would overbook the host, naming what is short', function () {
    const vms = [vm(3), vm(1), vm(2)];
    expect(admit(room, vms, vm(1).uid)).to.deep.equal({ admitted: true });
    expect(admit(room, vms, vm(2).uid)).to.deep.equal({ admitted: true });
    const refused = admit(room, vms, vm(3).uid);
    expect(refused.admitted).to.equal(false);
    expect(refused.admitted === false && refused.message).to.equal(
      'host h1 is full for VM ns/vm3, counting the VMs placed there before it: memory: it needs 1024 MiB and 0 MiB of 2048 MiB are left (overcommit 1)',
    );
    // The same verdicts whatever order the cache lists them in: every agent agrees.
    expect(admissionOrder([vm(2), vm(3), vm(1)]).map((v) => v.name)).to.deep.equal(['ns/vm1', 'ns/vm2', 'ns/vm3']);
    expect(admit(room, [vm(2), vm(3), vm(1)], vm(3).uid).admitted).to.equal(false);
  });

  it('counts running VMs first, whenever they were placed: they are never stopped for a newcomer', function () {
    const vms = [vm(1), vm(2), vm(3, { running: true }), vm(4, { running: true, placedAt: '2026-12-07T12:00:09Z' })];
    expect(admit(room, vms, vm(1).uid).admitted).to.equal(false);
    expect(admit(room, vms, vm(4).uid).admitted, 'a running VM is admitted even beyond the capacity').to.equal(true);
  });

  it('applies the overcommit factors, and ties by uid', function () {
    const vms = [vm(1), vm(2), vm(3)];
    expect(admit({ ...room, memoryOvercommit: 1.5 }, vms, vm(3).uid).admitted).to.equal(true);
    const cpu = admit({ ...room, cores: 1, cpuSpeedMhz: 2000, memoryBytes: 8 * GiB }, vms, vm(3).uid);
    expect(cpu.admitted === false && cpu.message).to.match(/CPU: it needs 1000 MHz and 0 of 2000 MHz are left \(1 cores × 2000 MHz × overcommit 1\)/);
    const same = (n: number, uid: string) => vm(n, { uid, placedAt: '2026-12-07T12:00:00Z' });
    expect(admissionOrder([same(1, 'b'), same(2, 'a')]).map((v) => v.uid)).to.deep.equal(['a', 'b']);
  });

  it('refuses a VM with more vCPUs than the host has cores, even on an empty host', function () {
    const big = vm(1, { cores: 8, cpuMhz: 8000 });
    const verdict = admit({ ...room, cpuOvercommit: 4 }, [big], big.uid);
    expect(verdict.admitted === false && verdict.message).to.include('it has 8 vCPUs and the host 4 cores');
  });
});

const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: 'ns', uid: `00000000-0000-4000-8000-${name.padStart(12, '0').slice(-12).replace(/[^0-9a-f]/g, 'a')}`, ...extra });
const volume = (name: string, spec: Partial<VolumeObject['spec']>, status?: VolumeObject['status']): VolumeObject =>
  ({ metadata: meta(name), spec: { zoneRef: { name: 'z' }, type: 'DATADISK', vmRef: { name: 'web' }, ...spec }, ...(status ? { status } : {}) }) as VolumeObject;
const provisioned = (path: string): VolumeObject['status'] => ({ path, format: 'QCOW2', conditions: [{ type: 'Provisioned', status: 'True', reason: 'Provisioned', message: '', lastTransitionTime: '2026-12-07T12:00:00Z' }] });
const web = { metadata: meta('web'), spec: { zoneRef: { name: 'z' }, serviceOfferingRef: { name: 'small' } } } as unknown as VirtualMachineObject;

describe('agent VM: disks and sizes from the objects', function () {
  it('waits for a ROOT Volume, then for every Volume to be Provisioned, and gives data disks the free device ids in name order', function () {
    expect(disksOf(web, [], 'h1').blocker).to.deep.equal({ reason: 'WaitingForVolumes', message: 'no ROOT Volume with spec.vmRef web labelled kumulus.io/host=h1 yet' });
    const root = volume('web-root', { type: 'ROOT', deviceId: 0 }, provisioned('/p/root'));
    const pending = volume('web-b', { diskOfferingRef: { name: 'd' } }, { pool: 'p1' });
    const noPool = volume('web-c', { diskOfferingRef: { name: 'd' } });
    const fixed = volume('web-z', { diskOfferingRef: { name: 'd' }, deviceId: 1 }, provisioned('/p/z'));
    const free = volume('web-a', { diskOfferingRef: { name: 'd' } }, provisioned('/p/a'));
    const going = volume('web-x', { diskOfferingRef: { name: 'd' } }, provisioned('/p/x'));
    going.metadata.deletionTimestamp = '2026-12-07T12:00:00Z';
    const { disks, blocker } = disksOf(web, [fixed, free, root, pending, noPool, going], 'h1');
    expect(disks.map((d) => `${d.disk.deviceId}:${d.disk.path}`)).to.deep.equal(['0:/p/root', '1:/p/z', '2:/p/a']);
    expect(blocker).to.deep.equal({ reason: 'WaitingForVolumes', message: 'Volume web-b is not Provisioned: its disk is being made; Volume web-c is not Provisioned: it has no status.pool yet' });
    expect(disksOf(web, [root, volume('web-root2', { type: 'ROOT' })], 'h1').blocker?.reason).to.equal('DomainError');
  });

  it('sizes a VM from its offering, or from its own fields with a customized one', function () {
    const small = { metadata: { name: 'small' }, spec: { cpuNumber: 2, cpuSpeed: 500, memory: '512Mi' } } as ServiceOfferingObject;
    expect(demandOf(web, small)).to.deep.equal({ cores: 2, cpuMhz: 1000, memoryBytes: 512 * 2 ** 20 });
    expect(demandOf(web, undefined)).to.deep.equal({ problem: 'ServiceOffering small does not exist' });
    const custom = { metadata: { name: 'custom' }, spec: { cpuSpeed: 500 } } as ServiceOfferingObject;
    expect(demandOf(web, custom)).to.deep.equal({ problem: 'offering custom is customized: set spec.cpuNumber and spec.memory on VirtualMachine ns/web' });
    expect(demandOf({ ...web, spec: { ...web.spec, cpuNumber: 4, memory: '1Gi' } }, custom)).to.deep.equal({ cores: 4, cpuMhz: 2000, memoryBytes: GiB });
  });

  it('lists in status.volumes the disks the domain holds: a detached Volume stays listed until the domain lets its disk go', function () {
    const root = volume('web-root', { type: 'ROOT', deviceId: 0 }, provisioned('/p/root'));
    const detached = volume('web-extra', { diskOfferingRef: { name: 'd' }, vmRef: undefined }, provisioned('/p/extra'));
    const wanted = disksOf(web, [root], 'h1').disks;
    const vm = { ...web, status: { volumes: [{ name: 'web-root', type: 'ROOT', deviceId: 0 }, { name: 'web-extra', type: 'DATADISK', deviceId: 2 }] } } as VirtualMachineObject;
    const named = (key: string) => (key === 'ns/web-extra' ? detached : undefined);
    const domain = (diskPaths: string[]) => ({ uid: web.metadata.uid ?? '', name: 'kumulus-web', state: 'running' as const, specDigest: 'd', diskPaths });
    expect(domainVolumes(vm, wanted, domain(['/p/root', '/p/extra']), named), 'still in the domain: still listed').to.deep.equal(vm.status?.volumes);
    expect(domainVolumes(vm, wanted, domain(['/p/root']), named), 'gone from the domain: gone from the list').to.deep.equal([{ name: 'web-root', type: 'ROOT', deviceId: 0 }]);
    expect(domainVolumes(vm, wanted, undefined, named), 'no domain, no disks').to.deep.equal([]);
    const data = volume('web-data', { diskOfferingRef: { name: 'd' }, deviceId: 1 }, provisioned('/p/data'));
    expect(domainVolumes(web, disksOf(web, [root, data], 'h1').disks, domain(['/p/root']), named), 'wanted but not plugged in yet: not listed').to.deep.equal([{ name: 'web-root', type: 'ROOT', deviceId: 0 }]);
  });

  it('reports in status.attachedIso the ISO the drive holds: spec.attachedIsoRef once its file is in, the last one reported while an old one is still in', function () {
    const withIso = (ref: { name: string; namespace?: string } | undefined, reported?: { name: string; namespace: string }) =>
      ({ ...web, spec: { ...web.spec, ...(ref ? { attachedIsoRef: ref } : {}) }, ...(reported ? { status: { attachedIso: reported } } : {}) }) as VirtualMachineObject;
    const [a, b] = ['/secondary/template/tmpl/a/a.iso', '/secondary/template/tmpl/b/b.iso'];
    expect(attachedIsoOf(withIso({ name: 'installer' })), 'the VM\'s namespace by default').to.deep.equal({ name: 'installer', namespace: 'ns' });
    expect(attachedIsoOf(withIso({ name: 'tools', namespace: 'kumulus-public' }))).to.deep.equal({ name: 'tools', namespace: 'kumulus-public' });
    expect(attachedIsoOf(web)).to.equal(undefined);
    expect(isoInDrive(withIso({ name: 'installer' }), a, a), 'inserted').to.deep.equal({ name: 'installer', namespace: 'ns' });
    expect(isoInDrive(withIso({ name: 'installer' }), undefined, a), 'attached, not inserted yet').to.equal(undefined);
    const old = { name: 'installer', namespace: 'ns' };
    expect(isoInDrive(withIso(undefined, old), a, undefined), 'detached, not ejected yet').to.deep.equal(old);
    expect(isoInDrive(withIso(undefined, old), undefined, undefined), 'ejected').to.equal(undefined);
    expect(isoInDrive(withIso({ name: 'tools' }, old), a, b), 'changed, the old one still in').to.deep.equal(old);
    expect(isoInDrive(withIso({ name: 'tools' }, old), a, undefined), 'the new one\'s file unknown yet (its copy awaited)').to.deep.equal(old);
    expect(isoInDrive(withIso({ name: 'tools' }, old), b, b)).to.deep.equal({ name: 'tools', namespace: 'ns' });
  });
});
