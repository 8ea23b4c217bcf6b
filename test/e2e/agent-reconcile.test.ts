import { expect } from 'chai';
import { randomBytes, randomInt } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HOST_LEASE_NAMESPACE, hostLeaseName } from '../../lib/agent-contract.ts';
import { installCrds, readCrdManifests } from '../../lib/install-crds.ts';
import { createKubeClient, isNotFound, type KubeClient, type KubeObject, type ResourceClient } from '../../lib/kube-client.ts';
import { LEASES } from '../../lib/leader-election.ts';
import { log } from '../../lib/log.ts';
import { commandRunner } from '../../node-daemon/drivers/exec.ts';
import { libvirtDriver, type LibvirtDriver } from '../../node-daemon/drivers/hypervisor/libvirt.ts';
import { nicMac } from '../../node-daemon/drivers/identity.ts';
import { bridgeName, vxlanDeviceName } from '../../node-daemon/drivers/network/names.ts';
import { runAgent, type RunningAgent } from '../../node-daemon/main.ts';
import { RESOURCES } from '../../node-daemon/resources.ts';
import { sharedKubeConfig } from '../support/cluster.ts';
import { tinyGuestImage, type GuestImage } from '../support/guest-image.ts';
import { useLibvirt, type TestLibvirt } from '../support/libvirtd.ts';

/**
 * The agent's reconcilers against the real control plane and real libvirt with KVM. The test
 * plays the operator: it creates the zone, the pool, the template, the offering, a VXLAN network
 * and a VM with its ROOT volume, and places the VM on the agent's host (label and
 * status.placement). The agent builds the disk from the template, plumbs the network, defines
 * and starts the domain, stops, starts and reboots it on request, survives being killed (the
 * domain keeps running and is adopted: same UUID, same QEMU process, nothing recreated), and
 * removes domain, disk and bridge when the VM is deleted. Guest code does not have to run:
 * KVM guests here are too slow to boot (see agent-guest.test.ts), and nothing below needs them to.
 */

const repoRoot = resolve(import.meta.dirname, '../..');

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> & { state?: string; conditions?: Condition[] } };

function condition(obj: Obj | undefined, type: string): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

async function getOrUndefined(resource: ResourceClient<Obj>, name: string, namespace?: string): Promise<Obj | undefined> {
  return resource.get({ name, namespace }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
}

async function waitFor(resource: ResourceClient<Obj>, name: string, what: string, check: (obj: Obj) => boolean, timeoutMs = 60_000, namespace?: string): Promise<Obj> {
  let last: Obj | undefined;
  try {
    return await until(`${resource.type.kind} ${name} ${what}`, timeoutMs, async () => {
      last = await getOrUndefined(resource, name, namespace);
      return last && check(last) ? last : undefined;
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last?.status ?? 'absent')}`, { cause: err });
  }
}

function diskPathOf(volume: Obj): string {
  return join(poolDir, `${volume.metadata.uid}.qcow2`);
}

let poolDir = '';

async function linkExists(name: string): Promise<boolean> {
  return commandRunner()(['ip', 'link', 'show', name]).then(
    () => true,
    () => false,
  );
}

describe('agent reconcilers on the real control plane and libvirt/KVM', function () {
  this.timeout(300_000);
  const s = randomBytes(3).toString('hex');
  /** One namespace for the whole sequence: the VM lives across the tests. */
  const ns = { name: `agent-rec-${s}` };
  const node = `node-rec-${s}`;
  const names = { zone: `zone-${s}`, pod: `pod-${s}`, cluster: `cluster-${s}`, pool: `local-${s}`, offering: `tiny-${s}`, diskOffering: `disk-${s}` };
  const vni = 300_000 + randomInt(0, 100_000);
  const persistentVni = vni + 100_000;
  const idleVni = vni + 200_000;
  const subnet = `10.${randomInt(16, 250)}.${randomInt(0, 255)}`;
  let client: KubeClient;
  let libvirt: TestLibvirt;
  let guest: GuestImage;
  let hypervisor: LibvirtDriver;
  let workDir: string;
  let agent: RunningAgent | undefined;
  const clusterScoped: { kind: keyof typeof RESOURCES; name: string }[] = [];
  let vmUid = '';

  const res = (kind: keyof typeof RESOURCES) => client.resource<Obj>(RESOURCES[kind]);
  const startAgent = () =>
    runAgent({
      kubeConfig: client.kubeConfig,
      handleSignals: false,
      env: { NODE_NAME: node },
      args: [
        '--http-bind-address=127.0.0.1:0',
        `--libvirt-uri=${libvirt.uri}`,
        '--domain-type=kvm',
        `--state-dir=${join(workDir, 'agent')}`,
        `--cluster=${names.cluster}`,
        '--shutdown-timeout=2s',
        '--reboot-timeout=2s',
        '--log-level=warn',
      ],
    });

  before(async function () {
    this.timeout(600_000);
    libvirt = await useLibvirt();
    if (libvirt.limitation !== undefined) {
      console.log(`      SKIP: ${libvirt.limitation}`);
      this.skip();
    }
    const kc = await sharedKubeConfig();
    await installCrds(kc, await readCrdManifests(join(repoRoot, 'crds')), log);
    client = createKubeClient(kc);
    // What the installation (the operator's prepareInfrastructure) creates: the heartbeat Leases' namespace.
    await client
      .resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false })
      .create({ metadata: { name: HOST_LEASE_NAMESPACE } })
      .catch(() => undefined);
    await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: ns.name } });
    guest = await tinyGuestImage();
    hypervisor = libvirtDriver({ uri: libvirt.uri, logger: log.child({ test: 'agent-reconcile' }) });
    // World-traversable: a system libvirtd runs QEMU as libvirt-qemu.
    workDir = await mkdtemp('/var/tmp/kumulus-agent-rec-');
    await chmod(workDir, 0o755);
    poolDir = join(workDir, 'pool');

    const create = async (kind: keyof typeof RESOURCES, name: string, spec: Record<string, unknown>) => {
      await res(kind).create({ metadata: { name }, spec });
      clusterScoped.push({ kind, name });
    };
    await create('zones', names.zone, { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '192.168.100.2', guestCidr: `${subnet}.0/24` });
    await create('pods', names.pod, { zoneRef: { name: names.zone }, gateway: '192.168.100.1', netmask: '255.255.255.0', startIp: '192.168.100.10' });
    await create('clusters', names.cluster, { podRef: { name: names.pod }, hypervisor: 'KVM' });
    await create('primaryStorages', names.pool, { zoneRef: { name: names.zone }, scope: 'Host', hostRef: { name: node }, protocol: 'Local', path: join(workDir, 'pool') });
    await create('serviceOfferings', names.offering, { cpuNumber: 1, cpuSpeed: 500, memory: '128Mi' });
    await create('diskOfferings', names.diskOffering, { diskSize: '2Gi' });
  });

  after(async function () {
    this.timeout(120_000);
    if (vmUid) await hypervisor?.undefine(vmUid).catch(() => undefined);
    await agent?.stop();
    const strip = async (resource: ResourceClient<Obj>, name: string, namespace?: string) => {
      await resource.patch({ name, namespace }, { metadata: { finalizers: null } }).catch(() => undefined);
    };
    if (client) {
      for (const kind of ['vms', 'volumes'] as const) {
        for (const o of (await res(kind).list({ namespace: ns.name }).catch(() => ({ items: [] as Obj[] }))).items) await strip(res(kind), o.metadata.name ?? '', ns.name);
      }
      for (const { kind, name } of clusterScoped.reverse()) await res(kind).delete({ name }).catch(() => undefined);
      await res('hosts').delete({ name: node }).catch(() => undefined);
      await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).delete({ name: ns.name }).catch(() => undefined);
    }
    for (const id of [vni, persistentVni, idleVni]) {
      await commandRunner()(['ip', 'link', 'del', bridgeName({ type: 'vxlan', vni: id })]).catch(() => undefined);
      await commandRunner()(['ip', 'link', 'del', vxlanDeviceName(id)]).catch(() => undefined);
    }
    await libvirt?.release();
    if (workDir) {
      // A dnsmasq left by a failed test keeps its address bound, even with its bridge gone.
      const dnsmasqRoot = join(workDir, 'agent', 'dnsmasq');
      for (const bridge of await readdir(dnsmasqRoot).catch(() => [] as string[])) {
        const pid = Number.parseInt(await readFile(join(dnsmasqRoot, bridge, 'dnsmasq.pid'), 'utf8').catch(() => ''), 10);
        if (Number.isInteger(pid)) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            // already gone
          }
        }
      }
      await rm(workDir, { recursive: true, force: true });
    }
  });

  it('joins as a Host with real capacity and a heartbeat Lease, runs a placed VM on KVM, stops, starts and reboots it on request', async function () {
    agent = await startAgent();
    const joined = await agent.joined;
    expect(joined).to.deep.equal({ host: node, cluster: names.cluster, pod: names.pod, zone: names.zone });
    const host = await waitFor(res('hosts'), node, 'with capacity', (h) => h.status?.capacity !== undefined);
    const meminfo = await readFile('/proc/meminfo', 'utf8');
    expect((host.status?.capacity as { memoryBytes: number }).memoryBytes).to.equal(Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1]) * 1024);
    const lease = await client.resource<KubeObject & { spec: { holderIdentity: string } }>(LEASES).get({ namespace: HOST_LEASE_NAMESPACE, name: hostLeaseName(node) });
    expect(lease.spec.holderIdentity).to.equal(node);
    await waitFor(res('primaryStorages'), names.pool, 'mounted on the host', (p) => (p.status?.mounts as { host: string; mounted: boolean }[] | undefined)?.some((m) => m.host === node && m.mounted) ?? false);

    const [algorithm, hex] = guest.template.checksum.split(':');
    expect(algorithm).to.equal('sha256');
    const template = await res('templates').create({
      metadata: { name: 'tiny', namespace: ns.name },
      spec: { url: `file://${guest.template.path}`, format: 'QCOW2', checksum: `{SHA-256}${hex}`, zoneRefs: [{ name: names.zone }] },
    });
    const network = await res('networks').create({
      metadata: { name: 'net1', namespace: ns.name },
      spec: { networkOfferingRef: { name: 'isolated' }, zoneRef: { name: names.zone }, cidr: `${subnet}.0/24`, gateway: `${subnet}.1` },
    });
    // The operator implements the network: the agent needs its VNI.
    await res('networks').patchStatus({ name: 'net1', namespace: ns.name }, { status: { state: 'Implemented', cidr: `${subnet}.0/24`, gateway: `${subnet}.1`, netmask: '255.255.255.0', broadcastDomainType: 'Vxlan', broadcastUri: `vxlan://${vni}` } });
    const labels = { 'kumulus.io/host': node };
    // Labelled (placed) only once its volumes exist: a volume added later reaches a running domain at its next start.
    const vm = await res('vms').create({
      metadata: { name: 'web', namespace: ns.name },
      spec: {
        displayName: 'web server',
        zoneRef: { name: names.zone },
        serviceOfferingRef: { name: names.offering },
        templateRef: { name: 'tiny', namespace: ns.name },
        networks: [{ name: 'net1', ipAddress: `${subnet}.10` }],
        state: 'Running',
      },
    });
    vmUid = vm.metadata.uid ?? '';
    const root = await res('volumes').create({
      metadata: {
        name: 'web-root',
        namespace: ns.name,
        labels,
        ownerReferences: [{ apiVersion: vm.apiVersion ?? '', kind: 'VirtualMachine', name: 'web', uid: vmUid, controller: true, blockOwnerDeletion: true }],
      },
      spec: { type: 'ROOT', zoneRef: { name: names.zone }, templateRef: { name: 'tiny', namespace: ns.name }, vmRef: { name: 'web' }, deviceId: 0, size: '1Gi' },
    });

    const data = await res('volumes').create({
      metadata: {
        name: 'web-data',
        namespace: ns.name,
        labels,
        ownerReferences: [{ apiVersion: vm.apiVersion ?? '', kind: 'VirtualMachine', name: 'web', uid: vmUid, controller: true, blockOwnerDeletion: true }],
      },
      spec: { type: 'DATADISK', zoneRef: { name: names.zone }, diskOfferingRef: { name: names.diskOffering }, vmRef: { name: 'web' }, deviceId: 1 },
    });

    await res('vms').patch({ name: 'web', namespace: ns.name }, { metadata: { labels } });
    await res('vms').patchStatus({ name: 'web', namespace: ns.name }, { status: { placement: { zone: names.zone, pod: names.pod, cluster: names.cluster, host: node } } });
    const running = await waitFor(res('vms'), 'web', 'Running', (o) => o.status?.state === 'Running' && condition(o, 'Ready')?.status === 'True', 120_000, ns.name);
    expect(condition(running, 'Running')?.status).to.equal('True');
    expect(condition(running, 'Synced')?.status).to.equal('True');
    expect(running.status?.instanceName).to.equal(`kumulus-${vmUid}`);
    expect((running.status?.console as { port: number }).port).to.be.within(5900, 65535);
    const nic = (running.status?.nics as { macAddress: string; bridge: string; ipAddress: string }[])[0];
    expect(nic?.macAddress).to.equal(nicMac(vmUid, network.metadata.uid ?? ''));
    expect(nic?.bridge).to.equal(bridgeName({ type: 'vxlan', vni }));
    expect(nic?.ipAddress).to.equal(`${subnet}.10`);

    const domain = await hypervisor.observe(vmUid);
    expect(domain?.state).to.equal('running');
    expect(domain?.pid).to.be.a('number');
    const xml = (await commandRunner()(['virsh', '-c', libvirt.uri, 'dumpxml', `kumulus-${vmUid}`])).stdout;
    expect(xml).to.include(`<uuid>${vmUid}</uuid>`);
    expect(xml).to.match(/<domain type='kvm'/);
    const dataPath = join(workDir, 'pool', `${data.metadata.uid}.qcow2`);
    expect(xml.indexOf(diskPathOf(root)), 'the root disk is vda').to.be.below(xml.indexOf(dataPath));
    expect(xml).to.include(`<source file='${dataPath}'`);
    const dataVolume = await waitFor(res('volumes'), 'web-data', 'Ready', (v) => v.status?.state === 'Ready', 10_000, ns.name);
    expect(dataVolume.status?.sizeBytes, 'the disk offering\'s size').to.equal(2 * 2 ** 30);
    expect((running.status?.volumes as { name: string; deviceId: number }[]).map((v) => `${v.name}:${v.deviceId}`).sort()).to.deep.equal(['web-data:1', 'web-root:0']);

    const volume = await waitFor(res('volumes'), 'web-root', 'Ready', (v) => v.status?.state === 'Ready', 10_000, ns.name);
    expect(volume.status?.pool).to.equal(names.pool);
    const diskPath = diskPathOf(root);
    expect(volume.status?.path).to.equal(diskPath);
    expect(volume.status?.sizeBytes).to.equal(2 ** 30);
    expect(volume.metadata.finalizers).to.include('kumulus.io/agent');
    const info = JSON.parse((await commandRunner()(['qemu-img', 'info', '-U', '--output=json', diskPath])).stdout) as { 'backing-filename'?: string };
    expect(info['backing-filename']).to.equal(join(workDir, 'pool', '.kumulus-templates', `${template.metadata.uid}.qcow2`));

    expect(await linkExists(bridgeName({ type: 'vxlan', vni }))).to.equal(true);
    const dhcpHosts = await readFile(join(workDir, 'agent', 'dnsmasq', bridgeName({ type: 'vxlan', vni }), 'dhcp-hosts'), 'utf8');
    expect(dhcpHosts).to.include(`${nic?.macAddress},${subnet}.10,web`);

    const metrics = await (await fetch(agent.metricsUrl)).text();
    expect(metrics).to.match(new RegExp(`kumulus_vm_running\\{namespace="${ns.name}",name="web",uid="${vmUid}"\\} 1`));
    expect(metrics).to.match(new RegExp(`kumulus_vm_cpu_usage_seconds_total\\{namespace="${ns.name}",name="web",uid="${vmUid}"\\} \\d`));
    expect(metrics).to.match(new RegExp(`kumulus_vm_storage_write_traffic_bytes_total\\{namespace="${ns.name}",name="web",uid="${vmUid}",drive="vda"\\}`));

    // Stop: no guest answers ACPI, so the shutdown timeout (2 s) ends in a power-off.
    await res('vms').patch({ name: 'web', namespace: ns.name }, { spec: { state: 'Stopped' } });
    const stopped = await waitFor(res('vms'), 'web', 'Stopped', (o) => o.status?.state === 'Stopped' && condition(o, 'Ready')?.status === 'True', 60_000, ns.name);
    expect(condition(stopped, 'Running')?.status).to.equal('False');
    expect(stopped.status?.powerState).to.equal('PowerOff');
    expect((await hypervisor.observe(vmUid))?.state).to.equal('shutoff');

    await res('vms').patch({ name: 'web', namespace: ns.name }, { spec: { state: 'Running' } });
    await waitFor(res('vms'), 'web', 'Running again', (o) => o.status?.state === 'Running', 60_000, ns.name);
    const pid = (await hypervisor.observe(vmUid))?.pid;
    expect(pid).to.be.a('number').and.not.equal(domain?.pid);

    const requested = new Date(Date.now() + 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await res('vms').patch({ name: 'web', namespace: ns.name }, { spec: { rebootRequestedAt: requested } });
    const rebooted = await waitFor(res('vms'), 'web', 'rebooted', (o) => o.status?.lastRebootAt === requested, 60_000, ns.name);
    expect(rebooted.status?.state).to.equal('Running');
    const afterReboot = await hypervisor.observe(vmUid);
    expect(afterReboot?.state).to.equal('running');
    expect(afterReboot?.pid, 'a reboot keeps the QEMU process').to.equal(pid);
  });

  it('killed and restarted, the agent adopts the running domain: same UUID, same QEMU process, disk untouched, nothing redefined', async function () {
    if (!agent || !vmUid) this.skip();
    const before = await hypervisor.observe(vmUid);
    expect(before?.state).to.equal('running');
    const diskBefore = await stat((await res('volumes').get({ name: 'web-root', namespace: ns.name })).status?.path as string);
    const vmBefore = await res('vms').get({ name: 'web', namespace: ns.name });
    const hostBefore = await res('hosts').get({ name: node });
    await agent.stop();
    agent = undefined;
    expect((await hypervisor.observe(vmUid))?.pid, 'the domain outlives the agent').to.equal(before?.pid);

    agent = await startAgent();
    await agent.joined;
    // The new agent reconciles every VM it finds once its caches fill.
    await until('a reconcile of the VM by the new agent', 30_000, async () => {
      const text = await (await fetch(agent!.metricsUrl)).text();
      return /controller_runtime_reconcile_total\{controller="agent-virtualmachine",result="success"\} [1-9]/.test(text) ? true : undefined;
    });
    const after = await hypervisor.observe(vmUid);
    expect(after?.uid).to.equal(vmUid);
    expect(after?.pid).to.equal(before?.pid);
    expect(after?.specDigest).to.equal(before?.specDigest);
    const diskAfter = await stat((await res('volumes').get({ name: 'web-root', namespace: ns.name })).status?.path as string);
    expect(diskAfter.ino).to.equal(diskBefore.ino);
    expect(diskAfter.birthtimeMs).to.equal(diskBefore.birthtimeMs);
    const vmAfter = await res('vms').get({ name: 'web', namespace: ns.name });
    expect(vmAfter.status?.startedAt).to.equal(vmBefore.status?.startedAt);
    expect(vmAfter.status?.state).to.equal('Running');
    expect((await res('hosts').get({ name: node })).metadata.uid, 'the Host is adopted, not recreated').to.equal(hostBefore.metadata.uid);
  });

  it('a domain powered off behind the agent\'s back is started again, woken by libvirt\'s event rather than a poll', async function () {
    if (!agent || !vmUid) this.skip();
    const before = await hypervisor.observe(vmUid);
    expect(before?.state).to.equal('running');
    await commandRunner()(['virsh', '-c', libvirt.uri, 'destroy', `kumulus-${vmUid}`]);
    // A settled VM is not re-queued on a timer: only the Stopped event can bring it back this soon.
    const restarted = await until('the domain to run again', 15_000, async () => {
      const now = await hypervisor.observe(vmUid);
      return now?.state === 'running' && now.pid !== before?.pid ? now : undefined;
    });
    expect(restarted.uid).to.equal(vmUid);
    await waitFor(res('vms'), 'web', 'Running', (o) => o.status?.state === 'Running' && condition(o, 'Ready')?.status === 'True', 30_000, ns.name);
  });

  it('deleting the VM destroys and undefines the domain, and its disks and network bridge go with it', async function () {
    if (!agent || !vmUid) this.skip();
    const diskPath = (await res('volumes').get({ name: 'web-root', namespace: ns.name })).status?.path as string;
    const dataDiskPath = (await res('volumes').get({ name: 'web-data', namespace: ns.name })).status?.path as string;
    await res('vms').delete({ name: 'web', namespace: ns.name }, { propagationPolicy: 'Background' });
    await until('the VM object to go', 60_000, async () => ((await getOrUndefined(res('vms'), 'web', ns.name)) ? undefined : true));
    expect(await hypervisor.observe(vmUid)).to.equal(undefined);
    await until('the root Volume to be collected', 60_000, async () => ((await getOrUndefined(res('volumes'), 'web-root', ns.name)) ? undefined : true));
    expect(await stat(diskPath).then(() => true, () => false), 'the disk file is deleted').to.equal(false);
    await until('the data Volume to be collected', 60_000, async () => ((await getOrUndefined(res('volumes'), 'web-data', ns.name)) ? undefined : true));
    expect(await stat(dataDiskPath).then(() => true, () => false), 'the data disk file is deleted').to.equal(false);
    expect(await linkExists(bridgeName({ type: 'vxlan', vni })), 'the unused network bridge is removed').to.equal(false);
    vmUid = '';
  });

  it('carries a network its status.hosts lists here (a persistent one) with no VM on it, across restarts, and removes it once deleted, even while the agent was away', async function () {
    if (!agent) this.skip();
    const remoteVtep = '192.0.2.77';
    const remote = `remote-${s}`;
    await res('hosts').create({ metadata: { name: remote }, spec: { clusterRef: { name: names.cluster }, nodeName: remote } });
    clusterScoped.push({ kind: 'hosts', name: remote });
    await res('hosts').patchStatus({ name: remote }, { status: { ipAddress: remoteVtep } });
    // The test plays the operator's network-hosts controller, which lists every host of the zone for a persistent network.
    const implemented = async (name: string, id: number, prefix: string, hosts: string[]) => {
      await res('networks').create({ metadata: { name, namespace: ns.name }, spec: { networkOfferingRef: { name: 'persistent' }, zoneRef: { name: names.zone }, cidr: `${prefix}.0/24` } });
      await res('networks').patchStatus(
        { name, namespace: ns.name },
        { status: { state: 'Implemented', cidr: `${prefix}.0/24`, gateway: `${prefix}.1`, broadcastDomainType: 'Vxlan', broadcastUri: `vxlan://${id}`, hosts } },
      );
    };
    const keptPrefix = `10.${randomInt(16, 250)}.${randomInt(0, 255)}`;
    await implemented('kept', persistentVni, keptPrefix, [node, remote].sort());
    await implemented('elsewhere', idleVni, `10.${randomInt(16, 250)}.${randomInt(0, 255)}`, [remote]);

    const bridge = bridgeName({ type: 'vxlan', vni: persistentVni });
    const dnsmasqDir = join(workDir, 'agent', 'dnsmasq', bridge);
    // One apply makes the links, then the flood entries, then dnsmasq: wait for the last.
    await until(`dnsmasq of the persistent network`, 30_000, async () => ((await readFile(join(dnsmasqDir, 'dnsmasq.pid'), 'utf8').catch(() => '')) ? true : undefined));
    expect(await linkExists(bridge)).to.equal(true);
    const fdb = JSON.parse((await commandRunner()(['bridge', '-j', 'fdb', 'show', 'dev', vxlanDeviceName(persistentVni)])).stdout) as { mac: string; dst?: string }[];
    expect(fdb.filter((e) => e.mac === '00:00:00:00:00:00').map((e) => e.dst), 'BUM traffic floods to the other listed host').to.deep.equal([remoteVtep]);
    const conf = await readFile(join(dnsmasqDir, 'dnsmasq.conf'), 'utf8');
    expect(conf, 'DHCP is served from the last host address').to.include(`${keptPrefix}.254`);
    expect(await readFile(join(dnsmasqDir, 'dhcp-hosts'), 'utf8'), 'no VM, so no DHCP entry').to.equal('');
    expect(await linkExists(bridgeName({ type: 'vxlan', vni: idleVni })), 'a network listed only on other hosts is not plumbed here').to.equal(false);
    // The other host moves: its new address replaces the old as the flood target.
    await res('hosts').patchStatus({ name: remote }, { status: { ipAddress: '192.0.2.78' } });
    await until('the flood entry to follow the host', 30_000, async () => {
      const entries = JSON.parse((await commandRunner()(['bridge', '-j', 'fdb', 'show', 'dev', vxlanDeviceName(persistentVni)])).stdout) as { mac: string; dst?: string }[];
      const targets = entries.filter((e) => e.mac === '00:00:00:00:00:00').map((e) => e.dst);
      return targets.length === 1 && targets[0] === '192.0.2.78' ? true : undefined;
    });

    const ifindex = async () => (JSON.parse((await commandRunner()(['ip', '-j', 'link', 'show', bridge])).stdout) as { ifindex: number }[])[0]?.ifindex;
    const before = await ifindex();
    await agent.stop();
    agent = await startAgent();
    await agent.joined;
    // Both networks of the namespace reconciled: the kept one's reconcile awaits a full sync.
    await until('the restarted agent to reconcile both networks', 30_000, async () => {
      const text = await (await fetch(agent!.metricsUrl)).text();
      const done = Number(/controller_runtime_reconcile_total\{controller="agent-network",result="success"\} (\d+)/.exec(text)?.[1] ?? 0);
      return done >= 2 ? true : undefined;
    });
    expect(await ifindex(), 'a restart keeps the bridge as it is').to.equal(before);

    await agent.stop();
    await res('networks').delete({ name: 'kept', namespace: ns.name });
    await until('the Network to go', 30_000, async () => ((await getOrUndefined(res('networks'), 'kept', ns.name)) ? undefined : true));
    expect(await linkExists(bridge), 'nothing removes it while the agent is away').to.equal(true);
    agent = await startAgent();
    await agent.joined;
    await until(`bridge ${bridge} to be removed`, 30_000, async () => ((await linkExists(bridge)) ? undefined : true));
    expect(await linkExists(vxlanDeviceName(persistentVni))).to.equal(false);
    // dnsmasq goes after the links, in the same apply.
    await until('its dnsmasq and state to go', 10_000, async () => ((await stat(dnsmasqDir).then(() => true, () => false)) ? undefined : true));
  });
});
