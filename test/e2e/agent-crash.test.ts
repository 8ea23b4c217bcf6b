import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { log as logger } from '../../lib/log.ts';
import { commandRunner } from '../../node-daemon/drivers/exec.ts';
import { libvirtDriver, type LibvirtDriver } from '../../node-daemon/drivers/hypervisor/libvirt.ts';
import { bridgeName, isKumulusLink, servicePortName, vxlanDeviceName } from '../../node-daemon/drivers/network/names.ts';
import { condition, createAgentWorld, getOrUndefined, linkExists, waitFor, type AgentWorld } from '../support/agent-world.ts';
import { sharedControlPlane } from '../support/cluster.ts';
import { ensureGuestTemplate } from '../../node-daemon/guest-template/build.ts';
import { guestDomainType } from '../support/guest-domain-type.ts';
import { useLibvirt, type TestLibvirt } from '../support/libvirtd.ts';
import { until } from '../support/until.ts';

/**
 * Crash safety: `kumulus agent` runs as its own process and is killed outright (SIGKILL to
 * its process group, as a container runtime kills a pod) at random moments while it builds
 * three VMs (template copy, disks, bridges, dnsmasq, domains) and while it deletes one of
 * them. Restarted once more, it must converge with nothing leaked or duplicated: one domain
 * per VM, no disk without a volume and no temporary file, no link, namespace or dnsmasq of the
 * network nobody uses any more, and no process of a killed agent left behind.
 */

const repoRoot = resolve(import.meta.dirname, '../..');

async function processesMatching(...needles: string[]): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (needles.every((n) => cmdline.includes(n))) pids.push(Number(entry));
  }
  return pids;
}

describe('agent crash safety: killed at random points, restarted, it converges with nothing leaked or duplicated', function () {
  this.timeout(600_000);
  const vniKept = 500_000 + randomInt(0, 100_000);
  const vniDropped = vniKept + 100_000;
  let world: AgentWorld;
  let libvirt: TestLibvirt;
  let hypervisor: LibvirtDriver;
  let kubeconfigPath = '';
  let agent: ChildProcess | undefined;
  const uids = new Map<string, string>();
  let domainsBefore = new Set<string>();

  /** Each run's output goes to agent.log in the world's folder, read back when the test fails. */
  const startAgent = (): ChildProcess => {
    const log = openSync(join(world.workDir, 'agent.log'), 'a');
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, 'bin', 'kumulus.ts'),
        'agent',
        `--kubeconfig=${kubeconfigPath}`,
        ...world.agentArgs(libvirt.uri),
      ],
      { env: { ...process.env, NODE_NAME: world.node }, detached: true, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    return child;
  };

  /** SIGKILL to the agent's whole process group (its `virsh event` child too), then waits for it. */
  const killAgent = async (child: ChildProcess): Promise<void> => {
    const running = child.exitCode === null && child.signalCode === null;
    const exited = new Promise((done) => child.once('exit', done));
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch {
      // the whole group is gone already
    }
    if (running) await exited;
  };

  const domainUuids = async (): Promise<Set<string>> =>
    new Set((await commandRunner()(['virsh', '-c', libvirt.uri, 'list', '--all', '--uuid'])).stdout.split('\n').map((l) => l.trim()).filter(Boolean));

  before(async function () {
    libvirt = await useLibvirt();
    if (libvirt.limitation !== undefined) {
      console.log(`      SKIP: ${libvirt.limitation}`);
      this.skip();
    }
    kubeconfigPath = (await sharedControlPlane()).kubeconfigPath;
    world = await createAgentWorld('agent-crash');
    hypervisor = libvirtDriver({ uri: libvirt.uri, domainType: guestDomainType, logger: logger.child({ test: 'agent-crash' }) });
    domainsBefore = await domainUuids();
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !world) return;
    const output = await readFile(join(world.workDir, 'agent.log'), 'utf8').catch(() => '');
    console.log(`      the agents' last output:\n${output.split('\n').slice(-40).join('\n')}`);
  });

  after(async function () {
    this.timeout(120_000);
    if (agent) await killAgent(agent);
    for (const uid of uids.values()) await hypervisor?.undefine(uid).catch(() => undefined);
    await world?.cleanup([vniKept, vniDropped]);
    await libvirt?.release();
  });

  it('converges after six kills during bring-up and a deletion', async function () {
    await world.createTemplate(await ensureGuestTemplate({ logger }));
    await world.createNetwork('kept', vniKept);
    await world.createNetwork('dropped', vniDropped);
    for (const [name, network] of [['a', 'kept'], ['b', 'kept'], ['c', 'dropped']] as const) {
      uids.set(name, (await world.placeVm(name, { networks: [{ name: network }], dataDisk: name === 'a' })).metadata.uid ?? '');
    }

    // The agent process takes about a second to start and join; the kills land after that, mid-work.
    const kills: string[] = [];
    for (let kill = 1; kill <= 6; kill++) {
      agent = startAgent();
      const delay = randomInt(1000, 4000);
      await sleep(delay);
      if (kill === 4) await world.res('vms').delete({ name: 'c', namespace: world.ns }, { propagationPolicy: 'Background' });
      expect(agent.exitCode ?? agent.signalCode, 'the agent runs until it is killed (see its output below)').to.equal(null);
      await killAgent(agent);
      agent = undefined;
      const domains = [...(await domainUuids())].filter((u) => !domainsBefore.has(u)).length;
      const disks = (await readdir(world.poolDir).catch(() => [] as string[])).filter((n) => !n.startsWith('.kumulus-')).length;
      kills.push(`${delay} ms (${domains} domains, ${disks} disk files)`);
    }
    console.log(`      killed the agent after ${kills.join('; ')}`);

    agent = startAgent();
    // Once wired, the agent follows libvirt's events: exactly one follower means this agent runs and no killed one lives on.
    const follower = () => processesMatching('virsh', 'event', '--loop', libvirt.uri);
    await until('the restarted agent to follow libvirt events', 60_000, async () => ((await follower()).length === 1 ? true : undefined));
    for (const name of ['a', 'b']) {
      const vm = await waitFor(world.res('vms'), name, 'Running', (o) => condition(o, 'Running')?.status === 'True' && o.status?.powerState === 'PowerOn', 180_000, world.ns);
      expect(vm.status?.instanceName).to.equal(`kumulus-${uids.get(name)}`);
    }
    await until('VM c and its volume to be gone', 120_000, async () =>
      (await getOrUndefined(world.res('vms'), 'c', world.ns)) || (await getOrUndefined(world.res('volumes'), 'c-root', world.ns)) ? undefined : true,
    );

    // One domain per VM, running; none for the deleted one, and none of a killed attempt.
    const created = [...(await domainUuids())].filter((u) => !domainsBefore.has(u)).sort();
    expect(created).to.deep.equal([uids.get('a'), uids.get('b')].sort());
    for (const name of ['a', 'b']) expect((await hypervisor.observe(uids.get(name) ?? ''))?.state, name).to.equal('running');

    // The pool holds exactly the volumes' disks, and the cache exactly the template.
    const volumes = (await world.res('volumes').list({ namespace: world.ns })).items;
    expect(volumes.map((v) => v.metadata.name).sort()).to.deep.equal(['a-data', 'a-root', 'b-root']);
    const disks = (await readdir(world.poolDir)).filter((n) => !n.startsWith('.kumulus-')).sort();
    expect(disks, 'no disk without a volume, no temporary file').to.deep.equal(volumes.map((v) => `${v.metadata.uid}.qcow2`).sort());
    const cached = (await readdir(join(world.poolDir, '.kumulus-templates'))).filter((n) => !n.endsWith('.lock'));
    const template = await world.res('templates').get({ name: 'tiny', namespace: world.ns });
    expect(cached, 'one cached template, no partial download').to.deep.equal([`${template.metadata.uid}.qcow2`]);

    // The used network is whole; the other is gone, with its namespace and dnsmasq.
    const kept = { type: 'vxlan' as const, vni: vniKept };
    const dropped = { type: 'vxlan' as const, vni: vniDropped };
    // One apply removes the links, then the namespace: wait for all of them.
    await until('the unused network\'s links and namespace to be removed', 60_000, async () => {
      for (const link of [bridgeName(dropped), vxlanDeviceName(vniDropped), servicePortName(dropped)]) if (await linkExists(link)) return undefined;
      return (await commandRunner()(['ip', 'netns', 'list'])).stdout.includes(`kumulus-dhcp-${bridgeName(dropped)}`) ? undefined : true;
    });
    // The agent owns the host's guest networking: after convergence only the kept network's is
    // left, whole (one apply may still be completing it under load: wait for it).
    const linksOf = async (...args: string[]) => (JSON.parse((await commandRunner()(['ip', '-j', 'link', 'show', ...args])).stdout) as { ifname: string }[]).map((l) => l.ifname).sort();
    const keptLinks = [bridgeName(kept), servicePortName(kept), vxlanDeviceName(vniKept)].sort();
    let seen = '';
    await until('the kept network whole, and only it', 60_000, async () => {
      // Besides the VMs' taps, the bridge holds the VXLAN device and the DHCP service's port.
      const members = await linksOf('master', bridgeName(kept));
      const kumulus = (await linksOf()).filter((name) => isKumulusLink(name));
      seen = `bridge members ${JSON.stringify(members)}, Kumulus links ${JSON.stringify(kumulus)}`;
      const whole = [servicePortName(kept), vxlanDeviceName(vniKept)].every((l) => members.includes(l));
      return whole && JSON.stringify(kumulus) === JSON.stringify(keptLinks) ? true : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last seen: ${seen}`);
    });
    const serviceNamespaces = (await commandRunner()(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith('kumulus-dhcp-'));
    expect(serviceNamespaces).to.deep.equal([`kumulus-dhcp-${bridgeName(kept)}`]);
    const dnsmasqRoot = join(world.agentStateDir, 'dnsmasq');
    await until('one dnsmasq, for the kept network only', 30_000, async () => {
      const running = await processesMatching('dnsmasq', `${dnsmasqRoot}/`);
      return running.length === 1 ? running : undefined;
    });
    expect(await processesMatching('dnsmasq', join(dnsmasqRoot, bridgeName(kept)))).to.have.length(1);

    expect(await follower(), 'one virsh event follower: the running agent\'s').to.have.length(1);
  });
});
