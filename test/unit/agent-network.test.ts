import { expect } from 'chai';
import { parseCpuModel, parseMeminfoTotal, parseNodeinfo, parseVirshVersion } from '../../node-daemon/drivers/host/facts.ts';
import { renderDnsmasq } from '../../node-daemon/drivers/network/dnsmasq.ts';
import { bridgeName, isKumulusLink, maxVlan, maxVni, servicePortName, vlanDeviceName, vxlanDeviceName } from '../../node-daemon/drivers/network/names.ts';
import { desiredRuleComments } from '../../node-daemon/drivers/network/nftables.ts';
import type { ObservedLink, ObservedNetworking } from '../../node-daemon/drivers/network/types.ts';
import { planNetworks } from '../../node-daemon/drivers/network/plan.ts';
import { simulatedNetworkDriver } from '../../node-daemon/drivers/network/simulator.ts';
import type { GuestNetworkSpec } from '../../node-daemon/drivers/network/types.ts';

const netUid = '3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b';
const at = { stateDir: '/state', serviceNamespacePrefix: 'kumulus-dhcp-' };

function link(name: string, extra: Partial<ObservedLink> = {}): [string, ObservedLink] {
  return [name, { name, mtu: 1500, up: true, addresses: [], ipv6: false, ...extra }];
}

function host(...links: [string, ObservedLink][]): ObservedNetworking {
  return { links: new Map([link('eth0', { addresses: [{ ip: '192.0.2.10', prefix: 24 }] }), ...links]), floodTargets: new Map(), dnsmasq: new Map(), serviceNamespaces: new Map() };
}

const vxlan = (extra: Partial<GuestNetworkSpec> = {}): GuestNetworkSpec => ({
  uid: netUid,
  inUse: true,
  segment: { type: 'vxlan', vni: 5001, localVtep: '192.0.2.10', remoteVteps: ['192.0.2.11', '192.0.2.12'] },
  dhcp: { cidr: '10.1.1.0/24', serviceAddress: '10.1.1.254', gateway: '10.1.1.1', hosts: [{ mac: '02:00:00:00:00:01', ip: '10.1.1.10', hostname: 'web' }] },
  ...extra,
});

describe('agent network: names', function () {
  it('fit in 15 characters at the largest ids and are recognised as the agent’s own', function () {
    const names = [
      vxlanDeviceName(maxVni),
      bridgeName({ type: 'vxlan', vni: maxVni }),
      servicePortName({ type: 'vxlan', vni: maxVni }),
      vlanDeviceName(maxVlan, 'enp129s0f1np1.x'),
      bridgeName({ type: 'vlan', vlan: maxVlan, uplink: 'eth0' }),
      servicePortName({ type: 'vlan', vlan: maxVlan, uplink: 'enp129s0f1np1.x' }),
    ];
    for (const name of names) {
      expect(name.length, name).to.be.at.most(15);
      expect(isKumulusLink(name), name).to.equal(true);
    }
    expect(vlanDeviceName(100, 'eth0')).to.not.equal(vlanDeviceName(100, 'eth1'));
    expect(isKumulusLink('eth0')).to.equal(false);
    expect(isKumulusLink('kube-bridge')).to.equal(false);
  });
});

describe('agent network: plan', function () {
  it('builds a VXLAN network from nothing: bridge, device (learning off, MTU −50), FDB, service address, rules, dnsmasq', function () {
    const plan = planNetworks([vxlan()], host(), at);
    expect(plan.steps.map((s) => s.argv.join(' '))).to.deep.equal([
      'ip link add kbx5001 type bridge',
      'ip link set kbx5001 addrgenmode none',
      'ip link add kx5001 type vxlan id 5001 dstport 4789 local 192.0.2.10 nolearning',
      'ip link set kx5001 mtu 1450',
      'ip link set kx5001 master kbx5001',
      'ip link set kx5001 up',
      'ip link set kbx5001 mtu 1450',
      'ip link set kbx5001 up',
      'bridge fdb append 00:00:00:00:00:00 dev kx5001 dst 192.0.2.11',
      'bridge fdb append 00:00:00:00:00:00 dev kx5001 dst 192.0.2.12',
      'ip netns add kumulus-dhcp-kbx5001',
      'ip link add kdx5001 type veth peer name svc0 netns kumulus-dhcp-kbx5001',
      'ip link set kdx5001 mtu 1450',
      'ip link set kdx5001 master kbx5001',
      'ip link set kdx5001 up',
      'ip -n kumulus-dhcp-kbx5001 link set svc0 mtu 1450',
      'ip -n kumulus-dhcp-kbx5001 link set svc0 up',
      'ip -n kumulus-dhcp-kbx5001 addr add 10.1.1.254/24 dev svc0',
    ]);
    expect(plan.nftables).to.include('oifname "kx5001" udp dport { 67, 68 } drop').and.include('arp daddr ip 10.1.1.254');
    expect(plan.nftables, 'the host stack is cut off every Kumulus bridge both ways').to.include('table inet kumulus {').and.include('table arp kumulus {');
    expect(plan.nftables).to.include('iifname "kbx*" drop').and.include('oifname "kbv*" drop');
    expect(plan.dnsmasq).to.deep.equal([{ bridge: 'kbx5001', action: 'start' }]);
  });

  it('is empty when the host already matches, and only fixes what differs', function () {
    const dnsmasq = renderDnsmasq('/state', 'kbx5001', vxlan().dhcp!, 1450);
    const done: ObservedNetworking = {
      ...host(
        link('kbx5001', { kind: 'bridge', mtu: 1450 }),
        link('kx5001', { kind: 'vxlan', mtu: 1450, master: 'kbx5001', vxlan: { id: 5001, local: '192.0.2.10', port: 4789, learning: false } }),
        link('kdx5001', { kind: 'veth', mtu: 1450, master: 'kbx5001' }),
      ),
      floodTargets: new Map([['kx5001', ['192.0.2.11', '192.0.2.12']]]),
      nftComments: desiredRuleComments([{ bridge: 'kbx5001', uplinkPort: 'kx5001', serviceAddress: '10.1.1.254' }]),
      dnsmasq: new Map([['kbx5001', { pid: 42, conf: dnsmasq.conf, dhcpHosts: dnsmasq.dhcpHosts, dnsHosts: dnsmasq.dnsHosts, netns: 4026532280 }]]),
      serviceNamespaces: new Map([['kumulus-dhcp-kbx5001', { inode: 4026532280, port: link('svc0', { kind: 'veth', mtu: 1450, addresses: [{ ip: '10.1.1.254', prefix: 24 }] })[1] }]]),
    };
    const first = planNetworks([vxlan()], done, at);
    expect(first.steps).to.deep.equal([]);
    expect(first.nftables).to.equal(undefined);
    expect(first.dnsmasq).to.deep.equal([]);

    const moved = vxlan({ segment: { type: 'vxlan', vni: 5001, localVtep: '192.0.2.10', remoteVteps: ['192.0.2.12', '192.0.2.13'] } });
    expect(planNetworks([moved], done, at).steps.map((s) => s.argv.join(' '))).to.deep.equal([
      'bridge fdb append 00:00:00:00:00:00 dev kx5001 dst 192.0.2.13',
      'bridge fdb del 00:00:00:00:00:00 dev kx5001 dst 192.0.2.11',
    ]);
    const newVm = vxlan({ dhcp: { ...vxlan().dhcp!, hosts: [...vxlan().dhcp!.hosts, { mac: '02:00:00:00:00:02', ip: '10.1.1.11', hostname: 'db' }] } });
    expect(planNetworks([newVm], done, at).dnsmasq).to.deep.equal([{ bridge: 'kbx5001', action: 'reload' }]);

    const unused = planNetworks([vxlan({ inUse: false })], done, at);
    expect(unused.steps.map((s) => s.argv.join(' '))).to.have.members(['ip link del kbx5001', 'ip link del kx5001', 'ip link del kdx5001', 'ip netns del kumulus-dhcp-kbx5001']);
    expect(unused.dnsmasq).to.deep.equal([{ bridge: 'kbx5001', action: 'stop' }]);
    expect(planNetworks([vxlan({ inUse: false, persistent: true })], done, at).steps).to.deep.equal([]);

    // The veth was lost (its namespace deleted by hand): a new pair, and dnsmasq restarted on it.
    const lost: ObservedNetworking = { ...done, links: new Map([...done.links].filter(([name]) => name !== 'kdx5001')), serviceNamespaces: new Map() };
    const replug = planNetworks([vxlan()], lost, at);
    expect(replug.steps.map((s) => s.argv.join(' '))).to.include.members(['ip netns add kumulus-dhcp-kbx5001', 'ip link add kdx5001 type veth peer name svc0 netns kumulus-dhcp-kbx5001']);
    expect(replug.dnsmasq).to.deep.equal([{ bridge: 'kbx5001', action: 'restart' }]);

    // The layout before service namespaces had the address on the bridge, and a link-local one: both are taken off.
    const old: ObservedNetworking = { ...done, links: new Map([...done.links, link('kbx5001', { kind: 'bridge', mtu: 1450, addresses: [{ ip: '10.1.1.254', prefix: 24 }], ipv6: true })]) };
    expect(planNetworks([vxlan()], old, at).steps.map((s) => s.argv.join(' '))).to.deep.equal([
      'ip addr del 10.1.1.254/24 dev kbx5001',
      'ip link set kbx5001 addrgenmode none',
      'ip -6 addr flush dev kbx5001',
    ]);

    // A dnsmasq left running in a namespace that has since been replaced (the agent killed in between) is restarted.
    const stale: ObservedNetworking = { ...done, dnsmasq: new Map([['kbx5001', { ...done.dnsmasq.get('kbx5001'), netns: 4026532999 }]]) };
    expect(planNetworks([vxlan()], stale, at).dnsmasq).to.deep.equal([{ bridge: 'kbx5001', action: 'restart' }]);

    // A namespace name left unmounted by a kill inside `ip netns add` is made again.
    const broken: ObservedNetworking = { ...done, serviceNamespaces: new Map([['kumulus-dhcp-kbx5001', { broken: 'Invalid argument' }]]) };
    const remade = planNetworks([vxlan()], broken, at);
    expect(remade.steps.map((s) => s.argv.join(' ')).slice(0, 3)).to.deep.equal([
      'ip netns del kumulus-dhcp-kbx5001',
      'ip netns add kumulus-dhcp-kbx5001',
      'ip link del kdx5001',
    ]);
    expect(remade.dnsmasq).to.deep.equal([{ bridge: 'kbx5001', action: 'restart' }]);

    // Another network of the same CIDR gets its own namespace with the same address.
    const twin = vxlan({ uid: 'twin', segment: { type: 'vxlan', vni: 5002, localVtep: '192.0.2.10', remoteVteps: [] } });
    expect(planNetworks([vxlan(), twin], done, at).steps.map((s) => s.argv.join(' '))).to.include.members([
      'ip netns add kumulus-dhcp-kbx5002',
      'ip -n kumulus-dhcp-kbx5002 addr add 10.1.1.254/24 dev svc0',
    ]);
  });

  it('plans a VLAN sub-interface on the uplink with the uplink’s MTU', function () {
    const vlan = vxlan({ segment: { type: 'vlan', vlan: 42, uplink: 'eth0' } });
    const device = vlanDeviceName(42, 'eth0');
    const steps = planNetworks([vlan], host(), at).steps.map((s) => s.argv.join(' '));
    expect(steps).to.include(`ip link add link eth0 name ${device} type vlan id 42`);
    expect(steps).to.include(`ip link set ${device} mtu 1500`);
  });

  it('rejects a network it cannot build, naming the field and the fix, and plans the others', function () {
    const rejectedBy = (spec: GuestNetworkSpec) => planNetworks([spec], host(), at).rejected.get(spec.uid);
    expect(rejectedBy(vxlan({ segment: { type: 'vxlan', vni: 0, localVtep: '192.0.2.10', remoteVteps: [] } }))).to.match(/segment\.vni: 0 must be 1-16777215/);
    expect(rejectedBy(vxlan({ segment: { type: 'vxlan', vni: 7, localVtep: '198.51.100.1', remoteVteps: [] } }))).to.match(/localVtep: 198\.51\.100\.1 is not an address of any interface on this host/);
    expect(rejectedBy(vxlan({ segment: { type: 'vlan', vlan: 7, uplink: 'bond9' } }))).to.match(/uplink: no interface "bond9".*traffic label/);
    expect(rejectedBy(vxlan({ dhcp: { ...vxlan().dhcp!, serviceAddress: '10.1.2.1' } }))).to.match(/dhcp\.serviceAddress: 10\.1\.2\.1 is not a host address of 10\.1\.1\.0\/24/);
    expect(rejectedBy(vxlan({ dhcp: { ...vxlan().dhcp!, cidr: '10.1.1.5/24' } }))).to.match(/host bits set; use 10\.1\.1\.0\/24/);

    // A VLAN network whose uplink this host lacks keeps what it has (its links, namespace,
    // dnsmasq and rules), and the VXLAN network next to it is built as usual.
    const vlan = vxlan({ uid: 'vlan-net', segment: { type: 'vlan', vlan: 7, uplink: 'bond9' }, dhcp: { cidr: '10.9.0.0/24', serviceAddress: '10.9.0.254', gateway: '10.9.0.1', hosts: [] } });
    const bridge = bridgeName(vlan.segment);
    const device = vlanDeviceName(7, 'bond9');
    const had: ObservedNetworking = {
      ...host(link(bridge, { kind: 'bridge' }), link(device, { kind: 'vlan', master: bridge })),
      nftComments: desiredRuleComments([{ bridge, uplinkPort: device, serviceAddress: '10.9.0.254' }]),
      dnsmasq: new Map([[bridge, { pid: 43, conf: 'as it was' }]]),
      serviceNamespaces: new Map([[`kumulus-dhcp-${bridge}`, { inode: 1 }]]),
    };
    const plan = planNetworks([vlan, vxlan()], had, at);
    expect(plan.rejected.get('vlan-net')).to.match(/uplink: no interface "bond9"/);
    const argv = plan.steps.map((s) => s.argv.join(' '));
    expect(argv).to.include('ip link add kbx5001 type bridge');
    expect(argv.filter((a) => a.includes(bridge) || a.includes(device)), 'nothing of the rejected network is touched').to.deep.equal([]);
    expect(plan.dnsmasq).to.deep.equal([{ bridge: 'kbx5001', action: 'start' }]);
    expect(plan.nftables, 'the rejected network keeps its rules').to.include(`oifname "${device}" udp dport { 67, 68 } drop`).and.include('arp daddr ip 10.9.0.254');
    expect(plan.nftables).to.include('oifname "kx5001" udp dport { 67, 68 } drop');
  });
});

describe('agent network: the simulated host', function () {
  it('holds its VTEP address on a simulated underlay, so a VXLAN network plans there as on Linux, and touches nothing', async function () {
    const simulated = simulatedNetworkDriver('/state', '192.0.2.10');
    const plan = await simulated.plan([vxlan()]);
    expect(plan.rejected.size, JSON.stringify([...plan.rejected])).to.equal(0);
    expect(plan.steps.map((s) => s.argv.join(' '))).to.include(`ip link add ${vxlanDeviceName(5001)} type vxlan id 5001 dstport 4789 local 192.0.2.10 nolearning`);
    expect((await simulated.observe()).links.get('sim-underlay')?.addresses).to.deep.equal([{ ip: '192.0.2.10', prefix: 32 }]);
    // Another address than the host's is still refused, as on Linux.
    const elsewhere = await simulated.plan([vxlan({ segment: { type: 'vxlan', vni: 7, localVtep: '198.51.100.1', remoteVteps: [] } })]);
    expect(elsewhere.rejected.get(netUid)).to.match(/localVtep: 198\.51\.100\.1 is not an address of any interface on this host/);
  });
});

describe('agent network: dnsmasq', function () {
  it('serves static leases only, for the hosts it is given, with router, DNS and MTU options', function () {
    const files = renderDnsmasq('/state', 'kbx5001', { ...vxlan().dhcp!, domain: 'n.example' }, 1450);
    expect(files.conf).to.include('interface=svc0').and.include('dhcp-range=10.1.1.0,static,255.255.255.0,86400');
    expect(files.conf).to.include('dhcp-option=option:router,10.1.1.1').and.include('dhcp-option=option:dns-server,10.1.1.254\n');
    expect(files.conf, 'no upstream to forward to from the namespace').to.include('no-resolv').and.not.include('server=');
    const withUpstream = renderDnsmasq('/state', 'kbx5001', { ...vxlan().dhcp!, dnsServers: ['8.8.8.8', '1.1.1.1'] }, 1450);
    expect(withUpstream.conf, 'guests ask the upstream servers after this one').to.include('dhcp-option=option:dns-server,10.1.1.254,8.8.8.8,1.1.1.1\n');
    expect(files.conf).to.include('dhcp-option=option:mtu,1450').and.include('local=/n.example/');
    expect(files.dhcpHosts).to.equal('02:00:00:00:00:01,10.1.1.10,web,86400\n');
    expect(files.dnsHosts).to.equal('10.1.1.10 web.n.example web\n');
  });
});

describe('agent host facts: parsers', function () {
  it('reads virsh nodeinfo and version, /proc/meminfo and /proc/cpuinfo', function () {
    const nodeinfo = parseNodeinfo('CPU model:           x86_64\nCPU(s):              16\nCPU frequency:       2600 MHz\nCPU socket(s):       1\n');
    expect(nodeinfo['CPU(s)']).to.equal('16');
    expect(nodeinfo['CPU frequency']).to.equal('2600 MHz');
    expect(parseVirshVersion('Using library: libvirt 9.0.0\nUsing API: QEMU 9.0.0\nRunning hypervisor: QEMU 7.2.22\n')).to.deep.equal({
      type: 'QEMU',
      version: '7.2.22',
      libvirtVersion: '9.0.0',
    });
    expect(parseMeminfoTotal('MemTotal:       24684084 kB\nMemFree: 1 kB\n')).to.equal(24684084 * 1024);
    expect(parseCpuModel('processor\t: 0\nmodel name\t: AMD EPYC 7B13\n')).to.equal('AMD EPYC 7B13');
  });
});
