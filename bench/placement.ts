/**
 * Benchmarks the deployment planner. Prints one JSON line per figure on stdout. For each size
 * (BENCH_HOSTS, default 500, 5000 and 10000 simulated hosts, 10 running VMs and 10 volumes
 * each, clusters of 16 hosts, pods of 10 clusters, one zone):
 * - the index: time to feed it every object, and the heap it takes;
 * - baseline: one bare pass over every host checking free CPU and memory, the least any
 *   planner that looks at every host does;
 * - decision time p50/p99 (planRequest + plan, the assumption of each decision counted before
 *   the next, as the VM controller does) for the default strategy (FirstFitPlanner, random
 *   hosts), FirstFitPlanner with firstfit hosts, UserDispersingPlanner with userdispersing
 *   hosts, and an unschedulable VM (every host examined, the message built);
 * - through a real apiserver started for the run: decisions per second, each a plan over that
 *   index, the claim (status.placement applied with the resourceVersion read, as the VM
 *   controller writes it) and the placement labels, against the baseline of the apiserver's
 *   raw status-update rate (the same status apply with no planning), at 1 and 8 in flight.
 *   The VMs are real objects; the hosts they are placed on live only in the index.
 */
import * as k8s from '@kubernetes/client-node';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createCapacityIndex, type CapacityIndex } from '../controllers/planner/capacity-index.ts';
import { plan } from '../controllers/planner/plan.ts';
import { planRequest } from '../controllers/planner/request.ts';
import { VirtualMachine, type VirtualMachineObject } from '../crds/index.ts';
import { startControlPlane } from '../lib/controlplane/index.ts';
import { LABEL_CLUSTER, LABEL_HOST, LABEL_POD, LABEL_ZONE } from '../lib/hierarchy-labels.ts';
import { installCrds, readCrdManifests } from '../lib/install-crds.ts';
import { createInformerFactory } from '../lib/informer.ts';
import { createKubeClient, resourceTypeOf, type ResourceClient } from '../lib/kube-client.ts';
import { log, setLogLevel } from '../lib/log.ts';
import { GiB, cluster, configuration, feedAll, host, offering, pod, pool, template, vm, volume, zone, type Objects } from '../test/support/planner-fixtures.ts';

const SIZES = (process.env['BENCH_HOSTS'] ?? '500,5000,10000').split(',').map(Number);
const DECISIONS = Number(process.env['BENCH_DECISIONS'] ?? 2000);
const CLAIMS = Number(process.env['BENCH_CLAIMS'] ?? 400);
const VMS_PER_HOST = 10;
const HOSTS_PER_CLUSTER = 16;
const CLUSTERS_PER_POD = 10;
const NAMESPACE = 'bench-placement';

function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: 'placement', figure, value: Math.round(value * 1000) / 1000, unit, ...extra })}\n`);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** The simulated zone: `hosts` hosts of 32 cores × 2000 MHz and 256 GiB, each with 10 running VMs and their root volumes. */
function world(hosts: number): Objects {
  const clusters = Math.ceil(hosts / HOSTS_PER_CLUSTER);
  const objects: Objects = {
    zones: [zone('z1')],
    pods: Array.from({ length: Math.ceil(clusters / CLUSTERS_PER_POD) }, (_, p) => pod(`p${p}`, 'z1')),
    clusters: Array.from({ length: clusters }, (_, c) => cluster(`c${c}`, `p${Math.floor(c / CLUSTERS_PER_POD)}`)),
    hosts: [],
    primaryStorages: [pool('zone-pool', 'z1', { capacity: 1024 * 1024 * GiB })],
    serviceOfferings: [offering('medium', { cpuNumber: 2, cpuSpeed: 2000, memory: '4Gi' })],
    templates: [template(NAMESPACE, 'tmpl', { zone: 'z1' })],
    configurations: [],
    vms: [],
    volumes: [],
  };
  for (let c = 0; c < clusters; c++) objects.primaryStorages!.push(pool(`c${c}-pool`, 'z1', { cluster: `c${c}`, capacity: 64 * 1024 * GiB }));
  for (let h = 0; h < hosts; h++) {
    const name = `h${h}`;
    objects.hosts!.push(host(name, `c${Math.floor(h / HOSTS_PER_CLUSTER)}`, { cores: 32, mhz: 2000, memory: 256 * GiB }));
    // Uneven load, so capacity orders differ: 4 to 13 VMs' worth on each host, 10 VMs.
    for (let v = 0; v < VMS_PER_HOST; v++) {
      // About 10 VMs per account, spread over hosts.
      const account = `acct-${(h * VMS_PER_HOST + v) % hosts}`;
      const name = `vm-${h}-${v}`;
      objects.vms!.push(vm(account, name, { host: `h${h}`, state: 'Running', offering: 'medium', cpuNumber: 1 + ((h + v) % 3) }));
      objects.volumes!.push(volume(account, `${name}-root`, { size: '20Gi', pool: `c${Math.floor(h / HOSTS_PER_CLUSTER)}-pool` }));
    }
  }
  return objects;
}

function heapUsed(): number {
  global.gc?.();
  return process.memoryUsage().heapUsed;
}

function buildIndex(hosts: number): { index: CapacityIndex; feedMs: number; heapBytes: number } {
  const objects = world(hosts);
  const before = heapUsed();
  const started = performance.now();
  const index = feedAll(createCapacityIndex(), objects);
  const feedMs = performance.now() - started;
  return { index, feedMs, heapBytes: heapUsed() - before };
}

/** The floor: one pass over every host's free CPU and memory. */
function scanBaseline(index: CapacityIndex, hosts: number, rounds: number): number[] {
  const times: number[] = [];
  const slots = Array.from({ length: hosts }, (_, h) => index.host(`h${h}`)!);
  for (let r = 0; r < rounds; r++) {
    const started = performance.now();
    const now = Date.now();
    let fits = 0;
    for (const slot of slots) {
      const load = index.hostLoad(slot, now);
      const capacity = slot.host!.status!.capacity!;
      if (capacity.cpuNumber * capacity.cpuSpeed - load.cpuMhz >= 2000 && capacity.memoryBytes - load.memoryBytes >= 4 * GiB) fits++;
    }
    times.push(performance.now() - started);
    if (fits < 0) throw new Error('unreachable');
  }
  return times;
}

let serial = 0;
let accounts = 1;
/** A new VM of one of the existing accounts, from the public template. */
function newVm(extra: { offering?: string; namespace?: string } = {}): VirtualMachineObject {
  const n = serial++;
  const made = vm(extra.namespace ?? `acct-${n % accounts}`, `new-${n}`, { offering: extra.offering ?? 'medium' });
  return { ...made, spec: { ...made.spec, templateRef: { name: 'tmpl', namespace: NAMESPACE } } };
}

/**
 * Times `count` decisions with `settings`, each decision assumed before the next: wall clock,
 * and the CPU time the process spent (which a loaded machine does not inflate by descheduling).
 */
function decisionTimes(index: CapacityIndex, settings: Record<string, string>, count: number, make: () => VirtualMachineObject, assume: boolean): { times: number[]; cpu: number[]; placed: number } {
  index.upsert('configurations', configuration(settings));
  const times: number[] = [];
  const cpu: number[] = [];
  let placed = 0;
  for (let n = 0; n < count; n++) {
    const v = make();
    const root = volume(v.metadata.namespace ?? '', `${v.metadata.name}-root`, { size: '20Gi' });
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    const request = planRequest(index, v, [root]);
    if ('scheduled' in request) throw new Error(request.message);
    const result = plan(index, request, { now: Date.now(), random: Math.random });
    const used = process.cpuUsage(cpuStarted);
    times.push(performance.now() - started);
    cpu.push((used.user + used.system) / 1000);
    if (result.scheduled && assume) {
      placed++;
      index.assumeVm(v, result.placement.host, result.demand);
      for (const x of result.volumes) index.assumeVolume(x.key, x.pool, x.bytes);
    }
  }
  return { times, cpu, placed };
}

function emitTimes(figure: string, times: number[], extra: Record<string, unknown>): void {
  emit(`${figure}_p50`, percentile(times, 50), 'ms', extra);
  emit(`${figure}_p99`, percentile(times, 99), 'ms', extra);
}

function emitDecisions(figure: string, d: { times: number[]; cpu: number[] }, extra: Record<string, unknown>): void {
  emitTimes(figure, d.times, extra);
  emitTimes(`${figure}_cpu`, d.cpu, extra);
}

async function inFlight<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
  return (performance.now() - started) / 1000;
}

type Vm = VirtualMachineObject;

async function createVms(client: ResourceClient<Vm>, prefix: string, count: number): Promise<Vm[]> {
  const made: Vm[] = [];
  await inFlight(
    Array.from({ length: count }, (_, n) => n),
    16,
    async (n) => {
      const v = newVm({ namespace: NAMESPACE });
      made.push(await client.create({ apiVersion: 'compute.kumulus.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: `${prefix}-${n}`, namespace: NAMESPACE }, spec: v.spec }));
    },
  );
  return made;
}

/** The claim as the VM controller writes it: status.placement and Scheduled, applied against the version read. */
function claimBody(v: Vm, placement: { zone: string; pod: string; cluster: string; host: string }): Partial<Vm> & Vm {
  return {
    apiVersion: v.apiVersion,
    kind: v.kind,
    metadata: { name: v.metadata.name, namespace: v.metadata.namespace, resourceVersion: v.metadata.resourceVersion },
    status: {
      placement,
      state: 'Starting',
      conditions: [{ type: 'Scheduled', status: 'True', reason: 'Placed', message: '', lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') }],
    },
  } as unknown as Vm;
}

setLogLevel('warn');
emit('machine_load_average', loadavg()[0] ?? 0, '1', { cpus: cpus().length });
const sizes: { hosts: number; index: CapacityIndex }[] = [];
for (const hosts of SIZES) {
  const { index, feedMs, heapBytes } = buildIndex(hosts);
  const extra = { hosts, vms: hosts * VMS_PER_HOST };
  emit('index_feed_time', feedMs, 'ms', extra);
  emit('index_heap', heapBytes / 2 ** 20, 'MiB', extra);
  emitTimes('baseline_scan_all_hosts', scanBaseline(index, hosts, 200), extra);
  accounts = hosts;
  const rounds = Math.min(DECISIONS, hosts * 2);
  const make = () => newVm();
  emitDecisions('decision', decisionTimes(index, {}, rounds, make, true), { ...extra, strategy: 'FirstFitPlanner/random', decisions: rounds });
  emitDecisions('decision', decisionTimes(index, { 'vm.allocation.algorithm': 'firstfit' }, rounds, make, true), { ...extra, strategy: 'FirstFitPlanner/firstfit', decisions: rounds });
  emitDecisions('decision', decisionTimes(index, { 'vm.deployment.planner': 'UserDispersingPlanner', 'vm.allocation.algorithm': 'userdispersing' }, rounds, make, true), {
    ...extra,
    strategy: 'UserDispersingPlanner/userdispersing',
    decisions: rounds,
  });
  index.upsert('serviceOfferings', offering('tagged', { cpuNumber: 2, cpuSpeed: 2000, memory: '4Gi', hostTags: ['nowhere'] }));
  emitDecisions('decision_unschedulable', decisionTimes(index, {}, 200, () => newVm({ offering: 'tagged' }), false), { ...extra, decisions: 200 });
  // The claims below start from a fresh index: the decisions above assumed their VMs onto this one.
  sizes.push({ hosts, index: buildIndex(hosts).index });
}

// Through the apiserver (BENCH_CLAIMS=0 skips it) -----------------------------------------------
const plane = CLAIMS > 0 ? await startControlPlane({ logger: log, readyTimeoutMs: 180_000 }) : undefined;
try {
  if (!plane) process.exit(0);
  const kc = new k8s.KubeConfig();
  kc.loadFromString(plane.kubeconfig);
  await installCrds(kc, await readCrdManifests(join(import.meta.dirname, '..', 'crds')), log);
  const client = createKubeClient(kc);
  await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: NAMESPACE } });
  const vms = client.resource<Vm>(resourceTypeOf(VirtualMachine));
  const factory = createInformerFactory(client, log);
  const informer = factory.informer<Vm>(resourceTypeOf(VirtualMachine), { namespace: NAMESPACE });
  let feeding: CapacityIndex | undefined;
  informer.addHandler({ onAdd: (o) => feeding?.upsert('vms', o), onUpdate: (_, o) => feeding?.upsert('vms', o), onDelete: (o) => feeding?.remove('vms', o) });
  factory.start();
  await informer.waitForSync();

  for (const concurrency of [1, 8]) {
    const raw = await createVms(vms, `raw-c${concurrency}`, CLAIMS);
    const rawSeconds = await inFlight(raw, concurrency, async (v) => {
      await vms.applyStatus(claimBody(v, { zone: 'z1', pod: 'p0', cluster: 'c0', host: 'h0' }), { fieldManager: 'kumulus-operator', force: true });
    });
    emit('baseline_raw_status_updates_per_second', CLAIMS / rawSeconds, '1/s', { concurrency, writes: CLAIMS });

    for (const { hosts, index } of sizes) {
      feeding = index;
      const batch = await createVms(vms, `claim-h${hosts}-c${concurrency}`, CLAIMS);
      const times: number[] = [];
      const seconds = await inFlight(batch, concurrency, async (v) => {
        const started = performance.now();
        const request = planRequest(index, v, []);
        if ('scheduled' in request) throw new Error(request.message);
        const result = plan(index, request, { now: Date.now(), random: Math.random });
        if (!result.scheduled) throw new Error(result.message);
        index.assumeVm(v, result.placement.host, result.demand);
        try {
          await vms.applyStatus(claimBody(v, result.placement), { fieldManager: 'kumulus-operator', force: true });
        } catch (err) {
          index.forgetVm(v.metadata.uid ?? '', informer.get({ namespace: NAMESPACE, name: v.metadata.name ?? '' }));
          throw err;
        }
        const p = result.placement;
        await vms.patch({ namespace: NAMESPACE, name: v.metadata.name ?? '' }, { metadata: { labels: { [LABEL_ZONE]: p.zone, [LABEL_POD]: p.pod, [LABEL_CLUSTER]: p.cluster, [LABEL_HOST]: p.host } } }, 'merge', {
          fieldManager: 'kumulus-operator',
        });
        times.push(performance.now() - started);
      });
      emit('decisions_per_second', CLAIMS / seconds, '1/s', { hosts, concurrency, decisions: CLAIMS, writesPerDecision: 2 });
      emitTimes('decision_with_claim', times, { hosts, concurrency });
    }
  }
  factory.stop();
} finally {
  await plane?.stop();
}
