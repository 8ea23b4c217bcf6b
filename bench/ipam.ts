/**
 * Benchmarks guest IPAM against a real control plane started for the run. Prints one JSON line
 * per figure on stdout:
 * - baseline: the raw create rate of IPAddress objects shaped like the allocator's (same
 *   labels, spec and consumer reference), at the same concurrency;
 * - ensureNics allocations per second on one network (the operator's informers, no
 *   controllers), and the same with every infrastructure controller running (the repair loop
 *   writes each record's status and the Network controller counts them meanwhile) once the
 *   earlier runs' records are gone, each with its ratio to the baseline (target ≥ 0.5).
 * BENCH_NICS (default 1000) NICs on a /22, BENCH_CONCURRENCY (default 32) requests in flight.
 */
import * as k8s from '@kubernetes/client-node';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInfraContext, type InfraContext } from '../controllers/infra-context.ts';
import { registerInfrastructureControllers } from '../controllers/infrastructure.ts';
import { ensureNics } from '../controllers/nics.ts';
import { IPAddress, Network, NetworkOffering, VirtualMachine, Zone, type IPAddressObject, type NetworkObject, type VirtualMachineObject } from '../crds/index.ts';
import { startControlPlane } from '../lib/controlplane/index.ts';
import { ipAddressName, LABEL_CONSUMER_UID, LABEL_NETWORK_UID } from '../lib/guest-identity.ts';
import { installCrds, readCrdManifests } from '../lib/install-crds.ts';
import { intToIp, ipToInt } from '../lib/ipv4.ts';
import { createKubeClient, resourceTypeOf, type KubeClient, type KubeObject } from '../lib/kube-client.ts';
import { log, setLogLevel } from '../lib/log.ts';
import { createManager, type Manager } from '../lib/manager.ts';

const NICS = Number(process.env['BENCH_NICS'] ?? 1000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 32);
const NAMESPACE = 'bench-ipam';

function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: 'ipam', figure, value: Math.round(value * 100) / 100, unit, ...extra })}\n`);
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function until(what: string, check: () => boolean, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`benchmark timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A network of its own on a /22 (1020 guest addresses) and NICS VMs on it. */
async function networkWithVms(client: KubeClient, name: string, cidr: string): Promise<{ network: NetworkObject; vms: string[] }> {
  const network = await client.resource<NetworkObject>(resourceTypeOf(Network)).create({
    apiVersion: Network.apiVersion,
    kind: 'Network',
    metadata: { name, namespace: NAMESPACE },
    spec: { networkOfferingRef: { name: 'bench-isolated' }, zoneRef: { name: 'bench-zone' }, cidr, gateway: intToIp(ipToInt(cidr.split('/')[0]!)! + 1) },
  });
  const vmClient = client.resource<VirtualMachineObject>(resourceTypeOf(VirtualMachine));
  const vms = Array.from({ length: NICS }, (_, k) => `${name}-vm-${k}`);
  await pool(vms, 32, async (vm) => {
    await vmClient.create({
      apiVersion: VirtualMachine.apiVersion,
      kind: 'VirtualMachine',
      metadata: { name: vm, namespace: NAMESPACE },
      spec: { zoneRef: { name: 'bench-zone' }, serviceOfferingRef: { name: 'small' }, templateRef: { name: 't' }, networks: [{ name }] },
    });
  });
  return { network, vms };
}

/** ensureNics for every VM, CONCURRENCY at a time: allocations per second. */
async function allocate(ctx: InfraContext, vms: string[]): Promise<{ rate: number; granted: number }> {
  await until('the VMs in the cache', () => vms.every((name) => ctx.informers.vms.get({ namespace: NAMESPACE, name })));
  const signal = new AbortController().signal;
  let granted = 0;
  const started = performance.now();
  await pool(vms, CONCURRENCY, async (name) => {
    const outcome = await ensureNics(ctx, ctx.informers.vms.get({ namespace: NAMESPACE, name })!, signal);
    if (outcome.result !== 'ready') throw new Error(`${name}: ${JSON.stringify(outcome)}`);
    granted++;
  });
  return { rate: vms.length / ((performance.now() - started) / 1000), granted };
}

async function startOperator(kc: k8s.KubeConfig, controllers: boolean): Promise<{ manager: Manager; ctx: InfraContext }> {
  const manager = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: log.child({ component: 'bench-ipam' }) });
  const ctx = controllers ? registerInfrastructureControllers(manager) : createInfraContext(manager);
  await manager.start();
  await Promise.all([ctx.informers.vms, ctx.informers.networks, ctx.informers.networkOfferings, ctx.informers.ipAddresses].map((i) => i.waitForSync()));
  return { manager, ctx };
}

setLogLevel('warn');
const plane = await startControlPlane({ logger: log, readyTimeoutMs: 120_000 });
try {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(plane.kubeconfig);
  await installCrds(kc, await readCrdManifests(join(import.meta.dirname, '..', 'crds')), log);
  const client = createKubeClient(kc);
  await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: NAMESPACE } });
  await client.resource<KubeObject>(resourceTypeOf(Zone)).create({ metadata: { name: 'bench-zone' }, spec: { networkType: 'Advanced', dns1: '192.0.2.53', internalDns1: '192.0.2.53', guestCidr: '10.0.0.0/8' } } as KubeObject);
  await client.resource<KubeObject>(resourceTypeOf(NetworkOffering)).create({ metadata: { name: 'bench-isolated' }, spec: { guestIpType: 'Isolated' } } as KubeObject);

  // Baseline: the same objects, created straight, at the same concurrency.
  const ipClient = client.resource<IPAddressObject>(resourceTypeOf(IPAddress));
  const fakeNetwork = randomUUID();
  const first = ipToInt('10.9.0.2')!;
  const bodies = Array.from({ length: NICS }, (_, k): IPAddressObject => {
    const address = intToIp(first + k);
    const consumer = randomUUID();
    return {
      apiVersion: IPAddress.apiVersion,
      kind: IPAddress.kind,
      metadata: { name: ipAddressName(fakeNetwork, address), labels: { [LABEL_NETWORK_UID]: fakeNetwork, [LABEL_CONSUMER_UID]: consumer } },
      spec: { address, purpose: 'Guest', networkRef: { namespace: NAMESPACE, name: 'baseline' }, macAddress: '02:00:00:00:00:01', consumerRef: { kind: 'VirtualMachine', namespace: NAMESPACE, name: `b-${k}`, uid: consumer, nic: 'baseline' } },
    };
  });
  const rawStart = performance.now();
  await pool(bodies, CONCURRENCY, async (body) => void (await ipClient.create(body)));
  const raw = NICS / ((performance.now() - rawStart) / 1000);
  emit('baseline_raw_ipaddress_create_rate', raw, 'objects/s', { objects: NICS, concurrency: CONCURRENCY });

  {
    const { vms } = await networkWithVms(client, 'alloc', '10.1.0.0/22');
    const { manager, ctx } = await startOperator(kc, false);
    const { rate, granted } = await allocate(ctx, vms);
    emit('ensure_nics_allocations_per_second', rate, 'allocations/s', { nics: granted, concurrency: CONCURRENCY, ratio_to_raw: Math.round((rate / raw) * 100) / 100 });
    await manager.stop();
  }
  {
    // The records of the two runs above stand for no real consumer (the baseline's) or for VMs
    // no controller saw: left, the repair loop would write (and after its grace delete) 2000 of
    // them during this run. Removed first, so this run measures its own allocations' cost.
    const ipType = resourceTypeOf(IPAddress);
    await client.request('DELETE', `/apis/${ipType.group}/${ipType.version}/${ipType.plural}`);
    const { vms } = await networkWithVms(client, 'operator', '10.2.0.0/22');
    const { manager, ctx } = await startOperator(kc, true);
    await until('the earlier records gone from the cache', () => ctx.informers.ipAddresses.list().length === 0);
    await until('the Network controller to have seen the network', () => ctx.informers.networks.get({ namespace: NAMESPACE, name: 'operator' })?.status?.addressesAllocated === 0);
    const { rate, granted } = await allocate(ctx, vms);
    emit('ensure_nics_allocations_per_second_with_controllers', rate, 'allocations/s', { nics: granted, concurrency: CONCURRENCY, ratio_to_raw: Math.round((rate / raw) * 100) / 100 });
    await manager.stop();
  }
} finally {
  await plane.stop();
}
