import { expect } from 'chai';
import { randomInt, randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HOST_LEASE_NAMESPACE, hostLeaseName } from '../../lib/agent-contract.ts';
import { EVENTS } from '../../lib/events.ts';
import type { KubeObject } from '../../lib/kube-client.ts';
import { LEASES } from '../../lib/leader-election.ts';
import { commandRunner } from '../../node-daemon/drivers/exec.ts';
import { nicMac } from '../../lib/guest-identity.ts';
import { bridgeName, vxlanDeviceName } from '../../node-daemon/drivers/network/names.ts';
import { runAgent, type RunningAgent } from '../../node-daemon/main.ts';
import { condition, getOrUndefined, linkExists, waitFor, type AgentWorld, type Obj } from '../support/agent-world.ts';
import { guestDomainType, guestDomainTypeNote } from '../support/guest-domain-type.ts';
import { useLibvirtAgentWorld } from '../support/libvirt-agent-world.ts';
import { until } from '../support/until.ts';

const SHUTDOWN_TIMEOUT_S = 8;
const REBOOT_TIMEOUT_S = 30;
const running = (o: Obj) => condition(o, 'Running')?.status === 'True' && o.status?.powerState === 'PowerOn';
const provisioned = (o: Obj) => condition(o, 'Provisioned')?.status === 'True';

/**
 * The agent's reconcilers against the real control plane and real libvirt with KVM. The test
 * plays the operator: it creates the zone, the pool, the template, the offering, a VXLAN network
 * and a VM with its ROOT volume, places the VM on the agent's host (label, status.placement and
 * status.nics) and its Volumes on the pool (status.pool). The agent builds the disks, plumbs the
 * network, defines and starts the domain, stops, starts and reboots it on request without a
 * worker ever waiting for the guest, plugs data disks in and out of the running domain and grows
 * them live, survives being stopped (the domain keeps running and is adopted: same UUID, same
 * QEMU process, nothing recreated), and removes domain, disk and bridge when the VM is deleted.
 * Guest code does not have to run: asked while it is still booting, before its acpid listens
 * (emulated, that is tens of seconds), the guest ignores ACPI and stops and reboots take the
 * timeout path; a guest that is up powers off on ACPI, and the test says which it saw.
 * agent-crash.test.ts kills the agent process outright, at random points.
 */

describe('agent reconcilers on the real control plane and libvirt/KVM', function () {
  this.timeout(300_000);
  const vni = 300_000 + randomInt(0, 100_000);
  const persistentVni = vni + 100_000;
  const idleVni = vni + 200_000;
  const fx = useLibvirtAgentWorld('agent-rec', { test: 'agent-reconcile', vnis: [vni, persistentVni, idleVni] });

  const res = (kind: Parameters<AgentWorld['res']>[0]) => fx.world.res(kind);
  /** The tests below go on from the first one: when it failed, they fail too, saying so, rather than skip. */
  function chainIntact(running: RunningAgent | undefined, uid: string): asserts running is RunningAgent {
    if (!running || !uid) throw new Error('the agent or its VM is missing: an earlier test of this file failed');
  }
  type Event = KubeObject & { reason: string; note: string; regarding: { uid: string }; series?: { count: number } };
  /** The VM's events of `reason`, each Event once and once more per repeat of its series. */
  const vmEvents = async (reason: string): Promise<string[]> => {
    const list = await fx.world.client.resource<Event>(EVENTS).list({ namespace: fx.world.ns });
    return list.items.filter((e) => e.regarding.uid === fx.vmUid && e.reason === reason).flatMap((e) => Array<string>(e.series?.count ?? 1).fill(e.note));
  };
  /** The events of `reason` once `count` are there, and a moment more for a duplicate to land. */
  const settledEvents = async (reason: string, count: number, timeoutMs = 15_000): Promise<string[]> => {
    await until(`${count} ${reason}`, timeoutMs, async () => ((await vmEvents(reason)).length >= count ? true : undefined)).catch(() => undefined);
    await sleep(2000);
    return vmEvents(reason);
  };
  const diskPathOf = (volume: Obj) => join(fx.world.poolDir, `${volume.metadata.uid}.qcow2`);
  const serialLog = () => readFile(join(fx.world.agentStateDir, 'consoles', `${fx.vmUid}.log`), 'utf8').catch(() => '');
  const startAgent = () =>
    runAgent({
      kubeConfig: fx.world.client.kubeConfig,
      handleSignals: false,
      env: { NODE_NAME: fx.world.node },
      // Timeouts long enough to watch the agent at work while a stop or a reboot waits on the guest.
      args: [...fx.world.agentArgs(fx.libvirt.uri).filter((a) => !/^--(shutdown|reboot)-timeout=/.test(a)), `--shutdown-timeout=${SHUTDOWN_TIMEOUT_S}s`, `--reboot-timeout=${REBOOT_TIMEOUT_S}s`],
    });

  it('joins as a Host with real capacity and a heartbeat Lease, runs a placed VM (KVM, or emulation on a PVM host), stops, starts and reboots it on request without a worker waiting', async function () {
    fx.agent = await startAgent();
    const joined = await fx.agent.joined;
    expect(joined).to.deep.equal({ host: fx.world.node, cluster: fx.world.names.cluster, pod: fx.world.names.pod, zone: fx.world.names.zone });
    const host = await waitFor(res('hosts'), fx.world.node, 'with capacity', (h) => h.status?.capacity !== undefined);
    const meminfo = await readFile('/proc/meminfo', 'utf8');
    expect((host.status?.capacity as { memoryBytes: number }).memoryBytes).to.equal(Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1]) * 1024);
    const lease = await fx.world.client.resource<KubeObject & { spec: { holderIdentity: string } }>(LEASES).get({ namespace: HOST_LEASE_NAMESPACE, name: hostLeaseName(fx.world.node) });
    expect(lease.spec.holderIdentity).to.equal(fx.world.node);
    await waitFor(res('primaryStorages'), fx.world.names.pool, 'mounted on the host', (p) => (p.status?.mounts as { host: string; mounted: boolean }[] | undefined)?.some((m) => m.host === fx.world.node && m.mounted) ?? false);

    const template = await fx.world.createTemplate(fx.guest);
    // The operator implements the network: the agent needs its VNI.
    const { network, prefix: subnet } = await fx.world.createNetwork('net1', vni);
    const vm = await fx.world.placeVm('web', { networks: [{ name: 'net1', ipAddress: `${subnet}.10` }], dataDisk: true });
    fx.vmUid = vm.metadata.uid ?? '';
    const root = await res('volumes').get({ name: 'web-root', namespace: fx.world.ns });
    const data = await res('volumes').get({ name: 'web-data', namespace: fx.world.ns });
    const up = await waitFor(res('vms'), 'web', 'Running', running, 120_000, fx.world.ns);
    expect(up.status?.instanceName).to.equal(`kumulus-${fx.vmUid}`);
    expect((up.status?.console as { port: number }).port).to.be.within(5900, 65535);
    expect(condition(up, 'Running')?.observedGeneration, 'the generation acted on').to.equal(up.metadata.generation);
    // The agent writes only its own fields: nothing of the operator's appears, nothing of the test's (the operator's) is lost.
    expect(up.status?.state).to.equal(undefined);
    expect(up.status?.observedGeneration).to.equal(undefined);
    expect(up.status?.conditions?.map((c) => c.type).sort(), 'the operator\'s Scheduled kept beside the agent\'s Running and MediaSynced').to.deep.equal(['MediaSynced', 'Running', 'Scheduled']);
    expect(up.status?.placement).to.deep.equal({ zone: fx.world.names.zone, pod: fx.world.names.pod, cluster: fx.world.names.cluster, host: fx.world.node });
    const nic = (up.status?.nics as { macAddress: string; ipAddress: string }[])[0];
    expect(nic?.macAddress).to.equal(nicMac(fx.vmUid, network.metadata.uid ?? ''));
    expect(nic?.ipAddress).to.equal(`${subnet}.10`);

    const domain = await fx.hypervisor.observe(fx.vmUid);
    expect(domain?.state).to.equal('running');
    expect(domain?.pid).to.be.a('number');
    const xml = (await commandRunner()(['virsh', '-c', fx.libvirt.uri, 'dumpxml', `kumulus-${fx.vmUid}`])).stdout;
    expect(xml).to.include(`<uuid>${fx.vmUid}</uuid>`);
    expect(xml, guestDomainTypeNote()).to.match(new RegExp(`<domain type='${guestDomainType}'`));
    expect(xml, 'the NIC as the operator wrote it, on the network\'s bridge').to.include(`<mac address='${nic?.macAddress}'/>`).and.include(`<source bridge='${bridgeName({ type: 'vxlan', vni })}'/>`);
    const dataPath = join(fx.world.poolDir, `${data.metadata.uid}.qcow2`);
    // libvirt prints a running domain's sources with an index attribute.
    expect(xml, 'the config drive, a CD-ROM on hdd').to.include(`<source file='${join(fx.world.agentStateDir, 'config-drives', `${fx.vmUid}.iso`)}'`).and.include(`<target dev='hdd' bus='ide'/>`);
    expect(xml.indexOf(diskPathOf(root)), 'the root disk is vda').to.be.below(xml.indexOf(dataPath));
    expect(xml).to.include(`<source file='${dataPath}'`);
    const dataVolume = await waitFor(res('volumes'), 'web-data', 'Provisioned and Attached', (v) => provisioned(v) && condition(v, 'Attached')?.status === 'True', 10_000, fx.world.ns);
    expect(dataVolume.status?.sizeBytes, 'the disk offering\'s size').to.equal(2 * 2 ** 30);
    expect((up.status?.volumes as { name: string; deviceId: number }[]).map((v) => `${v.name}:${v.deviceId}`).sort()).to.deep.equal(['web-data:1', 'web-root:0']);

    const volume = await waitFor(res('volumes'), 'web-root', 'Provisioned', provisioned, 10_000, fx.world.ns);
    expect(volume.status?.pool).to.equal(fx.world.names.pool);
    expect(volume.status?.state, 'the operator\'s field').to.equal(undefined);
    expect(volume.status?.host).to.equal(fx.world.node);
    const diskPath = diskPathOf(root);
    expect(volume.status?.path).to.equal(diskPath);
    expect(volume.status?.sizeBytes).to.equal(2 ** 30);
    expect(volume.status?.attachedAt).to.be.a('string');
    expect(volume.metadata.finalizers).to.include('kumulus.io/agent');
    const info = JSON.parse((await commandRunner()(['qemu-img', 'info', '-U', '--output=json', diskPath])).stdout) as { 'backing-filename'?: string };
    expect(info['backing-filename']).to.equal(join(fx.world.poolDir, '.kumulus-templates', `${template.metadata.uid}.qcow2`));

    expect(await linkExists(bridgeName({ type: 'vxlan', vni }))).to.equal(true);
    const dhcpHosts = await readFile(join(fx.world.agentStateDir, 'dnsmasq', bridgeName({ type: 'vxlan', vni }), 'dhcp-hosts'), 'utf8');
    expect(dhcpHosts).to.include(`${nic?.macAddress},${subnet}.10,web`);

    const metrics = await (await fetch(fx.agent.metricsUrl)).text();
    expect(metrics).to.match(new RegExp(`kumulus_vm_running\\{namespace="${fx.world.ns}",name="web",uid="${fx.vmUid}"\\} 1`));
    expect(metrics).to.match(new RegExp(`kumulus_vm_cpu_usage_seconds_total\\{namespace="${fx.world.ns}",name="web",uid="${fx.vmUid}"\\} \\d`));
    expect(metrics).to.match(new RegExp(`kumulus_vm_storage_write_traffic_bytes_total\\{namespace="${fx.world.ns}",name="web",uid="${fx.vmUid}",drive="vda"\\}`));

    // Stop: a guest still booting does not answer ACPI, so the shutdown timeout ends in a
    // power-off. The reconcile that sent the ACPI request returned at once: its report (Stopping)
    // is there while the domain still runs.
    const stopAsked = Date.now();
    await res('vms').patch({ name: 'web', namespace: fx.world.ns }, { spec: { state: 'Stopped' } });
    const stopping = await waitFor(res('vms'), 'web', 'Stopping', (o) => condition(o, 'Running')?.reason === 'Stopping', 30_000, fx.world.ns);
    expect(condition(stopping, 'Running')?.message).to.match(/^ACPI shutdown sent/);
    const whileStopping = await fx.hypervisor.observe(fx.vmUid);
    expect(whileStopping?.state, 'the domain still runs: no worker waits for the guest').to.equal('running');
    expect(whileStopping?.shutdownSent?.token, 'the request is recorded in the domain, with the generation that asked').to.equal(String(stopping.metadata.generation));
    const stopped = await waitFor(res('vms'), 'web', 'Stopped', (o) => condition(o, 'Running')?.reason === 'Stopped', 60_000, fx.world.ns);
    if ((await serialLog()).includes('kumulus-guest: acpi power button: powering off')) {
      // Where the guest boots fast (KVM) it may already listen: then it powered itself off, before the timeout.
      console.log(`      the guest was up and powered off on ACPI after ${Date.now() - stopAsked} ms`);
      expect(Date.now() - stopAsked, 'the guest powered off before the timeout').to.be.below(SHUTDOWN_TIMEOUT_S * 1000);
    } else {
      expect(Date.now() - stopAsked, 'the guest had its whole shutdown timeout').to.be.at.least(SHUTDOWN_TIMEOUT_S * 1000);
    }
    expect(stopped.status?.powerState).to.equal('PowerOff');
    expect((await fx.hypervisor.observe(fx.vmUid))?.state).to.equal('shutoff');
    // One stop, one VM.STOP: not one for the ACPI request and another for the power-off after the timeout.
    expect(await settledEvents('VM.STOP', 1), 'one VM.STOP for the stop').to.have.length(1);

    await res('vms').patch({ name: 'web', namespace: fx.world.ns }, { spec: { state: 'Running' } });
    await waitFor(res('vms'), 'web', 'Running again', running, 60_000, fx.world.ns);
    const pid = (await fx.hypervisor.observe(fx.vmUid))?.pid;
    expect(pid).to.be.a('number').and.not.equal(domain?.pid);

    // Reboot: the guest, booting again, ignores the ACPI reboot too, so the domain is reset
    // after the reboot timeout, in the same QEMU process. Meanwhile the VM is reconciled as usual: a data volume
    // made for it during the wait is plugged in before the reset.
    const requested = new Date(Date.now() + 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await res('vms').patch({ name: 'web', namespace: fx.world.ns }, { spec: { rebootRequestedAt: requested } });
    await until('the ACPI reboot to be recorded in the domain', 30_000, async () => ((await fx.hypervisor.observe(fx.vmUid))?.rebootSent?.token === requested ? true : undefined));
    await fx.world.createDataVolume('web-late', 'web', { deviceId: 3 });
    await waitFor(res('volumes'), 'web-late', 'Attached', (v) => condition(v, 'Attached')?.status === 'True', 60_000, fx.world.ns);
    expect((await res('vms').get({ name: 'web', namespace: fx.world.ns })).status?.lastRebootAt, 'attached while the reboot waits for the guest').to.not.equal(requested);
    const rebooted = await waitFor(res('vms'), 'web', 'rebooted', (o) => o.status?.lastRebootAt === requested, 60_000, fx.world.ns);
    expect(running(rebooted)).to.equal(true);
    const afterReboot = await fx.hypervisor.observe(fx.vmUid);
    expect(afterReboot?.state).to.equal('running');
    // One reboot, one VM.REBOOT: the reset after the ignored ACPI request is the same reboot.
    expect(await settledEvents('VM.REBOOT', 1), 'one VM.REBOOT for the reboot').to.have.length(1);
    expect(afterReboot?.pid, 'a reboot keeps the QEMU process').to.equal(pid);
    // Deleted while plugged in: unplugged, then its disk goes.
    const latePath = (await res('volumes').get({ name: 'web-late', namespace: fx.world.ns })).status?.path as string;
    await res('volumes').delete({ name: 'web-late', namespace: fx.world.ns });
    await until('web-late to go', 60_000, async () => ((await getOrUndefined(res('volumes'), 'web-late', fx.world.ns)) ? undefined : true));
    expect((await fx.hypervisor.observe(fx.vmUid))?.diskPaths).to.not.include(latePath);
    expect(await stat(latePath).then(() => true, () => false)).to.equal(false);
  });

  it('killed and restarted, the agent adopts the running domain: same UUID, same QEMU process, disk untouched, nothing redefined', async function () {
    chainIntact(fx.agent, fx.vmUid);
    const before = await fx.hypervisor.observe(fx.vmUid);
    expect(before?.state).to.equal('running');
    const diskBefore = await stat((await res('volumes').get({ name: 'web-root', namespace: fx.world.ns })).status?.path as string);
    const vmBefore = await res('vms').get({ name: 'web', namespace: fx.world.ns });
    const hostBefore = await res('hosts').get({ name: fx.world.node });
    await fx.agent.stop();
    fx.agent = undefined;
    expect((await fx.hypervisor.observe(fx.vmUid))?.pid, 'the domain outlives the agent').to.equal(before?.pid);

    fx.agent = await startAgent();
    await fx.agent.joined;
    // The new agent reconciles every VM it finds once its caches fill.
    await until('a reconcile of the VM by the new agent', 30_000, async () => {
      const text = await (await fetch(fx.agent!.metricsUrl)).text();
      return /controller_runtime_reconcile_total\{controller="agent-virtualmachine",result="success"\} [1-9]/.test(text) ? true : undefined;
    });
    const after = await fx.hypervisor.observe(fx.vmUid);
    expect(after?.uid).to.equal(fx.vmUid);
    expect(after?.pid).to.equal(before?.pid);
    expect(after?.specDigest).to.equal(before?.specDigest);
    const diskAfter = await stat((await res('volumes').get({ name: 'web-root', namespace: fx.world.ns })).status?.path as string);
    expect(diskAfter.ino).to.equal(diskBefore.ino);
    expect(diskAfter.birthtimeMs).to.equal(diskBefore.birthtimeMs);
    const vmAfter = await res('vms').get({ name: 'web', namespace: fx.world.ns });
    expect(vmAfter.status?.startedAt).to.equal(vmBefore.status?.startedAt);
    expect(running(vmAfter)).to.equal(true);
    expect((await res('hosts').get({ name: fx.world.node })).metadata.uid, 'the Host is adopted, not recreated').to.equal(hostBefore.metadata.uid);
  });

  it('a domain powered off behind the agent\'s back is started again, woken by libvirt\'s event rather than a poll', async function () {
    chainIntact(fx.agent, fx.vmUid);
    const before = await fx.hypervisor.observe(fx.vmUid);
    expect(before?.state).to.equal('running');
    const [stops, starts] = [await vmEvents('VM.STOP'), await vmEvents('VM.START')];
    const destroyedAt = Date.now();
    await commandRunner()(['virsh', '-c', fx.libvirt.uri, 'destroy', `kumulus-${fx.vmUid}`]);
    // A settled VM is not re-queued on a timer: only the Stopped event can bring it back this
    // soon. Soon is when the agent started the new QEMU process (its start time, in whole
    // seconds, rounded down); QEMU coming up under load may take longer than that.
    const restarted = await until('the domain to run again', 120_000, async () => {
      const now = await fx.hypervisor.observe(fx.vmUid);
      return now?.state === 'running' && now.pid !== before?.pid ? now : undefined;
    });
    expect(restarted.uid).to.equal(fx.vmUid);
    expect(restarted.startedAt?.getTime(), 'the new QEMU process').to.be.a('number');
    expect((restarted.startedAt?.getTime() ?? Infinity) - destroyedAt, 'started within 15 s of the power-off').to.be.below(15_000);
    await waitFor(res('vms'), 'web', 'Running', running, 30_000, fx.world.ns);
    // The host's report wins: the power-off is reported (PoweredOff, the VM Stopped) with one VM.STOP, then the start with one VM.START.
    const stopsNow = await settledEvents('VM.STOP', stops.length + 1);
    expect(stopsNow, 'one VM.STOP for the power-off behind the agent\'s back').to.have.length(stops.length + 1);
    expect(stopsNow.filter((n) => !stops.includes(n))).to.satisfy((notes: string[]) => notes.length === 1 && notes[0]?.includes('by its guest, or on the host'));
    // A repeat of the same note is counted in its Event's series, which the agent writes within 30 s.
    expect(await settledEvents('VM.START', starts.length + 1, 40_000), 'and one VM.START for the start again').to.have.length(starts.length + 1);
  });

  it('plugs a data volume into the running domain and out again, grows it live, and deletes its disk only once no domain uses it', async function () {
    if (!fx.agent || !fx.vmUid) this.skip();
    const before = await fx.hypervisor.observe(fx.vmUid);
    expect(before?.state).to.equal('running');
    const persistentXml = async () => (await commandRunner()(['virsh', '-c', fx.libvirt.uri, 'dumpxml', '--inactive', `kumulus-${fx.vmUid}`])).stdout;
    const extra = await fx.world.createDataVolume('web-extra', 'web', { deviceId: 2, size: '1Gi' });
    const path = join(fx.world.poolDir, `${extra.metadata.uid}.qcow2`);
    const attached = await waitFor(res('volumes'), 'web-extra', 'Attached', (v) => provisioned(v) && condition(v, 'Attached')?.status === 'True', 60_000, fx.world.ns);
    expect(attached.status?.path).to.equal(path);
    const plugged = await fx.hypervisor.observe(fx.vmUid);
    expect(plugged?.diskPaths, 'plugged into the running domain').to.include(path);
    expect(plugged?.pid, 'without a restart').to.equal(before?.pid);
    expect(await persistentXml(), 'and into its definition, for the next start').to.include(`<source file='${path}'/>`);
    expect((await commandRunner()(['virsh', '-c', fx.libvirt.uri, 'domblklist', `kumulus-${fx.vmUid}`])).stdout).to.match(new RegExp(`sdb\\s+${path}`));
    await waitFor(res('vms'), 'web', 'listing the volume', (o) => (o.status?.volumes as { name: string }[] | undefined)?.some((v) => v.name === 'web-extra') ?? false, 10_000, fx.world.ns);

    // Grow (only grow): the running guest's disk through the hypervisor.
    await res('volumes').patch({ name: 'web-extra', namespace: fx.world.ns }, { spec: { size: '2Gi' } });
    await waitFor(res('volumes'), 'web-extra', 'grown', (v) => v.status?.sizeBytes === 2 * 2 ** 30, 30_000, fx.world.ns);
    const grown = JSON.parse((await commandRunner()(['qemu-img', 'info', '-U', '--output=json', path])).stdout) as { 'virtual-size': number };
    expect(grown['virtual-size']).to.equal(2 * 2 ** 30);
    expect((await commandRunner()(['virsh', '-c', fx.libvirt.uri, 'domblkinfo', `kumulus-${fx.vmUid}`, 'sdb'])).stdout).to.match(/Capacity:\s+2147483648/);

    // Detach: out of the running domain and of its definition; the guest keeps running.
    await res('volumes').patch({ name: 'web-extra', namespace: fx.world.ns }, { spec: { vmRef: null, deviceId: null } });
    const detached = (v: Obj) => condition(v, 'Attached')?.status === 'False';
    // A SCSI disk leaves QEMU at once, with no guest to acknowledge it. The VM lists the Volume in
    // status.volumes until its disk has left the domain, and that change re-queues the Volume.
    const unplugAsked = Date.now();
    await waitFor(res('volumes'), 'web-extra', 'Detached', detached, 30_000, fx.world.ns);
    console.log(`      unplugged from the running domain and reported Detached after ${Date.now() - unplugAsked} ms`);
    const unplugged = await fx.hypervisor.observe(fx.vmUid);
    expect(unplugged?.diskPaths).to.not.include(path);
    expect(unplugged?.pid, 'unplugged live: the same QEMU process').to.equal(before?.pid);
    expect(await persistentXml(), 'out of the definition').to.not.include(path);
    await waitFor(res('vms'), 'web', 'no longer listing it', (o) => !(o.status?.volumes as { name: string }[]).some((v) => v.name === 'web-extra'), 10_000, fx.world.ns);

    // Another domain on the host uses the disk: deleting the Volume waits for it, disk and all.
    const squatter = randomUUID();
    await fx.hypervisor.define({ uid: squatter, vcpus: 1, memoryMiB: 64, disks: [{ path, format: 'qcow2', volumeUid: extra.metadata.uid ?? '', deviceId: 0 }], nics: [], serialLogPath: join(fx.world.workDir, 'squatter.log') });
    try {
      await res('volumes').delete({ name: 'web-extra', namespace: fx.world.ns });
      await sleep(3000);
      expect((await getOrUndefined(res('volumes'), 'web-extra', fx.world.ns))?.metadata.finalizers, 'held while a domain uses the disk').to.include('kumulus.io/agent');
      expect(await stat(path).then(() => true, () => false)).to.equal(true);
    } finally {
      await fx.hypervisor.undefine(squatter);
    }
    await until('the Volume to go once the domain is gone', 30_000, async () => ((await getOrUndefined(res('volumes'), 'web-extra', fx.world.ns)) ? undefined : true));
    expect(await stat(path).then(() => true, () => false), 'its disk with it').to.equal(false);
  });

  it('deleting the VM destroys and undefines the domain, and its disks and network bridge go with it', async function () {
    chainIntact(fx.agent, fx.vmUid);
    const diskPath = (await res('volumes').get({ name: 'web-root', namespace: fx.world.ns })).status?.path as string;
    const dataDiskPath = (await res('volumes').get({ name: 'web-data', namespace: fx.world.ns })).status?.path as string;
    await res('vms').delete({ name: 'web', namespace: fx.world.ns }, { propagationPolicy: 'Background' });
    await until('the VM object to go', 60_000, async () => ((await getOrUndefined(res('vms'), 'web', fx.world.ns)) ? undefined : true));
    expect(await fx.hypervisor.observe(fx.vmUid)).to.equal(undefined);
    await until('the root Volume to be collected', 60_000, async () => ((await getOrUndefined(res('volumes'), 'web-root', fx.world.ns)) ? undefined : true));
    expect(await stat(diskPath).then(() => true, () => false), 'the disk file is deleted').to.equal(false);
    await until('the data Volume to be collected', 60_000, async () => ((await getOrUndefined(res('volumes'), 'web-data', fx.world.ns)) ? undefined : true));
    expect(await stat(dataDiskPath).then(() => true, () => false), 'the data disk file is deleted').to.equal(false);
    expect(await linkExists(bridgeName({ type: 'vxlan', vni })), 'the unused network bridge is removed').to.equal(false);
    fx.vmUid = '';
  });

  it('carries a network its status.hosts lists here (a persistent one) with no VM on it, across restarts, and removes it once deleted, even while the agent was away', async function () {
    chainIntact(fx.agent, 'no VM needed');
    const remoteVtep = '192.0.2.77';
    const remote = `remote-${fx.world.node}`;
    await res('hosts').create({ metadata: { name: remote }, spec: { clusterRef: { name: fx.world.names.cluster }, nodeName: remote } });
    await res('hosts').patchStatus({ name: remote }, { status: { ipAddress: remoteVtep } });
    // The test plays the operator's network-hosts controller, which lists every host of the zone for a persistent network.
    const { prefix: keptPrefix } = await fx.world.createNetwork('kept', persistentVni, [fx.world.node, remote].sort());
    await fx.world.createNetwork('elsewhere', idleVni, [remote]);

    const bridge = bridgeName({ type: 'vxlan', vni: persistentVni });
    const dnsmasqDir = join(fx.world.agentStateDir, 'dnsmasq', bridge);
    // One apply makes the links, then the flood entries, then dnsmasq: wait for the last.
    await until(`dnsmasq of the persistent network`, 30_000, async () => ((await readFile(join(dnsmasqDir, 'dnsmasq.pid'), 'utf8').catch(() => '')) ? true : undefined));
    expect(await linkExists(bridge)).to.equal(true);
    const floodTargets = async () =>
      (JSON.parse((await commandRunner()(['bridge', '-j', 'fdb', 'show', 'dev', vxlanDeviceName(persistentVni)])).stdout) as { mac: string; dst?: string }[])
        .filter((e) => e.mac === '00:00:00:00:00:00')
        .map((e) => e.dst);
    expect(await floodTargets(), 'BUM traffic floods to the other listed host').to.deep.equal([remoteVtep]);
    const conf = await readFile(join(dnsmasqDir, 'dnsmasq.conf'), 'utf8');
    expect(conf, 'DHCP is served from the last host address').to.include(`${keptPrefix}.254`);
    expect(await readFile(join(dnsmasqDir, 'dhcp-hosts'), 'utf8'), 'no VM, so no DHCP entry').to.equal('');
    expect(await linkExists(bridgeName({ type: 'vxlan', vni: idleVni })), 'a network listed only on other hosts is not plumbed here').to.equal(false);
    const follows = async (address: string) => {
      await res('hosts').patchStatus({ name: remote }, { status: { ipAddress: address } });
      await until(`the flood entry to follow the other host to ${address}`, 30_000, async () => (JSON.stringify(await floodTargets()) === JSON.stringify([address]) ? true : undefined));
    };
    // The other host moves: its new address replaces the old as the flood target.
    await follows('192.0.2.78');

    const ifindex = async () => (JSON.parse((await commandRunner()(['ip', '-j', 'link', 'show', bridge])).stdout) as { ifindex: number }[])[0]?.ifindex;
    const dnsmasqPid = () => readFile(join(dnsmasqDir, 'dnsmasq.pid'), 'utf8');
    const [bridgeBefore, pidBefore] = [await ifindex(), await dnsmasqPid()];
    await fx.agent.stop();
    fx.agent = await startAgent();
    await fx.agent.joined;
    // The restarted agent has synced the network once it follows the other host again.
    await follows('192.0.2.79');
    expect(await ifindex(), 'a restart keeps the bridge as it is').to.equal(bridgeBefore);
    expect(await dnsmasqPid(), 'and its dnsmasq').to.equal(pidBefore);

    await fx.agent.stop();
    await res('networks').delete({ name: 'kept', namespace: fx.world.ns });
    await until('the Network to go', 30_000, async () => ((await getOrUndefined(res('networks'), 'kept', fx.world.ns)) ? undefined : true));
    expect(await linkExists(bridge), 'nothing removes it while the agent is away').to.equal(true);
    fx.agent = await startAgent();
    await fx.agent.joined;
    // One apply removes the bridge, then the VXLAN device, then dnsmasq.
    await until(`bridge ${bridge} and its VXLAN device to be removed`, 30_000, async () =>
      (await linkExists(bridge)) || (await linkExists(vxlanDeviceName(persistentVni))) ? undefined : true,
    );
    await until('its dnsmasq and state to go', 10_000, async () => ((await stat(dnsmasqDir).then(() => true, () => false)) ? undefined : true));
    await res('hosts').delete({ name: remote });
  });
});
