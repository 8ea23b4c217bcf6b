import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InfraContext } from '../../controllers/infra-context.ts';
import { registerInfrastructureControllers } from '../../controllers/infrastructure.ts';
import { ensureNics } from '../../controllers/nics.ts';
import { Cluster, Host, Network, PhysicalNetwork, Pod, VirtualMachine, type HostObject, type KindInfo, type NetworkObject, type PhysicalNetworkObject, type VirtualMachineObject } from '../../crds/index.ts';
import { agentFieldManager } from '../../lib/agent-contract.ts';
import { LABEL_HOST } from '../../lib/hierarchy-labels.ts';
import type { Informer } from '../../lib/informer.ts';
import { createKubeClient, resourceTypeOf, type KubeClient, type KubeObject } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { CommandError, commandRunner } from '../../node-daemon/drivers/exec.ts';
import { linuxNetworkDriver } from '../../node-daemon/drivers/network/driver.ts';
import { guestNetworks, type GuestNetworks } from '../../node-daemon/guest-networks.ts';
import { ensureKumulusCrds, sharedKubeConfig, uniqueName } from '../support/cluster.ts';
import { guestNetworkWorld, type GuestNetworkWorld } from '../support/guest-network-world.ts';
import { netnsLab, writeUdhcpcScript, type NetnsLab } from '../support/netns.ts';
import { until } from '../support/until.ts';

/**
 * Guest networks end to end from real objects, on two "hosts" (network namespaces joined by
 * a veth underlay): the operator implements an isolated network on a VNI when VMs are placed
 * on both hosts, hands each NIC its address and MAC, and lists the hosts; each host's agent
 * code (guestNetworks, the real Linux driver) builds the network from those objects alone.
 * The guests are namespaces whose eth0 carries the NIC's MAC: each leases exactly the
 * address IPAM gave it from its own host's DHCP, they reach each other across the VXLAN, and
 * a guest of another network reaches neither. The test plays the planner (placement and the
 * host label) and the VM controller's NIC step (ensureNics into status.nics).
 */


interface AgentHost {
  name: string;
  ns: string;
  vtep: string;
  manager: Manager;
  /** The agent's cache of its own VMs (by the host label), which its DHCP entries come from. */
  ownVms: Informer<VirtualMachineObject>;
  networks: GuestNetworks;
}

describe('guest networks from real objects on two hosts joined by VXLAN', function () {
  this.timeout(300_000);
  let client: KubeClient;
  let operator: Manager;
  let ctx: InfraContext;
  let world: GuestNetworkWorld;
  let lab: NetnsLab;
  let stateDir = '';
  let script = '';
  const hosts: AgentHost[] = [];
  const signal = new AbortController().signal;
  const servicePrefix = () => `kumulus-${lab.id}-s-`;

  before(async function () {
    this.timeout(300_000);
    const probe = await commandRunner()(['ip', 'link', 'add', 'kprobe0', 'type', 'vxlan', 'id', '1', 'dstport', '4789']).then(
      () => commandRunner()(['ip', 'link', 'del', 'kprobe0']).then(() => true),
      () => false,
    );
    if (!probe) {
      console.log('      skipped: this kernel cannot create VXLAN devices (ip link add type vxlan failed)');
      this.skip();
    }
    const kc = await sharedKubeConfig();
    await ensureKumulusCrds();
    client = createKubeClient(kc);
    world = await guestNetworkWorld(client, uniqueName('two').slice(4));
    lab = netnsLab();
    stateDir = await mkdtemp(join(tmpdir(), 'kumulus-two-hosts-'));
    script = await writeUdhcpcScript(stateDir);

    operator = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: log.child({ test: 'two-hosts-operator' }) });
    ctx = registerInfrastructureControllers(operator);
    await operator.start();

    // Two hosts of the zone, each a namespace with an underlay address (its VTEP).
    const res = <T extends KubeObject>(kind: KindInfo) => client.resource<T>(resourceTypeOf(kind));
    const pod = `pod-${world.suffix}`;
    const cluster = `cluster-${world.suffix}`;
    await res(Pod).create({ metadata: { name: pod }, spec: { zoneRef: { name: world.zone }, gateway: '192.0.2.1', netmask: '255.255.255.0', startIp: '192.0.2.10', endIp: '192.0.2.20' } } as KubeObject);
    await res(Cluster).create({ metadata: { name: cluster }, spec: { podRef: { name: pod }, hypervisor: 'Simulator' } } as KubeObject);
    const [nsA, nsB] = [await lab.create('ha'), await lab.create('hb')];
    await lab.run(nsA, 'ip', 'link', 'add', 'under0', 'type', 'veth', 'peer', 'name', 'under0', 'netns', nsB);
    for (const [ns, address] of [[nsA, '192.168.78.1'], [nsB, '192.168.78.2']] as const) {
      await lab.run(ns, 'ip', 'addr', 'add', `${address}/24`, 'dev', 'under0');
      await lab.run(ns, 'ip', 'link', 'set', 'under0', 'up');
    }
    for (const [role, ns, vtep] of [['a', nsA, '192.168.78.1'], ['b', nsB, '192.168.78.2']] as const) {
      const name = `h${role}-${world.suffix}`;
      await res<HostObject>(Host).create({ metadata: { name }, spec: { clusterRef: { name: cluster }, nodeName: name } } as HostObject);
      await res<HostObject>(Host).applyStatus({ apiVersion: Host.apiVersion, kind: 'Host', metadata: { name }, status: { ipAddress: vtep } }, { fieldManager: agentFieldManager(name), force: true });
      // The agent of the host, as node-daemon/main.ts wires it: its own VMs by label, the rest whole.
      const manager = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/agent', httpBindAddress: '127.0.0.1:0', logger: log.child({ test: `two-hosts-agent-${role}` }) });
      const ownVms = manager.informer<VirtualMachineObject>(resourceTypeOf(VirtualMachine), { labelSelector: `${LABEL_HOST}=${name}` });
      const networks = guestNetworks({
        ownVms,
        networks: manager.informer<NetworkObject>(resourceTypeOf(Network)),
        physicalNetworks: manager.informer<PhysicalNetworkObject>(resourceTypeOf(PhysicalNetwork)),
        hosts: manager.informer<HostObject>(resourceTypeOf(Host)),
        driver: linuxNetworkDriver({ stateDir: join(stateDir, role), serviceNamespacePrefix: `${servicePrefix()}${role}-`, runner: lab.runner(ns), logger: log.child({ test: `two-hosts-driver-${role}` }) }),
        host: name,
        localVtep: vtep,
        logger: log.child({ test: `two-hosts-agent-${role}` }),
      });
      await manager.start();
      hosts.push({ name, ns, vtep, manager, ownVms, networks });
    }
  });

  after(async function () {
    this.timeout(120_000);
    for (const h of hosts) await h.manager.stop();
    await operator?.stop();
    if (lab) {
      for (const ns of (await commandRunner()(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0] ?? '')) {
        if (!ns.startsWith(servicePrefix())) continue;
        for (const pid of (await commandRunner()(['ip', 'netns', 'pids', ns])).stdout.split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await commandRunner()(['ip', 'netns', 'del', ns]).catch(() => undefined);
      }
      await lab.cleanup();
    }
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    await world?.cleanup();
  });

  /** Places a VM on a host as the planner does (placement, then the host label), and records its NICs as the VM controller does. */
  async function deploy(name: string, network: string, host: AgentHost): Promise<NonNullable<NonNullable<VirtualMachineObject['status']>['nics']>[number]> {
    await world.vm(name, [{ name: network }]);
    await world.place(name, host.name);
    await world.vms.patch({ namespace: world.namespace, name }, { metadata: { labels: { [LABEL_HOST]: host.name } } });
    const vm = await until(`VM ${name} in the operator's cache`, 10_000, () => Promise.resolve(ctx.informers.vms.get({ namespace: world.namespace, name })?.status?.placement ? ctx.informers.vms.get({ namespace: world.namespace, name }) : undefined));
    const outcome = await until(`VM ${name}'s NIC with its VNI`, 30_000, async () => {
      const o = await ensureNics(ctx, ctx.informers.vms.get({ namespace: world.namespace, name }) ?? vm, signal);
      return o.result === 'ready' && o.nics[0]?.broadcastUri ? o.nics : undefined;
    });
    await world.vms.patchStatus({ namespace: world.namespace, name }, { status: { nics: outcome } });
    return outcome[0]!;
  }

  /**
   * Runs the host's agent network sync until the network has a bridge there and, given a peer,
   * its VXLAN floods to the peer's VTEP; returns the bridge. The agent learns its remote VTEPs
   * from the network's status.hosts in its own cache, so a sync before that cache lists the peer
   * builds a segment that reaches no one (seen in CI as a failed ping between two guests).
   */
  async function bridgeOn(host: AgentHost, network: string, peer?: AgentHost): Promise<string> {
    return until(`network ${network} built on ${host.name}${peer ? ` reaching ${peer.name}` : ''}`, 60_000, async () => {
      const attachment = (await host.networks.sync()).attached.get(`${world.namespace}/${network}`);
      const reaches = peer === undefined || (attachment?.segment.type === 'vxlan' && attachment.segment.remoteVteps.includes(peer.vtep));
      return reaches ? attachment?.bridge : undefined;
    }, 500);
  }

  /** A guest: a namespace whose eth0, with the NIC's MAC, is plugged into the host's bridge. */
  async function plugGuest(host: AgentHost, role: string, mac: string, bridge: string): Promise<string> {
    const ns = await lab.create(role);
    const port = `p${role}`;
    await lab.run(host.ns, 'ip', 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await lab.run(ns, 'ip', 'link', 'set', 'eth0', 'address', mac);
    await lab.run(ns, 'ip', 'link', 'set', 'eth0', 'up');
    await lab.run(host.ns, 'ip', 'link', 'set', port, 'master', bridge, 'up');
    return ns;
  }

  /** The guest's DHCP lease as the udhcpc script prints it (`lease ip=… hostname=…`), or undefined when none came. */
  async function leaseLine(ns: string): Promise<string | undefined> {
    try {
      const out = await lab.run(ns, 'timeout', '20', 'busybox', 'udhcpc', '-i', 'eth0', '-s', script, '-n', '-q', '-f', '-t', '6', '-T', '2', '-A', '1');
      return /^lease .*$/m.exec(out)?.[0];
    } catch (err) {
      if (err instanceof CommandError) return undefined;
      throw err;
    }
  }

  const lease = async (ns: string) => /^lease ip=(\S+)/.exec((await leaseLine(ns)) ?? '')?.[1];

  const pings = (ns: string, address: string) =>
    lab.run(ns, 'busybox', 'ping', '-c', '2', '-W', '2', address).then(
      () => true,
      () => false,
    );

  it('gives each guest the address IPAM chose, lets the two reach each other across hosts, and keeps another network\'s guest apart', async () => {
    const [a, b] = hosts as [AgentHost, AgentHost];
    await world.network('web', { cidr: '10.71.0.0/24', gateway: '10.71.0.1' });
    await world.network('db', { cidr: '10.72.0.0/24', gateway: '10.72.0.1' });
    const nicA = await deploy('web-a', 'web', a);
    const nicB = await deploy('web-b', 'web', b);
    const nicC = await deploy('db-b', 'db', b);
    expect(nicA.broadcastUri, 'one VNI for the network on both hosts').to.equal(nicB.broadcastUri);
    expect(nicC.broadcastUri).to.not.equal(nicA.broadcastUri);
    const web = await until('network web listing both hosts', 20_000, async () => {
      const n = await world.networks.get({ namespace: world.namespace, name: 'web' });
      return n.status?.hosts?.length === 2 ? n : undefined;
    });
    expect(web.status?.state).to.equal('Implemented');
    expect(web.status?.hosts).to.deep.equal([a.name, b.name].sort());

    const guestA = await plugGuest(a, 'ga', nicA.macAddress, await bridgeOn(a, 'web', b));
    const guestB = await plugGuest(b, 'gb', nicB.macAddress, await bridgeOn(b, 'web', a));
    const guestC = await plugGuest(b, 'gc', nicC.macAddress, await bridgeOn(b, 'db'));
    const leaseA = await leaseLine(guestA);
    expect(/^lease ip=(\S+)/.exec(leaseA ?? '')?.[1], 'web-a leases its IPAM address from host a').to.equal(nicA.ipAddress);
    expect(leaseA, 'with its gateway and its hostname').to.match(/ router=10\.71\.0\.1 .* hostname=web-a$/);
    expect(await lease(guestB), 'web-b leases its IPAM address from host b').to.equal(nicB.ipAddress);
    expect(await lease(guestC), 'db-b leases its IPAM address').to.equal(nicC.ipAddress);

    expect(await pings(guestA, nicB.ipAddress ?? ''), 'web-a reaches web-b across the VXLAN').to.equal(true);
    expect(await pings(guestB, nicA.ipAddress ?? ''), 'web-b reaches web-a').to.equal(true);
    // db-b shares host b but not the network: give it a web address by hand and it still reaches no one.
    await lab.run(guestC, 'ip', 'addr', 'add', '10.71.0.99/24', 'dev', 'eth0');
    expect(await pings(guestC, nicA.ipAddress ?? ''), 'another network\'s guest cannot reach web-a').to.equal(false);
    expect(await pings(guestC, nicB.ipAddress ?? ''), 'nor web-b on its own host').to.equal(false);
  });

  it('keeps a VM\'s address when it moves to the other host: the new host\'s DHCP hands out the same lease', async () => {
    const [a, b] = hosts as [AgentHost, AgentHost];
    const before = (await world.vms.get({ namespace: world.namespace, name: 'web-b' })).status?.nics?.[0];
    // The guest leaves host b (its namespace goes) and the planner places it on host a.
    await lab.run(b.ns, 'ip', 'link', 'del', 'pgb');
    await world.place('web-b', a.name);
    await world.vms.patch({ namespace: world.namespace, name: 'web-b' }, { metadata: { labels: { [LABEL_HOST]: a.name } } });
    const moved = await until('the move in the operator\'s cache', 10_000, () => Promise.resolve(ctx.informers.vms.get({ namespace: world.namespace, name: 'web-b' })?.status?.placement?.host === a.name ? ctx.informers.vms.get({ namespace: world.namespace, name: 'web-b' }) : undefined));
    const outcome = await ensureNics(ctx, moved, signal);
    expect(outcome.result === 'ready' && outcome.nics[0], 'the same NIC: address, MAC and VNI').to.deep.equal(before);
    // Host a's DHCP answers for the VMs its agent sees labelled with it: the sync below must come after the label reached its cache.
    await until('web-b in host a\'s agent cache', 10_000, () => Promise.resolve(a.ownVms.get({ namespace: world.namespace, name: 'web-b' })));
    const bridge = await until('host a to serve web-b', 60_000, async () => {
      const result = await a.networks.sync();
      return result.attached.get(`${world.namespace}/web`)?.bridge;
    }, 500);
    const guest = await plugGuest(a, 'gm', before?.macAddress ?? '', bridge);
    expect(await lease(guest), 'the same address from its new host').to.equal(before?.ipAddress);
    expect(await pings(guest, (await world.vms.get({ namespace: world.namespace, name: 'web-a' })).status?.nics?.[0]?.ipAddress ?? ''), 'and it reaches web-a').to.equal(true);
  });

  it('carries an L2 network on its own VNI across the hosts with no addressing and no DHCP: guests lease nothing, and reach each other on addresses of their own', async () => {
    const [a, b] = hosts as [AgentHost, AgentHost];
    await world.network('bare', { networkOfferingRef: { name: world.offerings.l2 } });
    const nicA = await deploy('bare-a', 'bare', a);
    const nicB = await deploy('bare-b', 'bare', b);
    expect(nicA.broadcastUri, 'one VNI on both hosts').to.equal(nicB.broadcastUri);
    const web = await world.networks.get({ namespace: world.namespace, name: 'web' });
    expect(nicA.broadcastUri, 'its own VNI').to.not.equal(web.status?.broadcastUri);
    expect([nicA.ipAddress, nicB.ipAddress], 'no address from IPAM').to.deep.equal([undefined, undefined]);
    const guestA = await plugGuest(a, 'la', nicA.macAddress, await bridgeOn(a, 'bare', b));
    const guestB = await plugGuest(b, 'lb', nicB.macAddress, await bridgeOn(b, 'bare', a));
    expect(await lease(guestA), 'no DHCP answers on an L2 network').to.equal(undefined);
    await lab.run(guestA, 'ip', 'addr', 'add', '172.31.9.1/24', 'dev', 'eth0');
    await lab.run(guestB, 'ip', 'addr', 'add', '172.31.9.2/24', 'dev', 'eth0');
    expect(await pings(guestA, '172.31.9.2'), 'bare-a reaches bare-b across the VXLAN').to.equal(true);
  });
});
