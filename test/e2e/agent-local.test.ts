import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { prepareInfrastructure, registerInfrastructureControllers } from '../../controllers/infrastructure.ts';
import { HOST_LEASE_NAMESPACE, hostLeaseName } from '../../lib/agent-contract.ts';
import { installCrds, readCrdManifests } from '../../lib/install-crds.ts';
import { createKubeClient, type KubeClient, type KubeObject } from '../../lib/kube-client.ts';
import { LEASES } from '../../lib/leader-election.ts';
import { log } from '../../lib/log.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { mountAt } from '../../node-daemon/drivers/storage/mounts.ts';
import { startLocalAgent, type LocalAgent } from '../../node-daemon/local.ts';
import { sharedKubeConfig } from '../support/cluster.ts';
import { suffixedZoneExample } from '../support/examples.ts';
import { api, waitFor, type Obj } from '../support/objects.ts';
import { until } from '../support/until.ts';

/**
 * `kumulus local`'s agent, end to end: the real control plane, the operator's infrastructure
 * controllers and the agent on this machine's libvirt. The agent starts before the cluster it
 * joins exists (it waits), then the zone example is applied (names suffixed, so other tests'
 * objects never collide) and, once the cluster exists, this node's Host is Up with real
 * capacity and a renewed heartbeat Lease (how soon is measured by bench/agent-join.ts), the SharedMountPoint pool is Up with this host's
 * mount, and the Zone is Ready. Stopping the agent undoes the bind mount it made. A local
 * agent killed by SIGKILL leaves its private libvirtd, its event follower, the mount and the
 * bridges: the next one in the same state dir adopts them, and undoes them on stop.
 */

const repoRoot = resolve(import.meta.dirname, '../..');
const SHARED = '/var/lib/kumulus/primary';

function ready(obj: Obj | undefined): boolean {
  return obj?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** The live processes whose command line has every needle, with their parent. */
async function processesMatching(...needles: string[]): Promise<{ pid: number; parent: number }[]> {
  const found: { pid: number; parent: number }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!needles.every((n) => argv.includes(n))) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    found.push({ pid: Number(entry), parent: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) });
  }
  return found;
}

/** Running, not a zombie waiting for its new parent to reap it. */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function memTotal(text: string): number {
  return Number(/^MemTotal:\s+(\d+) kB/m.exec(text)?.[1]) * 1024;
}

describe('local mode agent: Host Up with real capacity, pool mounted, zone Ready (real control plane and libvirt)', function () {
  this.timeout(240_000);
  const suffix = `la${randomBytes(3).toString('hex')}`;
  const node = `node-${suffix}`;
  let client: KubeClient;
  let operator: Manager | undefined;
  let local: LocalAgent | undefined;
  let stateDir: string;
  let sharedWasMounted = false;
  let bridgesBefore: string[] = [];
  const created: Obj[] = [];
  let clusterName = '';

  before(async function () {
    this.timeout(600_000);
    const kc = await sharedKubeConfig();
    await installCrds(kc, await readCrdManifests(join(repoRoot, 'crds')), log);
    client = createKubeClient(kc);
    operator = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: log.child({ test: 'agent-local', component: 'operator' }) });
    registerInfrastructureControllers(operator);
    await prepareInfrastructure(operator.client);
    await operator.start();
    stateDir = await mkdtemp(join(tmpdir(), 'kumulus-local-agent-'));
    sharedWasMounted = (await mountAt(SHARED)) !== undefined;
    bridgesBefore = ['cloudbr0', 'cloudbr1'].filter((b) => existsSync(`/sys/class/net/${b}`));
  });

  after(async function () {
    this.timeout(120_000);
    await local?.stop();
    for (const obj of created.reverse()) await api(client, obj.kind ?? '').delete({ name: obj.metadata.name ?? '' }).catch(() => undefined);
    await api(client, 'Host').delete({ name: node }).catch(() => undefined);
    // Let the operator release its finalizers before it stops.
    await sleep(3000);
    await operator?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('waits for its cluster, then joins it: Host Up with real capacity, heartbeat Lease renewed, pool Up with this host’s mount, Zone Ready', async function () {
    const { docs, names } = await suffixedZoneExample(suffix);
    clusterName = names.get('cluster1') ?? '';
    local = await startLocalAgent({ kubeConfig: await sharedKubeConfig(), stateDir, logger: log.child({ test: 'agent-local' }), cluster: clusterName, nodeName: node });
    expect(await mountAt(SHARED), `${SHARED} is a mount point while the agent runs`).to.not.equal(undefined);

    // The cluster does not exist yet: once the agent says it waits for it, it has created nothing.
    const agentUrl = local.agent.manager.url;
    await until('the agent to report that it waits for its cluster', 30_000, async () => {
      const report = (await (await fetch(`${agentUrl}/readyz`)).json()) as { checks?: Record<string, string> };
      return report.checks?.['joined']?.startsWith('not joined: ') ? true : undefined;
    });
    expect(local.agent.hostName).to.equal(undefined);
    expect(await api(client, 'Host').get({ name: node }).then(() => true, () => false)).to.equal(false);

    for (const doc of docs) created.push(await api(client, doc.kind ?? '').create(doc));
    const host = await waitFor(api(client, 'Host'), node, 'Up', (h) => h.status?.state === 'Up', 120_000);
    expect((host.spec as { clusterRef: { name: string }; nodeName: string }).clusterRef.name).to.equal(clusterName);
    expect((host.spec as { nodeName: string }).nodeName).to.equal(node);

    const capacity = host.status?.capacity as { cpuNumber: number; memoryBytes: number; cpuSpeed: number; cpuSockets: number };
    expect(capacity.memoryBytes).to.equal(memTotal(await readFile('/proc/meminfo', 'utf8')));
    expect(capacity.cpuNumber).to.equal(cpus().length);
    expect(capacity.cpuSpeed).to.be.greaterThan(0);
    expect(host.status?.hypervisorVersion).to.match(/^QEMU \d+\.\d+.* \(libvirt \d+\.\d+/);
    expect(host.status?.cpuModel).to.equal(cpus()[0]?.model.trim());
    expect(host.status?.bridges).to.include('eth0');
    expect(host.status?.conditions?.find((c) => c.type === 'AgentHealthy')?.status).to.equal('True');
    // The bridges the example's traffic labels name exist (made by local mode when missing): the host takes VMs.
    expect(host.status?.bridges).to.include.members(['cloudbr0', 'cloudbr1']);
    await waitFor(api(client, 'Host'), node, 'Allocatable', (h) => h.status?.conditions?.some((c) => c.type === 'Allocatable' && c.status === 'True') ?? false, 15_000);

    const leases = client.resource<KubeObject & { spec: { holderIdentity: string; renewTime: string } }>(LEASES);
    const first = await leases.get({ namespace: HOST_LEASE_NAMESPACE, name: hostLeaseName(node) });
    expect(first.spec.holderIdentity).to.equal(node);
    const second = await until('the heartbeat Lease renewed', 30_000, async () => {
      const lease = await leases.get({ namespace: HOST_LEASE_NAMESPACE, name: hostLeaseName(node) });
      return Date.parse(lease.spec.renewTime) > Date.parse(first.spec.renewTime) ? lease : undefined;
    }, 500);
    expect(Date.parse(second.spec.renewTime)).to.be.greaterThan(Date.parse(first.spec.renewTime));

    const pool = await waitFor(api(client, 'PrimaryStorage'), names.get('cluster1-primary') ?? '', 'Up', (p) => p.status?.state === 'Up', 30_000);
    const mount = (pool.status?.mounts as { host: string; mounted: boolean; capacityBytes: number }[]).find((m) => m.host === node);
    expect(mount?.mounted).to.equal(true);
    expect(mount?.capacityBytes).to.be.greaterThan(0);

    const zone = await waitFor(api(client, 'Zone'), names.get('zone1') ?? '', 'Ready', ready, 30_000);
    expect(zone.status?.state).to.equal('Enabled');
  });

  it('stopping the agent undoes the bind mount and the bridges it made and leaves the Host in place', async function () {
    if (!local) throw new Error('the agent is not running: the test before this one failed');
    await local.stop();
    local = undefined;
    expect((await mountAt(SHARED)) !== undefined, `${SHARED} mounted after stop`).to.equal(sharedWasMounted);
    for (const bridge of ['cloudbr0', 'cloudbr1']) expect(existsSync(`/sys/class/net/${bridge}`), `${bridge} after stop`).to.equal(bridgesBefore.includes(bridge));
    expect(await api(client, 'Host').get({ name: node }).then(() => true, () => false)).to.equal(true);
  });

  it('a local agent killed by SIGKILL: the next run in its state dir adopts its libvirtd (same process), its mount and bridges, stops its orphaned event follower, and undoes all on stop', async function () {
    const restartDir = await mkdtemp(join(tmpdir(), 'kumulus-local-restart-'));
    try {
      const kubeconfigPath = join(restartDir, 'kubeconfig');
      await writeFile(kubeconfigPath, (await sharedKubeConfig()).exportConfig());
      const child = spawn(process.execPath, [join(repoRoot, 'test', 'support', 'local-agent-process.ts'), kubeconfigPath, restartDir, node, clusterName], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise((done) => child.once('exit', done));
      const started = await until('the first local agent to run', 120_000, () => {
        if (child.exitCode !== null) return Promise.reject(new Error(`the first local agent exited with ${child.exitCode}:\n${output}`));
        const line = output.split('\n').find((l) => l.startsWith('{"libvirtUri"'));
        return Promise.resolve(line ? (JSON.parse(line) as { libvirtUri: string }) : undefined);
      });
      const uri = started.libvirtUri;
      if (uri === 'qemu:///system') {
        console.log('      skipped: the host runs its own libvirtd (qemu:///system), so local mode starts no private one to adopt');
        child.kill('SIGKILL');
        this.skip();
      }
      const libvirtd = Number(await readFile(join(restartDir, 'libvirtd', 'libvirtd.pid'), 'utf8'));
      const follower = await until('the first agent to follow libvirt events', 30_000, async () => (await processesMatching('virsh', 'event', uri)).find((p) => p.parent === child.pid));

      child.kill('SIGKILL');
      await exited;
      // What the killed run leaves behind, and what used to make the next start fail.
      expect(alive(libvirtd), 'its libvirtd outlives it').to.equal(true);
      expect(alive(follower.pid), 'its event follower outlives it').to.equal(true);

      local = await startLocalAgent({ kubeConfig: await sharedKubeConfig(), stateDir: restartDir, logger: log.child({ test: 'agent-local-restart' }), cluster: clusterName, nodeName: node });
      await local.agent.joined;
      expect(local.libvirtUri).to.equal(uri);
      expect(Number(await readFile(join(restartDir, 'libvirtd', 'libvirtd.pid'), 'utf8')), 'the same libvirtd, adopted').to.equal(libvirtd);
      expect(alive(follower.pid), 'the orphaned follower is stopped').to.equal(false);
      const followers = await until('the new agent to follow libvirt events', 30_000, async () => {
        const now = await processesMatching('virsh', 'event', uri);
        return now.length === 1 && now[0]?.parent === process.pid ? now : undefined;
      });
      expect(followers).to.have.length(1);
      expect(await mountAt(SHARED), `${SHARED} stays mounted`).to.not.equal(undefined);
      await waitFor(api(client, 'Host'), node, 'Up', (h) => h.status?.state === 'Up', 60_000);

      await local.stop();
      local = undefined;
      expect(alive(libvirtd), 'the adopted libvirtd is stopped with the agent').to.equal(false);
      expect(await processesMatching('virsh', 'event', uri)).to.deep.equal([]);
      expect((await mountAt(SHARED)) !== undefined, `${SHARED} mounted after stop`).to.equal(sharedWasMounted);
      for (const bridge of ['cloudbr0', 'cloudbr1']) expect(existsSync(`/sys/class/net/${bridge}`), `${bridge} after stop`).to.equal(bridgesBefore.includes(bridge));
    } finally {
      await rm(restartDir, { recursive: true, force: true });
    }
  });
});
