/**
 * The whole compute pipeline on real KVM: a VM object created through the apiserver (with the
 * admission webhooks), placed and given its volumes by the operator, its disk made and its
 * domain defined and started by the agent on libvirt. Prints one JSON line per figure:
 *
 * - vm_create_to_domain_running p50/p95 over BENCH_VMS (20) VMs created one after another:
 *   from the create request to libvirt's Started event for the VM's domain (guest boot
 *   excluded: the root disk is a blank template);
 * - baseline: `virsh define` + `virsh start` of the very same domains (their XML as the agent
 *   defined them), after the pipeline has let go of them;
 * - apiserver writes per VM from create to Ready Running, counted from the apiserver's own
 *   apiserver_request_total (POST, PUT, PATCH, APPLY, DELETE): on the VirtualMachine object
 *   (its status included), and all writes (volumes, events, leases...) with a breakdown.
 *
 * Run under the host lock: `flock /tmp/kumulus-host.lock npx node bench/vm-pipeline.ts`.
 * BENCH_DOMAIN_TYPE (default kvm) is the agent's --domain-type, named on every line. On a host
 * whose KVM cannot run a guest's firmware at speed (PVM: SeaBIOS runs in KVM's instruction
 * emulator, ~4.5 CPU-s per power-on), `qemu` measures the same pipeline with the domain type the
 * agent picks there by default.
 * Uses the host's libvirtd when one answers on qemu:///system, else a private one. Whatever
 * happens (a failure midway, Ctrl-C, SIGTERM), the domains it made are destroyed and undefined
 * and its files removed before it exits.
 */
import * as k8s from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { runOperator } from '../controllers/operator.ts';
import { kindByName } from '../crds/index.ts';
import { startControlPlane } from '../lib/controlplane/index.ts';
import { installCrds, readCrdManifests } from '../lib/install-crds.ts';
import { createKubeClient, resourceTypeOf, type KubeObject } from '../lib/kube-client.ts';
import { log, setLogLevel } from '../lib/log.ts';
import { commandRunner } from '../node-daemon/drivers/exec.ts';
import { libvirtDriver } from '../node-daemon/drivers/hypervisor/libvirt.ts';
import { domainName } from '../node-daemon/drivers/identity.ts';
import { libvirtAnswers, startLocalLibvirtd } from '../node-daemon/local-libvirtd.ts';
import { runAgent } from '../node-daemon/main.ts';
import { runWebhooks } from '../webhooks/main.ts';

const VMS = Number(process.env['BENCH_VMS'] ?? 20);
const DOMAIN_TYPE = process.env['BENCH_DOMAIN_TYPE'] ?? 'kvm';
const repoRoot = resolve(import.meta.dirname, '..');
const exec = promisify(execFile);

type Obj = KubeObject & { spec?: Record<string, unknown>; status?: { state?: string; conditions?: { type: string; status: string; observedGeneration?: number }[] } };

function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: 'vm-pipeline', figure, value: Math.round(value * 100) / 100, unit, domainType: DOMAIN_TYPE, ...extra })}\n`);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE']);

/** apiserver_request_total's write counts, by resource (with subresource). */
async function writeCounts(kubeconfig: string): Promise<Map<string, number>> {
  const { stdout } = await exec('kubectl', ['--kubeconfig', kubeconfig, 'get', '--raw', '/metrics'], { maxBuffer: 64 * 2 ** 20 });
  const counts = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels: Record<string, string> = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']));
    if (!WRITE_VERBS.has(labels['verb'] ?? '')) continue;
    const key = `${labels['resource']}${labels['subresource'] ? `/${labels['subresource']}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

function difference(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of after) if (value - (before.get(key) ?? 0) > 0) out.set(key, value - (before.get(key) ?? 0));
  return out;
}

/**
 * A detached watchdog (its own session: the signal Ctrl-C or timeout(1) sends to the whole
 * process group does not reach it). Once this process is gone, however it ended (SIGKILL
 * included), it kills what still runs with the run's directory in its command line (the QEMU
 * of a domain whose disks are there, the private libvirtd and its virsh clients) and removes
 * the directory. The cleanup in main() does it properly first; this is for what it could not
 * do: that same group signal stops the private libvirtd, whose domains then stay.
 */
function watchOver(dir: string): void {
  const script = `
    const { readdirSync, readFileSync, rmSync } = require('node:fs');
    const [parent, dir] = process.argv.slice(1);
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (err) { return err.code === 'EPERM'; } };
    const holders = () => readdirSync('/proc').filter((e) => /^[0-9]+$/.test(e) && Number(e) !== process.pid).filter((e) => {
      try { return readFileSync('/proc/' + e + '/cmdline', 'latin1').includes(dir); } catch { return false; }
    });
    const timer = setInterval(() => {
      if (alive(Number(parent))) return;
      clearInterval(timer);
      for (const pid of holders()) { try { process.kill(Number(pid), 'SIGKILL'); } catch {} }
      setTimeout(() => rmSync(dir, { recursive: true, force: true }), 1000);
    }, 1000);`;
  spawn(process.execPath, ['--input-type=commonjs', '-e', script, String(process.pid), dir], { detached: true, stdio: 'ignore' }).unref();
}

async function main(): Promise<void> {
  setLogLevel('warn');
  const logger = log.child({ bench: 'vm-pipeline' });
  const dir = await mkdtemp('/var/tmp/kumulus-bench-pipeline-');
  watchOver(dir);
  await chmod(dir, 0o755);
  // Run newest first: at the end, or at once on a signal (and then each one registered later as
  // soon as it is, while the run unwinds: the waits below give up when interrupted).
  const cleanups: (() => Promise<unknown>)[] = [() => rm(dir, { recursive: true, force: true })];
  let cleaning = Promise.resolve();
  const cleanUp = () =>
    (cleaning = cleaning.then(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup().catch((err: unknown) => logger.warn('cleanup failed', { error: String(err) }));
    }));
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.exitCode = 130;
    logger.warn('interrupted: cleaning up (a second signal exits at once)', { signal });
    void cleanUp();
  };
  const defer = (cleanup: () => Promise<unknown>) => {
    cleanups.unshift(cleanup);
    if (interrupted) void cleanUp();
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const run = commandRunner();
  try {
    const plane = await startControlPlane({ logger, readyTimeoutMs: 120_000 });
    defer(() => plane.stop());
    const kc = new k8s.KubeConfig();
    kc.loadFromString(plane.kubeconfig);
    await installCrds(kc, await readCrdManifests(join(repoRoot, 'crds')), logger);
    const client = createKubeClient(kc);
    const res = (kind: string) => client.resource<Obj>(resourceTypeOf(kindByName(kind)!));

    let uri = 'qemu:///system';
    if (!(await libvirtAnswers(uri))) {
      const daemon = await startLocalLibvirtd(join(dir, 'libvirtd'), logger);
      uri = daemon.uri;
      defer(() => daemon.stop());
    }
    const virsh = (...args: string[]) => run(['virsh', '-q', '-c', uri, ...args]);

    const webhooks = await runWebhooks({ kubeConfig: kc, args: ['--webhook-bind-address=127.0.0.1:0', '--log-level=warn'], handleSignals: false });
    defer(() => webhooks.stop({ unregister: true }));
    const operator = await runOperator({ kubeConfig: kc, args: ['--http-bind-address=127.0.0.1:0', '--leader-elect=false', '--log-level=warn'], handleSignals: false });
    defer(() => operator.stop());

    // The cloud: one KVM host (this machine) with a Local pool and secondary storage, a small offering and a blank template.
    const node = 'bench-node';
    await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: 'bench' } });
    const create = (kind: string, name: string, spec: Record<string, unknown>) =>
      res(kind).create({ metadata: { name, ...(kindByName(kind)!.scope === 'Namespaced' ? { namespace: 'bench' } : {}) }, spec });
    await create('Zone', 'zone1', { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '192.168.100.2', allocationState: 'Enabled' });
    await create('Pod', 'pod1', { zoneRef: { name: 'zone1' }, gateway: '192.168.100.1', netmask: '255.255.255.0', startIp: '192.168.100.10' });
    await create('Cluster', 'cluster1', { podRef: { name: 'pod1' }, hypervisor: 'KVM', cpuOvercommitRatio: 4 });
    await create('SecondaryStorage', 'images', { zoneRef: { name: 'zone1' }, provider: 'Local', url: `file://${join(dir, 'secondary')}` });
    await create('ServiceOffering', 'tiny', { cpuNumber: 1, cpuSpeed: 100, memory: '64Mi', storageType: 'local' });
    const image = join(dir, 'blank.qcow2');
    await run(['qemu-img', 'create', '-q', '-f', 'qcow2', image, '64M']);
    const checksum = createHash('sha256').update(await readFile(image)).digest('hex');
    await create('Template', 'blank', { url: `file://${image}`, format: 'QCOW2', checksum: `{SHA-256}${checksum}`, zoneRefs: [{ name: 'zone1' }] });

    const agent = await runAgent({
      kubeConfig: kc,
      handleSignals: false,
      args: ['--http-bind-address=127.0.0.1:0', `--libvirt-uri=${uri}`, `--domain-type=${DOMAIN_TYPE}`, `--state-dir=${join(dir, 'agent')}`, '--cluster=cluster1', '--log-level=warn'],
      env: { NODE_NAME: node },
    });
    defer(() => agent.stop());
    await agent.joined;
    // A host-scoped pool names its host, which exists once the agent has joined.
    await create('PrimaryStorage', 'local', { zoneRef: { name: 'zone1' }, scope: 'Host', hostRef: { name: node }, protocol: 'Local', path: join(dir, 'pool') });
    const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await check())) {
        if (interrupted) throw new Error(`interrupted while waiting for ${what}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await until('the host and its pool to be Up', async () => (await res('Host').get({ name: node })).status?.state === 'Up' && (await res('PrimaryStorage').get({ name: 'local' })).status?.state === 'Up');

    // libvirt tells when each domain starts.
    const started = new Map<string, number>();
    const hypervisor = libvirtDriver({ uri, domainType: 'kvm', logger });
    // Every domain the run makes, the agent's or the baseline's: destroyed and undefined at the
    // end, once the agent (which would start them again) has stopped.
    const uids: string[] = [];
    defer(async () => {
      await agent.stop();
      await operator.stop();
      for (const uid of uids) await hypervisor.undefine(uid).catch((err: unknown) => logger.warn('a domain could not be undefined', { uid, error: String(err) }));
    });
    const events = hypervisor.followEvents((event) => {
      if (event.type === 'lifecycle' && event.detail.startsWith('Started') && !started.has(event.uid)) started.set(event.uid, performance.now());
    });
    defer(() => events.stop());

    const vm = (name: string) => ({ metadata: { name, namespace: 'bench' }, spec: { zoneRef: { name: 'zone1' }, serviceOfferingRef: { name: 'tiny' }, templateRef: { name: 'blank' }, rootDiskSize: '1Gi' } });
    const ready = (o: Obj) => o.status?.state === 'Running' && o.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

    // A first VM fills the pool's template cache: the figures are about placing a VM, not the first copy.
    uids.push((await res('VirtualMachine').create(vm('warm'))).metadata.uid ?? '');
    await until('the warm-up VM to run', async () => ready(await res('VirtualMachine').get({ name: 'warm', namespace: 'bench' })));

    const latencies: number[] = [];
    const vmWrites: number[] = [];
    const allWrites: number[] = [];
    const breakdown = new Map<string, number>();
    const measured: string[] = [];
    for (let i = 0; i < VMS; i++) {
      const name = `vm-${i}`;
      const before = await writeCounts(plane.kubeconfigPath);
      const t0 = performance.now();
      const created = await res('VirtualMachine').create(vm(name));
      const uid = created.metadata.uid ?? '';
      uids.push(uid);
      measured.push(uid);
      await until(`libvirt to start ${name}`, () => Promise.resolve(started.has(uid)));
      latencies.push(started.get(uid)! - t0);
      await until(`${name} to be Ready`, async () => ready(await res('VirtualMachine').get({ name, namespace: 'bench' })));
      // What the last writes of a settled VM leave behind (events' series) lands within a second.
      await new Promise((r) => setTimeout(r, 1000));
      const writes = difference(await writeCounts(plane.kubeconfigPath), before);
      vmWrites.push((writes.get('virtualmachines') ?? 0) + (writes.get('virtualmachines/status') ?? 0));
      allWrites.push([...writes.values()].reduce((a, b) => a + b, 0));
      for (const [key, n] of writes) breakdown.set(key, (breakdown.get(key) ?? 0) + n);
    }
    emit('vm_create_to_domain_running_p50', percentile(latencies, 50), 'ms', { n: VMS, guestBoot: 'excluded' });
    emit('vm_create_to_domain_running_p95', percentile(latencies, 95), 'ms', { n: VMS, guestBoot: 'excluded' });
    emit('apiserver_writes_per_vm_vm_object', percentile(vmWrites, 50), 'writes', { p95: percentile(vmWrites, 95), max: Math.max(...vmWrites), n: VMS, target: 6 });
    emit('apiserver_writes_per_vm_all', percentile(allWrites, 50), 'writes', {
      p95: percentile(allWrites, 95),
      n: VMS,
      perVmByResource: Object.fromEntries([...breakdown].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round((v / VMS) * 10) / 10])),
    });

    // Baseline: the same domains, as the agent defined them, by hand.
    await agent.stop();
    await operator.stop();
    const raw: number[] = [];
    for (const uid of measured) {
      const xml = (await virsh('dumpxml', domainName(uid))).stdout;
      const file = join(dir, `${uid}.xml`);
      await writeFile(file, xml);
      await hypervisor.undefine(uid);
      const t0 = performance.now();
      await virsh('define', file);
      await virsh('start', domainName(uid));
      raw.push(performance.now() - t0);
    }
    emit('raw_virsh_define_start_p50', percentile(raw, 50), 'ms', { n: VMS, baseline: true });
    emit('raw_virsh_define_start_p95', percentile(raw, 95), 'ms', { n: VMS, baseline: true });
    emit('pipeline_over_baseline_p95', percentile(latencies, 95) / percentile(raw, 95), 'ratio', { target: 2 });
  } finally {
    await cleanUp();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

await main();
