import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { log } from '../../lib/log.ts';
import { CommandError, commandRunner } from '../../node-daemon/drivers/exec.ts';
import { nicMac } from '../../lib/guest-identity.ts';
import { linuxNetworkDriver } from '../../node-daemon/drivers/network/driver.ts';
import { bridgeName, vlanDeviceName } from '../../node-daemon/drivers/network/names.ts';
import { observeNetworking } from '../../node-daemon/drivers/network/observe.ts';
import { planNetworks } from '../../node-daemon/drivers/network/plan.ts';
import type { GuestNetworkSpec, NetworkDriver } from '../../node-daemon/drivers/network/types.ts';
import { netnsLab, writeUdhcpcScript, type NetnsLab } from '../support/netns.ts';


describe('agent network driver in network namespaces (two hosts joined by VXLAN)', function () {
  this.timeout(120_000);
  const logger = log.child({ test: 'agent-network' });
  let lab: NetnsLab;
  let stateDir: string;
  let script: string;
  let hostA: string;
  let hostB: string;
  let driverA: NetworkDriver;
  let driverB: NetworkDriver;
  const net1 = randomUUID();
  const net2 = randomUUID();
  const net3 = randomUUID();
  const run = randomBytes(3).toString('hex');
  const prefixA = `kumulus-t${run}-a-`;
  const prefixB = `kumulus-t${run}-b-`;
  const vm = { a1: randomUUID(), b1: randomUUID(), b2: randomUUID(), stray: randomUUID() };
  const mac = {
    a1: nicMac(vm.a1, net1),
    b1: nicMac(vm.b1, net1),
    b2: nicMac(vm.b2, net2),
    stray: nicMac(vm.stray, net1),
  };

  const dhcp1 = (hosts: { mac: string; ip: string; hostname: string }[]) => ({
    cidr: '10.61.0.0/24',
    serviceAddress: '10.61.0.254',
    gateway: '10.61.0.1',
    domain: 'net1.kumulus.test',
    hosts,
  });
  const specsA = (): GuestNetworkSpec[] => [
    {
      uid: net1,
      inUse: true,
      segment: { type: 'vxlan', vni: 1001, localVtep: '192.168.77.1', remoteVteps: ['192.168.77.2'] },
      // The stray VM really runs on host B; host A is (wrongly) told about it, and must still
      // never answer it, because DHCP does not cross the uplink.
      dhcp: dhcp1([
        { mac: mac.a1, ip: '10.61.0.11', hostname: 'vm-a1' },
        { mac: mac.stray, ip: '10.61.0.50', hostname: 'stray' },
      ]),
    },
    // Host A has no VM on net2, and net2 is not persistent: nothing of it may exist on A.
    { uid: net2, inUse: false, segment: { type: 'vxlan', vni: 1002, localVtep: '192.168.77.1', remoteVteps: [] } },
  ];
  const specsB = (net2InUse = true): GuestNetworkSpec[] => [
    {
      uid: net1,
      inUse: true,
      segment: { type: 'vxlan', vni: 1001, localVtep: '192.168.77.2', remoteVteps: ['192.168.77.1'] },
      dhcp: dhcp1([{ mac: mac.b1, ip: '10.61.0.12', hostname: 'vm-b1' }]),
    },
    {
      uid: net2,
      inUse: net2InUse,
      segment: { type: 'vxlan', vni: 1002, localVtep: '192.168.77.2', remoteVteps: [] },
      dhcp: { cidr: '10.62.0.0/24', serviceAddress: '10.62.0.254', hosts: [{ mac: mac.b2, ip: '10.62.0.13', hostname: 'vm-b2' }] },
    },
  ];

  /** A "VM": a namespace whose eth0 (with the VM's MAC) is plugged into a host's bridge. */
  async function plugVm(host: string, role: string, vmMac: string, bridge: string): Promise<string> {
    const ns = await lab.create(role);
    const port = `p${role}`;
    await lab.run(host, 'ip', 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await lab.run(ns, 'ip', 'link', 'set', 'eth0', 'address', vmMac);
    await lab.run(ns, 'ip', 'link', 'set', 'eth0', 'up');
    await lab.run(host, 'ip', 'link', 'set', port, 'master', bridge, 'up');
    return ns;
  }

  async function dhcp(ns: string): Promise<string | undefined> {
    try {
      // Bounded: a client that is offered an address and then refused (NAK) starts over forever.
      const out = await lab.run(ns, 'timeout', '15', 'busybox', 'udhcpc', '-i', 'eth0', '-s', script, '-O', 'mtu', '-n', '-q', '-f', '-t', '4', '-T', '1', '-A', '1');
      return /lease (.*)/.exec(out)?.[1];
    } catch (err) {
      if (err instanceof CommandError) return undefined;
      throw err;
    }
  }

  async function pings(ns: string, address: string): Promise<boolean> {
    return lab.run(ns, 'busybox', 'ping', '-c', '2', '-W', '2', address).then(
      () => true,
      () => false,
    );
  }

  before(async function () {
    lab = netnsLab();
    stateDir = await mkdtemp(join(tmpdir(), 'kumulus-net-'));
    script = await writeUdhcpcScript(stateDir);
    hostA = await lab.create('ha');
    hostB = await lab.create('hb');
    // The underlay: one veth between the two "hosts", 1500 bytes like a plain Ethernet.
    await lab.run(hostA, 'ip', 'link', 'add', 'under0', 'type', 'veth', 'peer', 'name', 'under0', 'netns', hostB);
    await lab.run(hostA, 'ip', 'addr', 'add', '192.168.77.1/24', 'dev', 'under0');
    await lab.run(hostB, 'ip', 'addr', 'add', '192.168.77.2/24', 'dev', 'under0');
    await lab.run(hostA, 'ip', 'link', 'set', 'under0', 'up');
    await lab.run(hostB, 'ip', 'link', 'set', 'under0', 'up');
    driverA = linuxNetworkDriver({ stateDir: join(stateDir, 'a'), serviceNamespacePrefix: prefixA, runner: lab.runner(hostA), logger });
    driverB = linuxNetworkDriver({ stateDir: join(stateDir, 'b'), serviceNamespacePrefix: prefixB, runner: lab.runner(hostB), logger });
  });

  after(async function () {
    // The drivers' service namespaces, with whatever still runs in them.
    for (const ns of (await commandRunner()(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0] ?? '')) {
      if (!ns.startsWith(prefixA) && !ns.startsWith(prefixB)) continue;
      for (const pid of (await commandRunner()(['ip', 'netns', 'pids', ns])).stdout.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await commandRunner()(['ip', 'netns', 'del', ns]).catch(() => undefined);
    }
    await lab?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('builds bridges, VXLAN devices (learning off, MTU 1450, FDB to the remote VTEP), rules and dnsmasq; a second apply does nothing', async function () {
    const planA = await driverA.apply(specsA());
    await driverB.apply(specsB());
    expect(planA.steps.map((s) => s.argv.join(' '))).to.include('ip link add kx1001 type vxlan id 1001 dstport 4789 local 192.168.77.1 nolearning');
    expect(planA.dnsmasq).to.deep.equal([{ bridge: 'kbx1001', action: 'start' }]);

    const seenA = await driverA.observe();
    expect(seenA.links.get('kx1001')?.vxlan).to.deep.equal({ id: 1001, local: '192.168.77.1', port: 4789, learning: false });
    expect(seenA.links.get('kx1001')?.master).to.equal('kbx1001');
    expect(seenA.links.get('kbx1001')?.mtu).to.equal(1450);
    expect(seenA.floodTargets.get('kx1001')).to.deep.equal(['192.168.77.2']);
    expect(seenA.links.has('kbx1002'), 'an unused, non-persistent network is not built').to.equal(false);
    expect(seenA.nftComments, 'six rules for the bridge, eight keeping the host off Kumulus bridges').to.have.length(14);
    const dnsmasqA = seenA.dnsmasq.get('kbx1001');
    expect(dnsmasqA?.pid).to.be.a('number');
    expect(seenA.links.get('kbx1001')?.addresses, 'the host itself has no address on a guest network').to.deep.equal([]);
    expect(seenA.links.get('kbx1001')?.ipv6, 'not even an IPv6 link-local one').to.equal(false);
    const service = seenA.serviceNamespaces.get(`${prefixA}kbx1001`);
    expect(service?.port?.addresses).to.deep.equal([{ ip: '10.61.0.254', prefix: 24 }]);
    expect(dnsmasqA?.netns, 'dnsmasq runs in the network\'s service namespace').to.equal(service?.inode);
    expect(seenA.links.get('kdx1001')?.master).to.equal('kbx1001');

    for (const [driver, specs] of [
      [driverA, specsA()],
      [driverB, specsB()],
    ] as const) {
      const again = await driver.apply(specs);
      expect(again, 'converged: nothing left to do').to.deep.equal({ steps: [], dnsmasq: [], rejected: new Map() });
    }
  });

  it('gives each VM its address from its own host only, lets VMs on one VNI ping each other and keeps another VNI apart', async function () {
    const vmA1 = await plugVm(hostA, 'a1', mac.a1, 'kbx1001');
    const vmB1 = await plugVm(hostB, 'b1', mac.b1, 'kbx1001');
    const vmB2 = await plugVm(hostB, 'b2', mac.b2, 'kbx1002');

    const leaseA1 = await dhcp(vmA1);
    const leaseB1 = await dhcp(vmB1);
    const leaseB2 = await dhcp(vmB2);
    console.log(`      vm-a1 ${leaseA1}\n      vm-b1 ${leaseB1}\n      vm-b2 ${leaseB2}`);
    expect(leaseA1).to.match(/^ip=10\.61\.0\.11 mask=24 mtu=1450 router=10\.61\.0\.1 dns=10\.61\.0\.254 server=10\.61\.0\.254 hostname=vm-a1/);
    expect(leaseB1).to.match(/^ip=10\.61\.0\.12 mask=24 mtu=1450 /);
    expect(leaseB2).to.match(/^ip=10\.62\.0\.13 /);
    const leasesA = await readFile(join(stateDir, 'a', 'kbx1001', 'leases'), 'utf8');
    const leasesB = await readFile(join(stateDir, 'b', 'kbx1001', 'leases'), 'utf8');
    expect(leasesA).to.include(mac.a1).and.not.include(mac.b1);
    expect(leasesB).to.include(mac.b1).and.not.include(mac.a1);

    expect(await pings(vmA1, '10.61.0.12'), 'vm-a1 → vm-b1 across VXLAN').to.equal(true);
    expect(await pings(vmB1, '10.61.0.11'), 'vm-b1 → vm-a1 across VXLAN').to.equal(true);
    // vm-b2 sits on VNI 1002; give it an address in net1's subnet so only isolation can stop it.
    await lab.run(vmB2, 'ip', 'addr', 'add', '10.61.0.99/24', 'dev', 'eth0');
    expect(await pings(vmB2, '10.61.0.11'), 'VNI 1002 cannot reach VNI 1001 on the other host').to.equal(false);
    expect(await pings(vmB2, '10.61.0.12'), 'VNI 1002 cannot reach VNI 1001 on its own host').to.equal(false);

    // The DNS name of a local VM resolves at the service address.
    const dns = await lab.run(vmA1, 'busybox', 'nslookup', '-type=a', 'vm-a1.net1.kumulus.test', '10.61.0.254');
    expect(dns).to.include('10.61.0.11');
  });

  it('never answers DHCP for a VM on another host, because the rules keep DHCP off the uplink (and without them it would)', async function () {
    const stray = await plugVm(hostB, 'st', mac.stray, 'kbx1001');
    const logA = join(stateDir, 'a', 'kbx1001', 'dnsmasq.log');
    expect(await dhcp(stray), 'host B does not know the stray VM; host A must not answer it').to.equal(undefined);
    expect(await readFile(logA, 'utf8'), 'host A never even sees the request').to.not.include(mac.stray);
    expect(await readFile(join(stateDir, 'a', 'kbx1001', 'leases'), 'utf8')).to.not.include(mac.stray);

    // The control: without the rules, host A's dnsmasq sees the request across the VXLAN and
    // offers the address (host B, authoritative for the segment, then refuses the request,
    // so the client itself may or may not end up with the lease).
    await lab.run(hostA, 'nft', 'delete', 'table', 'bridge', 'kumulus');
    await lab.run(hostB, 'nft', 'delete', 'table', 'bridge', 'kumulus');
    await dhcp(stray);
    expect(await readFile(logA, 'utf8')).to.include(`DHCPOFFER(svc0) 10.61.0.50 ${mac.stray}`);

    // The agent's next pass puts the rules back.
    expect((await driverA.apply(specsA())).nftables).to.be.a('string');
    expect((await driverB.apply(specsB())).nftables).to.be.a('string');
    expect(await driverA.apply(specsA())).to.deep.equal({ steps: [], dnsmasq: [], rejected: new Map() });
  });

  it('keeps guests off the host\'s own stack: a VM cannot reach the host through the bridge (and without the rules it could)', async function () {
    const vmA1 = `kumulus-${lab.id}-a1`;
    await lab.run(vmA1, 'ip', 'route', 'add', '192.168.77.0/24', 'dev', 'eth0');
    // Even a host with a route into the guest network (set by hand, say) stays unreachable.
    await lab.run(hostA, 'ip', 'route', 'add', '10.61.0.0/24', 'dev', 'kbx1001');
    try {
      expect(await pings(vmA1, '192.168.77.1'), 'host A\'s own address, through the bridge').to.equal(false);
      // The control: without the tables the host answers ARP and ICMP arriving on the bridge.
      for (const family of ['inet', 'arp']) await lab.run(hostA, 'nft', 'delete', 'table', family, 'kumulus');
      expect(await pings(vmA1, '192.168.77.1'), 'reachable without the rules').to.equal(true);
      expect((await driverA.apply(specsA())).nftables).to.be.a('string');
      await lab.run(vmA1, 'ip', 'neigh', 'flush', 'all');
      expect(await pings(vmA1, '192.168.77.1'), 'cut off again once the agent reloads its rules').to.equal(false);
    } finally {
      await lab.run(vmA1, 'ip', 'route', 'del', '192.168.77.0/24', 'dev', 'eth0');
      await lab.run(hostA, 'ip', 'route', 'del', '10.61.0.0/24', 'dev', 'kbx1001');
    }
  });

  it('serves two networks of one CIDR on one host, each from its own service namespace', async function () {
    const mac3 = nicMac(vm.b2, net3);
    const twin: GuestNetworkSpec = {
      uid: net3,
      inUse: true,
      segment: { type: 'vxlan', vni: 1003, localVtep: '192.168.77.2', remoteVteps: [] },
      dhcp: dhcp1([{ mac: mac3, ip: '10.61.0.13', hostname: 'vm-b3' }]),
    };
    await driverB.apply([...specsB(), twin]);
    const vmB3 = await plugVm(hostB, 'b3', mac3, 'kbx1003');
    const lease = await dhcp(vmB3);
    expect(lease).to.match(/^ip=10\.61\.0\.13 mask=24 mtu=1450 router=10\.61\.0\.1 dns=10\.61\.0\.254 server=10\.61\.0\.254 hostname=vm-b3/);
    const dns = await lab.run(vmB3, 'busybox', 'nslookup', '-type=a', 'vm-b3.net1.kumulus.test', '10.61.0.254');
    expect(dns, 'the twin network’s own server answers').to.include('10.61.0.13');
    // net1 on the same host still answers its own VM at the same address.
    expect(await dhcp(`kumulus-${lab.id}-b1`), 'vm-b1 (plugged by an earlier test) renews').to.match(/^ip=10\.61\.0\.12 /);
    await driverB.apply(specsB());
    expect((await driverB.observe()).serviceNamespaces.has(`${prefixB}kbx1003`)).to.equal(false);
  });

  it('removes a network no local VM uses any more: links, rules and dnsmasq', async function () {
    const dnsmasqPid = (await driverB.observe()).dnsmasq.get('kbx1002')?.pid;
    expect(dnsmasqPid).to.be.a('number');
    const plan = await driverB.apply(specsB(false));
    expect(plan.steps.map((s) => s.argv.join(' '))).to.have.members(['ip link del kx1002', 'ip link del kbx1002', 'ip link del kdx1002', `ip netns del ${prefixB}kbx1002`]);
    expect(plan.dnsmasq).to.deep.equal([{ bridge: 'kbx1002', action: 'stop' }]);
    const seen = await driverB.observe();
    expect(seen.links.has('kbx1002')).to.equal(false);
    expect(seen.links.has('kx1002')).to.equal(false);
    expect(seen.serviceNamespaces.has(`${prefixB}kbx1002`)).to.equal(false);
    expect(seen.nftComments?.some((c) => c.includes('kbx1002'))).to.equal(false);
    expect(() => process.kill(dnsmasqPid ?? 0, 0)).to.throw();
    // A persistent network stays even without VMs.
    const persistent = specsB(false).map((s) => (s.uid === net2 ? { ...s, persistent: true } : s));
    await driverB.apply(persistent);
    expect((await driverB.observe()).links.has('kbx1002')).to.equal(true);
  });

  it('plans VLAN sub-interfaces (checked at plan level where the kernel lacks 8021q)', async function () {
    const vlanNet: GuestNetworkSpec = {
      uid: randomUUID(),
      inUse: true,
      segment: { type: 'vlan', vlan: 100, uplink: 'under0' },
      dhcp: { cidr: '10.70.0.0/24', serviceAddress: '10.70.0.254', hosts: [] },
    };
    const device = vlanDeviceName(100, 'under0');
    const bridge = bridgeName(vlanNet.segment);
    expect(device.length).to.be.at.most(15);
    const plan = planNetworks([vlanNet], await observeNetworking(lab.runner(hostA), join(stateDir, 'a'), prefixA), { stateDir: join(stateDir, 'a'), serviceNamespacePrefix: prefixA });
    const argv = plan.steps.map((s) => s.argv.join(' '));
    expect(argv).to.include(`ip link add link under0 name ${device} type vlan id 100`);
    expect(argv).to.include(`ip link set ${device} master ${bridge}`);
    expect(argv).to.include(`ip link set ${bridge} mtu 1500`);
    expect(argv, 'the VXLAN network of host A is not wanted in this plan').to.include('ip link del kx1001');
    expect(plan.nftables).to.include(`oifname "${device}" udp dport { 67, 68 } drop`);

    const probe = await lab.run(hostA, 'ip', 'link', 'add', 'link', 'under0', 'name', 'kvprobe', 'type', 'vlan', 'id', '100').then(
      () => true,
      () => false,
    );
    if (!probe) {
      console.log('      NOTE: this kernel has no 8021q (VLAN devices cannot be created): VLAN plumbing is checked at plan level only');
      return;
    }
    await lab.run(hostA, 'ip', 'link', 'del', 'kvprobe');
    const driver = linuxNetworkDriver({ stateDir: join(stateDir, 'vlan'), serviceNamespacePrefix: prefixA, runner: lab.runner(hostA), logger });
    await driver.apply([...specsA(), vlanNet]);
    expect((await driver.observe()).links.get(device)?.vlan).to.deep.equal({ id: 100 });
  });
});
