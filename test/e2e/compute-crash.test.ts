import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { condition, createComputeWorld, type ComputeWorld, type Inventory } from '../support/compute-world.ts';
import { until } from '../support/until.ts';

/**
 * Crash safety of the whole compute path. The operator and the two agents (simulated
 * hypervisor whose domains outlive the agent as libvirt's do, real disk files) run as
 * processes, and while VMs are deployed and deleted (CRASH_VMS, 100 by default: every second
 * one is deleted again), a chaos loop SIGKILLs one of them at a random moment and starts it
 * again a moment later. Afterwards everything must converge: the kept VMs Running, the deleted
 * ones gone, and an invariant check over the API and the hosts finds no volume, disk file or
 * domain leaked or made twice. Identifiers derive from uids and allocations are objects, so a
 * restarted process finds what its predecessor made instead of making it again. Each VM has a
 * NIC on an Isolated VXLAN network: the simulated hosts plan it as a real host would (their
 * underlay holds the agent's VTEP address) and plumb nothing, so the addresses (IPAddress
 * objects) and the network's VNI (a VlanAllocation) go through the same crashes: afterwards
 * each kept VM holds exactly the address its status shows, no address is held by a deleted
 * VM or twice, and the network holds one VNI.
 */

const VMS = Number(process.env['CRASH_VMS'] ?? 100);

type Placement = { host: string };

/** Every way the world can hold too much or too little, as readable lines; empty when it is whole. */
function violations(inv: Inventory, keptVms: Set<string>): string[] {
  const problems: string[] = [];
  const vms = inv.vms.filter((v) => v.metadata.deletionTimestamp === undefined);
  const byUid = new Map(vms.map((v) => [v.metadata.uid ?? '', v]));
  const names = vms.map((v) => v.metadata.name ?? '').sort();
  if (JSON.stringify(names) !== JSON.stringify([...keptVms].sort())) problems.push(`VMs: expected ${keptVms.size} kept ones, found ${names.length}: ${names.filter((n) => !keptVms.has(n)).join(', ') || 'none extra'}`);
  const count = <T>(items: T[]) => items.reduce((m, i) => m.set(i, (m.get(i) ?? 0) + 1), new Map<T, number>());

  // Domains: one per kept VM, running, on the host it was placed on; none for anything else.
  for (const [uid, n] of count(inv.domains.map((d) => d.uid))) {
    const vm = byUid.get(uid);
    if (!vm) problems.push(`domain ${uid} (on ${inv.domains.find((d) => d.uid === uid)?.host}) belongs to no VM: leaked`);
    else if (n > 1) problems.push(`VM ${vm.metadata.name} has ${n} domains`);
  }
  for (const vm of vms) {
    const domains = inv.domains.filter((d) => d.uid === vm.metadata.uid);
    if (domains.length === 0) problems.push(`VM ${vm.metadata.name} has no domain`);
    for (const d of domains) {
      if (d.state !== 'running') problems.push(`VM ${vm.metadata.name}'s domain is ${d.state}`);
      if (d.host !== (vm.status?.placement as Placement | undefined)?.host) problems.push(`VM ${vm.metadata.name}'s domain is on ${d.host}, not its host`);
    }
  }

  // Volumes: a ROOT volume per kept VM, none of a deleted VM; one disk file per volume, on one host, nothing else in the pools.
  const volumes = inv.volumes.filter((v) => v.metadata.deletionTimestamp === undefined);
  for (const vm of vms) {
    const roots = volumes.filter((v) => (v.spec?.vmRef as { name?: string } | undefined)?.name === vm.metadata.name);
    if (roots.length !== 1) problems.push(`VM ${vm.metadata.name} has ${roots.length} volumes`);
  }
  for (const v of inv.volumes) {
    const owner = v.metadata.ownerReferences?.[0]?.uid;
    if (!owner || !byUid.has(owner)) problems.push(`Volume ${v.metadata.name} belongs to no kept VM: leaked`);
  }
  const files = inv.disks.filter((d) => !d.file.startsWith('.'));
  for (const [uid, n] of count(files.map((d) => d.file.replace(/\.(qcow2|raw)$/, '')))) {
    if (!volumes.some((v) => v.metadata.uid === uid)) problems.push(`disk file ${uid} belongs to no volume: leaked`);
    if (n > 1) problems.push(`volume ${uid} has ${n} disk files`);
  }
  for (const v of volumes) if (!files.some((d) => d.file.startsWith(v.metadata.uid ?? '-'))) problems.push(`Volume ${v.metadata.name} has no disk file`);
  // The pool's own folders (template copies, hosts' heartbeats) are the agent's bookkeeping; anything else hidden is left over.
  const temporary = inv.disks.filter((d) => d.file.startsWith('.') && !['.kumulus-templates', '.kumulus-heartbeat'].includes(d.file));
  if (temporary.length > 0) problems.push(`temporary files left: ${temporary.map((d) => d.file).join(', ')}`);

  // Addresses: one per kept VM's NIC, the one its status shows; none held by anything else, none twice.
  const held = inv.addresses.filter((a) => (a.spec?.consumerRef as { uid?: string } | undefined)?.uid !== undefined);
  for (const a of held) {
    const consumer = (a.spec?.consumerRef as { uid: string; name?: string }).uid;
    if (!byUid.has(consumer)) problems.push(`address ${a.spec?.address as string} is held by ${(a.spec?.consumerRef as { name?: string }).name ?? consumer}, which is gone: leaked`);
  }
  for (const [address, n] of count(inv.addresses.map((a) => a.spec?.address as string))) if (n > 1) problems.push(`address ${address} is allocated ${n} times`);
  for (const vm of vms) {
    const mine = held.filter((a) => (a.spec?.consumerRef as { uid: string }).uid === vm.metadata.uid).map((a) => a.spec?.address as string);
    const shown = ((vm.status?.nics as { ipAddress?: string }[] | undefined) ?? []).map((n) => n.ipAddress);
    if (mine.length !== 1 || shown.length !== 1 || mine[0] !== shown[0]) problems.push(`VM ${vm.metadata.name} holds addresses [${mine.join(', ')}], its status shows [${shown.join(', ')}]`);
  }
  // VNIs: the one network holds exactly one.
  if (inv.vlans.length !== 1) problems.push(`the network holds ${inv.vlans.length} VNIs: ${inv.vlans.map((v) => v.metadata.name).join(', ')}`);

  return problems;
}

describe(`compute crash safety: operator and agents SIGKILLed at random during ${VMS} deploys and deletes`, function () {
  this.timeout(1_800_000);
  let world: ComputeWorld;
  const roles = new Map<string, ChildProcess | undefined>();

  const start = (role: string): ChildProcess => {
    const child = role === 'operator' ? world.startOperator() : world.startAgent(role);
    roles.set(role, child);
    return child;
  };

  before(async function () {
    this.timeout(300_000);
    world = await createComputeWorld('ccrash', { hosts: 2, networks: 1 });
    start('operator');
    for (const host of world.hosts) start(host);
    await world.ready();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.log(await world.logs(40));
  });

  after(async function () {
    this.timeout(180_000);
    for (const child of roles.values()) await world.kill(child);
    await world?.cleanup();
  });

  it('converges with nothing leaked or duplicated', async () => {
    const kept = new Set<string>();
    const kills: string[] = [];
    let working = true;
    const chaos = (async () => {
      while (working) {
        await sleep(randomInt(1000, 4000));
        if (!working) break;
        const role = [...roles.keys()][randomInt(0, roles.size)]!;
        await world.kill(roles.get(role));
        kills.push(role === 'operator' ? 'operator' : `agent ${world.hosts.indexOf(role)}`);
        await sleep(randomInt(0, 1500));
        start(role);
      }
    })();

    const create = (i: number) =>
      world.res('VirtualMachine').create({ metadata: { name: `vm-${i}`, namespace: world.ns }, spec: world.vmSpec({ networks: [{ name: world.names.networks[0] }] }) });
    const started = Date.now();
    try {
      for (let i = 0; i < VMS; i++) {
        await create(i);
        kept.add(`vm-${i}`);
        // Every second VM is deleted again a few deploys later: mid-build, or once built.
        const doomed = i - randomInt(1, 6);
        if (doomed >= 0 && doomed % 2 === 0 && kept.has(`vm-${doomed}`)) {
          await world.res('VirtualMachine').delete({ name: `vm-${doomed}`, namespace: world.ns });
          kept.delete(`vm-${doomed}`);
        }
        await sleep(randomInt(50, 400));
      }
      for (let i = 0; i < VMS; i += 2) {
        if (kept.delete(`vm-${i}`)) await world.res('VirtualMachine').delete({ name: `vm-${i}`, namespace: world.ns });
      }
      // Let the last kills land while the deletes are under way.
      await sleep(5000);
    } finally {
      working = false;
      await chaos;
    }
    console.log(`      ${VMS} deploys and ${VMS - kept.size} deletes in ${Math.round((Date.now() - started) / 1000)} s; ${kills.length} kills: ${kills.join(', ')}`);

    // Converged: every kept VM Running and Ready, every deleted one gone.
    await until('every kept VM to run and every deleted one to be gone', 600_000, async () => {
      const vms = (await world.res('VirtualMachine').list({ namespace: world.ns })).items;
      const running = vms.filter((v) => kept.has(v.metadata.name ?? '') && v.status?.state === 'Running' && condition(v, 'Ready')?.status === 'True');
      return running.length === kept.size && vms.length === kept.size ? true : undefined;
    }, 2000);

    let last: string[] = [];
    try {
      await until('the invariants to hold', 120_000, async () => {
        last = violations(await world.inventory(), kept);
        return last.length === 0 ? true : undefined;
      }, 2000);
    } catch {
      expect(last, 'leaked or duplicated').to.deep.equal([]);
    }
    const inv = await world.inventory();
    console.log(`      converged: ${inv.vms.length} VMs, ${inv.domains.length} domains, ${inv.volumes.length} volumes, ${inv.disks.filter((d) => !d.file.startsWith('.')).length} disk files, ${inv.addresses.length} addresses, ${inv.vlans.length} VNI`);
    expect(inv.domains).to.have.length(kept.size);
    expect(kills.length, 'processes were killed').to.be.greaterThan(0);
  });
});

