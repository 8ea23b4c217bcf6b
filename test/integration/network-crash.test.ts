import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Configuration, type NetworkObject, type VirtualMachineObject } from '../../crds/index.ts';
import { LABEL_NETWORK_UID, parseBroadcastUri } from '../../lib/guest-identity.ts';
import { createKubeClient, isNotFound, resourceTypeOf, type KubeClient, type KubeObject } from '../../lib/kube-client.ts';
import { ensureKumulusCrds, sharedControlPlane, sharedKubeConfig, uniqueName } from '../support/cluster.ts';
import { guestNetworkWorld, type GuestNetworkWorld } from '../support/guest-network-world.ts';
import { until } from '../support/until.ts';

/**
 * Crash safety: the operator (every infrastructure controller, and the NIC part of the VM
 * controller played by the test's worker) is SIGKILLed at random moments while 200 NICs are
 * allocated, half of them released, a network shut down for idleness, another deleted, and
 * some VMs vanish without their release. Restarted each time, it must converge to: no address
 * held twice, none leaked (every IPAddress names a live VM whose status records it), no VNI
 * held twice or leaked, requested addresses honoured.
 */

const VMS = 200;
const NETWORKS = 4;
const GRACE_MS = 3000;
const FINALIZER = 'test.kumulus.io/nics';
const FIELD_MANAGER = 'network-crash-test';

describe('guest networks survive SIGKILL of the operator at random moments', function () {
  this.timeout(900_000);
  let client: KubeClient;
  let world: GuestNetworkWorld;
  let kubeconfigPath = '';
  let globalExisted = false;
  let child: ChildProcess | undefined;
  const configurations = () => client.resource<KubeObject & { spec?: unknown }>(resourceTypeOf(Configuration));

  before(async function () {
    this.timeout(300_000);
    const kc = await sharedKubeConfig();
    await ensureKumulusCrds();
    kubeconfigPath = (await sharedControlPlane()).kubeconfigPath;
    client = createKubeClient(kc);
    world = await guestNetworkWorld(client, uniqueName('crash').slice(5), { vniCount: 10 });
    globalExisted = await configurations().get({ name: 'global' }).then(() => true, (err: unknown) => (isNotFound(err) ? false : Promise.reject(err as Error)));
    await configurations().apply({ apiVersion: Configuration.apiVersion, kind: 'Configuration', metadata: { name: 'global' }, spec: { settings: { 'network.gc.wait': '1' } } }, { fieldManager: FIELD_MANAGER, force: true });
  });

  after(async function () {
    this.timeout(120_000);
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await world?.cleanup();
    if (globalExisted) await configurations().apply({ apiVersion: Configuration.apiVersion, kind: 'Configuration', metadata: { name: 'global' }, spec: { settings: {} } }, { fieldManager: FIELD_MANAGER, force: true });
    else await configurations().delete({ name: 'global' }).catch(() => undefined);
  });

  function startOperator(verbose = false): { child: ChildProcess; exited: Promise<void>; ready: Promise<void> } {
    const script = join(import.meta.dirname, '..', 'support', 'network-operator-worker.ts');
    const c = spawn(process.execPath, [script, world.namespace, String(GRACE_MS), FINALIZER], { env: { ...process.env, KUBECONFIG: kubeconfigPath, ...(verbose ? { KUMULUS_LOG_LEVEL: 'info' } : {}) }, stdio: ['ignore', 'pipe', 'inherit'] });
    const ready = new Promise<void>((done) => c.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('READY') && done()));
    return { child: c, exited: new Promise((done) => c.once('exit', () => done())), ready };
  }

  const net = (k: number) => `n${k}`;
  const vmName = (k: number) => `vm-${k}`;
  const networkOf = (k: number) => k % NETWORKS;
  /** Every fourth VM asks for an address of its own. */
  const requested = (k: number) => (k % 4 === 0 ? `10.1.${10 + networkOf(k)}.${100 + Math.floor(k / NETWORKS)}` : undefined);
  const released = (k: number) => k % 2 === 1;
  /** VMs that vanish without their release: their finalizer is taken off before deletion. */
  const lost = (k: number) => networkOf(k) === 2 && k % 2 === 0 && k < 80;

  it('keeps every address and VNI unique and leaks none through 200 allocations and releases', async () => {
    const vms = world.vms;
    let kills = 0;
    let workloadDone = false;
    const killer = (async () => {
      while (!workloadDone || kills < 12) {
        const run = startOperator();
        child = run.child;
        // Mostly while it works (after its caches synced), sometimes while it starts.
        if (randomInt(4) > 0) await Promise.race([run.ready, run.exited]);
        await sleep(randomInt(0, 2500));
        run.child.kill('SIGKILL');
        await run.exited;
        kills++;
      }
    })();

    const networks: NetworkObject[] = [];
    for (let n = 0; n < NETWORKS; n++) networks.push(await world.network(net(n), { cidr: `10.1.${10 + n}.0/24`, gateway: `10.1.${10 + n}.1` }));
    const all = Array.from({ length: VMS }, (_, k) => k);
    for (let k = 0; k < VMS; k += 20) {
      await Promise.all(all.slice(k, k + 20).map((i) => world.vm(vmName(i), [{ name: net(networkOf(i)), ...(requested(i) ? { ipAddress: requested(i) } : {}) }], { finalizers: [FINALIZER] })));
    }
    // Networks n0-n2 get placed VMs (and so a VNI); n3's VMs are never placed.
    for (const k of all.filter((i) => networkOf(i) !== 3)) await world.place(vmName(k));
    await sleep(3000);
    for (const k of all.filter(lost)) {
      await vms.patch({ namespace: world.namespace, name: vmName(k) }, { metadata: { finalizers: null } });
      await vms.delete({ namespace: world.namespace, name: vmName(k) });
    }
    for (const k of all.filter((i) => released(i))) await vms.delete({ namespace: world.namespace, name: vmName(k) });
    // n1 goes idle: its VMs stop, so it is shut down after network.gc.wait and its VNI released.
    for (const k of all.filter((i) => networkOf(i) === 1 && !released(i))) await vms.patch({ namespace: world.namespace, name: vmName(k) }, { spec: { state: 'Stopped' } });
    // n3 goes away: its VMs first, then the network.
    for (const k of all.filter((i) => networkOf(i) === 3 && !released(i))) await vms.delete({ namespace: world.namespace, name: vmName(k) });
    await world.networks.delete({ namespace: world.namespace, name: net(3) });
    workloadDone = true;
    await killer;

    // The last start runs to convergence.
    const final = startOperator(process.env['DEBUG_CRASH'] === '1');
    child = final.child;
    const live = all.filter((k) => !released(k) && !lost(k) && networkOf(k) !== 3);
    await until('every live VM to record its NIC', 240_000, async () => {
      const items = (await vms.list({ namespace: world.namespace })).items;
      const ok = items.length === live.length && items.every((vm) => vm.status?.nics?.[0]?.ipAddress !== undefined);
      return ok ? true : undefined;
    }, 1000);
    // n1 is Shutdown if the operator saw it used before its VMs stopped, else still Allocated.
    let seen = '';
    await until('network n3 to go, n1 to hold no VNI and every network to count its addresses', 120_000, async () => {
      const n3 = await world.networks.get({ namespace: world.namespace, name: net(3) }).catch(() => undefined);
      const now = (await world.networks.list({ namespace: world.namespace })).items;
      const records = (await world.ipAddresses.list({})).items;
      const counts = now.map((n) => ({ name: n.metadata.name, state: n.status?.state, uri: n.status?.broadcastUri, counted: n.status?.addressesAllocated, held: records.filter((a) => a.metadata.labels?.[LABEL_NETWORK_UID] === n.metadata.uid).length }));
      seen = JSON.stringify({ exit: final.child.exitCode, n3: n3?.status?.state, counts });
      const n1 = counts.find((c) => c.name === net(1));
      return !n3 && n1?.uri === undefined && ['Shutdown', 'Allocated'].includes(n1?.state ?? '') && counts.every((c) => c.counted === c.held) ? true : undefined;
    }, 1000).catch((err: unknown) => Promise.reject(new Error(`${(err as Error).message}; last seen ${seen}`)));
    let extra = '';
    await until('the lost VMs\' addresses to be collected', 120_000, async () => {
      const held = (await world.ipAddresses.list({})).items.filter((a) => networks.some((n) => a.metadata.labels?.[LABEL_NETWORK_UID] === n.metadata.uid));
      if (held.length === live.length) return true;
      const liveUids = new Set((await vms.list({ namespace: world.namespace })).items.map((vm) => vm.metadata.uid));
      const kept = new Set(live.map(vmName));
      extra = JSON.stringify(
        held
          .filter((a) => !liveUids.has(a.spec.consumerRef?.uid) || !kept.has(a.spec.consumerRef?.name ?? ''))
          .concat(held.filter((a, i) => held.findIndex((b) => b.spec.consumerRef?.uid === a.spec.consumerRef?.uid) !== i))
          .map((a) => ({ address: a.spec.address, consumer: a.spec.consumerRef?.name, consumerLive: liveUids.has(a.spec.consumerRef?.uid), created: a.metadata.creationTimestamp, deleting: a.metadata.deletionTimestamp, ready: a.status?.conditions?.[0] })),
      );
      return undefined;
    }, 1000).catch((err: unknown) => Promise.reject(new Error(`${(err as Error).message}; ${live.length} NICs live, records left over: ${extra}; operator exit code ${final.child.exitCode}`)));

    // Addresses: one per NIC, each recorded by the live VM it names; requested ones honoured.
    const vmsNow = (await vms.list({ namespace: world.namespace })).items;
    const byUid = new Map(vmsNow.map((vm) => [vm.metadata.uid ?? '', vm] as const));
    const records = (await world.ipAddresses.list({})).items.filter((a) => networks.some((n) => a.metadata.labels?.[LABEL_NETWORK_UID] === n.metadata.uid));
    const leaked = records.filter((a) => {
      const vm: VirtualMachineObject | undefined = byUid.get(a.spec.consumerRef?.uid ?? '');
      return vm?.status?.nics?.find((nic) => nic.network === a.spec.networkRef?.name)?.ipAddress !== a.spec.address;
    });
    expect(leaked.map((a) => `${a.spec.address} (${a.spec.consumerRef?.name})`), 'leaked addresses').to.deep.equal([]);
    const perNic = new Map<string, number>();
    for (const a of records) perNic.set(`${a.spec.consumerRef?.uid}/${a.spec.networkRef?.name}`, (perNic.get(`${a.spec.consumerRef?.uid}/${a.spec.networkRef?.name}`) ?? 0) + 1);
    expect([...perNic.values()].filter((c) => c > 1), 'NICs holding two addresses').to.deep.equal([]);
    const recorded = vmsNow.map((vm) => `${vm.status?.nics?.[0]?.network}/${vm.status?.nics?.[0]?.ipAddress}`);
    expect(new Set(recorded).size, 'duplicate addresses across VMs').to.equal(recorded.length);
    expect(records).to.have.length(live.length);
    for (const k of live.filter((i) => requested(i))) {
      expect(vmsNow.find((vm) => vm.metadata.name === vmName(k))?.status?.nics?.[0]?.ipAddress, `VM ${vmName(k)} got the address it asked for`).to.equal(requested(k));
    }

    // VNIs: one per implemented network, none for the idle or deleted one, none shared.
    const allocations = (await world.vlanAllocations.list({})).items.filter((a) => a.spec.physicalNetworkRef.name === world.physicalNetwork);
    const networksNow = (await world.networks.list({ namespace: world.namespace })).items;
    const state: Record<string, string | undefined> = Object.fromEntries(networksNow.map((n) => [n.metadata.name ?? "", n.status?.state]));
    expect(state).to.deep.include({ n0: 'Implemented', n2: 'Implemented' });
    expect(state.n1).to.be.oneOf(['Shutdown', 'Allocated']);
    expect(allocations.map((a) => a.spec.networkRef?.name).sort(), 'allocations held').to.deep.equal(['n0', 'n2']);
    for (const a of allocations) {
      const owner = networksNow.find((n) => n.metadata.uid === a.spec.networkRef?.uid);
      expect(parseBroadcastUri(owner?.status?.broadcastUri), `the VNI ${a.spec.id} is the one its network advertises`).to.deep.equal({ isolation: a.spec.isolation, id: a.spec.id });
    }
    process.stdout.write(`      operator SIGKILLed ${kills} times; ${live.length} NICs kept, ${VMS - live.length} released or collected\n`);
  });
});
