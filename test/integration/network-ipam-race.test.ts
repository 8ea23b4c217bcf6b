import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { NetworkObject } from '../../crds/index.ts';
import { createKubeClient, type KubeClient } from '../../lib/kube-client.ts';
import { sharedControlPlane, ensureKumulusCrds, sharedKubeConfig, uniqueName } from '../support/cluster.ts';
import { guestNetworkWorld, type GuestNetworkWorld } from '../support/guest-network-world.ts';
import { until } from '../support/until.ts';

/**
 * IPAM under a race: 500 NICs requested at once on one /24 by two operator processes, each
 * with its own informer cache and 32 concurrent requests. The apiserver's create is the only
 * lock: every address is handed out once, none leaks, and the requests past the 252 guest
 * addresses are refused as CloudStack's insufficient capacity (533), saying why.
 */

const VMS = 500;
const POOL = 252;

interface Line {
  vm: string;
  uid?: string;
  result: string;
  ip?: string;
  reason?: string;
  message?: string;
  insufficientCapacity?: boolean;
}

function startWorker(kubeconfigPath: string, namespace: string, names: string[]): { child: ChildProcess; lines: Line[]; ready: Promise<void>; done: Promise<void> } {
  const script = join(import.meta.dirname, '..', 'support', 'ipam-worker.ts');
  const child = spawn(process.execPath, [script, namespace, '32', ...names], { env: { ...process.env, KUBECONFIG: kubeconfigPath }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Line[] = [];
  let buffer = '';
  let onReady: () => void = () => undefined;
  let onDone: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  const done = new Promise<void>((r, reject) => {
    onDone = r;
    child.on('exit', (code) => (code === 0 ? r() : reject(new Error(`worker exited with ${code}`))));
  });
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line === 'READY') onReady();
      else if (line === 'DONE') onDone();
      else if (line.startsWith('{')) lines.push(JSON.parse(line) as Line);
    }
  });
  return { child, lines, ready, done };
}

describe('guest IPAM race: two operator processes, 500 NICs, one /24', function () {
  this.timeout(600_000);
  let client: KubeClient;
  let world: GuestNetworkWorld;
  let network: NetworkObject;
  const children: ChildProcess[] = [];

  before(async function () {
    this.timeout(600_000);
    const kc = await sharedKubeConfig();
    await ensureKumulusCrds();
    client = createKubeClient(kc);
    world = await guestNetworkWorld(client, uniqueName('race').slice(5));
    network = await world.network('race', { cidr: '10.1.1.0/24', gateway: '10.1.1.1' });
    // Addressing comes from spec (no Network controller runs here): the race is the allocator's alone.
    const names = Array.from({ length: VMS }, (_, k) => `vm-${k}`);
    for (let k = 0; k < names.length; k += 25) await Promise.all(names.slice(k, k + 25).map((name) => world.vm(name, [{ name: 'race' }])));
  });

  after(async function () {
    this.timeout(120_000);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await world?.cleanup();
  });

  it('hands out each address once, leaks none, and refuses the rest as insufficient capacity', async () => {
    const plane = await sharedControlPlane();
    const names = Array.from({ length: VMS }, (_, k) => `vm-${k}`);
    const workers = [0, 1].map((w) => startWorker(plane.kubeconfigPath, world.namespace, names.filter((_, k) => k % 2 === w)));
    children.push(...workers.map((w) => w.child));
    await Promise.all(workers.map((w) => w.ready));
    const started = Date.now();
    for (const w of workers) w.child.stdin!.write('GO\n');
    await Promise.all(workers.map((w) => w.done));
    const seconds = (Date.now() - started) / 1000;
    const lines = workers.flatMap((w) => w.lines);
    expect(lines.filter((l) => l.result === 'error'), 'no request failed').to.deep.equal([]);
    expect(lines).to.have.length(VMS);

    const granted = lines.filter((l) => l.result === 'ready');
    const refused = lines.filter((l) => l.result === 'refused');
    expect(granted, 'every guest address of the /24 is handed out').to.have.length(POOL);
    expect(new Set(granted.map((l) => l.ip)).size, 'each address once').to.equal(POOL);
    for (const [k, w] of workers.entries()) expect(w.lines.filter((l) => l.result === 'ready').length, `worker ${k} won addresses too`).to.be.above(0);
    expect(refused).to.have.length(VMS - POOL);
    for (const r of refused) {
      expect(r).to.include({ reason: 'InsufficientAddressCapacity', insufficientCapacity: true });
      expect(r.message).to.match(/^network race has no free address: all 252 guest addresses of 10\.1\.1\.1-10\.1\.1\.254 \(less the gateway and the DHCP service address\) are allocated/);
    }

    // The apiserver holds exactly the granted addresses, each naming the VM it was granted to.
    const stored = await until('the records to be listed', 10_000, () => world.addressesOf(network));
    expect(stored).to.have.length(POOL);
    const byUid = new Map(granted.map((l) => [l.uid, l.ip]));
    const leaked = stored.filter((a) => byUid.get(a.spec.consumerRef?.uid) !== a.spec.address);
    expect(leaked.map((a) => `${a.spec.address} → ${a.spec.consumerRef?.name}`), 'no record without the grant it stands for').to.deep.equal([]);
    expect(stored.map((a) => a.spec.address)).to.not.include.members(['10.1.1.1', '10.1.1.254', '10.1.1.0', '10.1.1.255']);
    process.stdout.write(`      ${VMS} requests, ${POOL} granted in ${seconds.toFixed(1)} s across two processes\n`);
  });
});
