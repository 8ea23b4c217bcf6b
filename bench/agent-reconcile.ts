/**
 * Benchmarks the agent end to end: a VirtualMachine object placed on the agent's host (label
 * and status.placement written) until its domain runs on KVM, through the real control plane,
 * the agent's informers and reconcilers, the storage driver and libvirt (guest boot excluded).
 * Prints one JSON line per figure on stdout:
 * - baseline: raw `virsh define` + `virsh start` of an equivalent domain, measured in this run;
 * - template first fill: the first VM, whose placement also fills the pool's template cache;
 * - placed_to_domain_running p50/p95 over BENCH_VMS (default 20) VMs, one after another,
 *   each deleted (untimed) before the next, and placed_to_status_running (the agent's report:
 *   the Running condition). The bench plays the operator: it writes each Volume's status.pool.
 * - agent RSS with BENCH_SIMULATED (default 200) VMs running on the simulator hypervisor,
 *   through the same reconcilers (real disks, no guests), against the same process with the
 *   simulator agent joined and idle (run with --expose-gc for a settled heap).
 * Uses the host's libvirtd when one answers on qemu:///system, else a private one.
 */
import * as k8s from '@kubernetes/client-node';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { HOST_LEASE_NAMESPACE } from '../lib/agent-contract.ts';
import { startControlPlane } from '../lib/controlplane/index.ts';
import { installCrds, readCrdManifests } from '../lib/install-crds.ts';
import { createKubeClient, isNotFound, type KubeObject } from '../lib/kube-client.ts';
import { log, setLogLevel } from '../lib/log.ts';
import { commandRunner } from '../node-daemon/drivers/exec.ts';
import { renderDomainXml } from '../node-daemon/drivers/hypervisor/domain-xml.ts';
import { libvirtDriver } from '../node-daemon/drivers/hypervisor/libvirt.ts';
import { domainName } from '../node-daemon/drivers/identity.ts';
import { libvirtAnswers, startLocalLibvirtd } from '../node-daemon/local-libvirtd.ts';
import { runAgent } from '../node-daemon/main.ts';
import { RESOURCES } from '../node-daemon/resources.ts';
import { ensureGuestTemplate } from '../node-daemon/guest-template/build.ts';

const VMS = Number(process.env['BENCH_VMS'] ?? 20);
const SIMULATED = Number(process.env['BENCH_SIMULATED'] ?? 200);
const repoRoot = resolve(import.meta.dirname, '..');
type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> & { conditions?: { type: string; status: string }[] } };

/** What the agent reports of a running domain: the Running condition (the operator derives state from it). */
const isRunning = (vm: Obj) => vm.status?.conditions?.some((c) => c.type === 'Running' && c.status === 'True') ?? false;

function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: 'agent-reconcile', figure, value: Math.round(value * 100) / 100, unit, ...extra })}\n`);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, pollMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

setLogLevel('warn');
const logger = log.child({ bench: 'agent-reconcile' });
const dir = await mkdtemp('/var/tmp/kumulus-bench-rec-');
await chmod(dir, 0o755);
const plane = await startControlPlane({ logger, readyTimeoutMs: 180_000 });
const undo: (() => Promise<unknown>)[] = [() => plane.stop(), () => rm(dir, { recursive: true, force: true })];
try {
  let uri = 'qemu:///system';
  if (!(await libvirtAnswers(uri))) {
    const daemon = await startLocalLibvirtd(join(dir, 'libvirtd'), logger);
    uri = daemon.uri;
    undo.unshift(() => daemon.stop());
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromString(plane.kubeconfig);
  await installCrds(kc, await readCrdManifests(join(repoRoot, 'crds')), logger);
  const client = createKubeClient(kc);
  const res = (kind: keyof typeof RESOURCES) => client.resource<Obj>(RESOURCES[kind]);
  const ns = 'bench';
  for (const name of [HOST_LEASE_NAMESPACE, ns]) await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name } });
  const node = 'bench-node';
  const guest = await ensureGuestTemplate({ logger });
  await res('zones').create({ metadata: { name: 'z' }, spec: { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '192.168.100.2' } });
  await res('pods').create({ metadata: { name: 'p' }, spec: { zoneRef: { name: 'z' }, gateway: '192.168.100.1', netmask: '255.255.255.0', startIp: '192.168.100.10' } });
  // CPU overcommitted as far as a cluster may be, so the agent's admission takes the simulated VMs on one host.
  await res('clusters').create({ metadata: { name: 'c' }, spec: { podRef: { name: 'p' }, hypervisor: 'KVM', cpuOvercommitRatio: 16 } });
  await res('primaryStorages').create({ metadata: { name: 'local' }, spec: { zoneRef: { name: 'z' }, scope: 'Host', hostRef: { name: node }, protocol: 'Local', path: join(dir, 'pool') } });
  await res('secondaryStorages').create({ metadata: { name: 'images' }, spec: { zoneRef: { name: 'z' }, provider: 'Local', url: `file://${join(dir, 'secondary')}` } });
  await res('serviceOfferings').create({ metadata: { name: 'tiny' }, spec: { cpuNumber: 1, cpuSpeed: 500, memory: '64Mi' } });
  await res('serviceOfferings').create({ metadata: { name: 'sim' }, spec: { cpuNumber: 1, cpuSpeed: 100, memory: '64Mi' } });
  await res('templates').create({
    metadata: { name: 'tiny', namespace: ns },
    spec: { url: `file://${guest.path}`, format: 'QCOW2', checksum: `{SHA-256}${guest.sha256}`, zoneRefs: [{ name: 'z' }] },
  });

  // Baseline, same run, same libvirt: an equivalent domain defined and started by hand.
  const run = commandRunner();
  const hypervisor = libvirtDriver({ uri, domainType: 'kvm', logger });
  const raw: number[] = [];
  for (let i = 0; i < VMS; i++) {
    const uid = randomUUID();
    const disk = join(dir, `raw-${uid}.qcow2`);
    await run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', guest.path, '-F', 'qcow2', disk, '1G']);
    const file = join(dir, `${uid}.xml`);
    const spec = { uid, vcpus: 1, memoryMiB: 64, disks: [{ path: disk, format: 'qcow2' as const, volumeUid: uid, deviceId: 0 }], nics: [], serialLogPath: join(dir, `${uid}.log`) };
    await writeFile(file, renderDomainXml(spec, { type: 'kvm' }).xml);
    const t0 = performance.now();
    await run(['virsh', '-q', '-c', uri, 'define', file]);
    await run(['virsh', '-q', '-c', uri, 'start', domainName(uid)]);
    raw.push(performance.now() - t0);
    await hypervisor.undefine(uid);
  }
  emit('raw_virsh_define_start_p50', percentile(raw, 50), 'ms', { n: VMS, baseline: true });
  emit('raw_virsh_define_start_p95', percentile(raw, 95), 'ms', { n: VMS, baseline: true });

  const agent = await runAgent({
    kubeConfig: kc,
    handleSignals: false,
    env: { NODE_NAME: node },
    args: ['--http-bind-address=127.0.0.1:0', `--libvirt-uri=${uri}`, '--domain-type=kvm', `--state-dir=${join(dir, 'agent')}`, '--cluster=c', '--shutdown-timeout=1s', '--log-level=warn'],
  });
  undo.unshift(() => agent.stop());
  await agent.joined;
  await until('the pool to be mounted', 30_000, async () => ((await res('primaryStorages').get({ name: 'local' })).status?.mounts as { mounted: boolean }[] | undefined)?.[0]?.mounted || undefined, 200);

  const toDomain: number[] = [];
  const toStatus: number[] = [];
  for (let i = 0; i <= VMS; i++) {
    const name = `vm-${i}`;
    const vm = await res('vms').create({
      metadata: { name, namespace: ns },
      spec: { zoneRef: { name: 'z' }, serviceOfferingRef: { name: 'tiny' }, templateRef: { name: 'tiny', namespace: ns }, state: 'Running' },
    });
    const uid = vm.metadata.uid ?? '';
    await res('volumes').create({
      metadata: { name: `${name}-root`, namespace: ns, labels: { 'kumulus.io/host': node }, ownerReferences: [{ apiVersion: vm.apiVersion ?? '', kind: 'VirtualMachine', name, uid, controller: true, blockOwnerDeletion: true }] },
      spec: { type: 'ROOT', zoneRef: { name: 'z' }, templateRef: { name: 'tiny', namespace: ns }, vmRef: { name }, deviceId: 0, size: '1Gi' },
    });
    // The operator's choice of pool, then its placement: the label the agent selects on, then status.placement.
    await res('volumes').patchStatus({ name: `${name}-root`, namespace: ns }, { status: { pool: 'local' } });
    const t0 = performance.now();
    await res('vms').patch({ name, namespace: ns }, { metadata: { labels: { 'kumulus.io/host': node } } });
    await res('vms').patchStatus({ name, namespace: ns }, { status: { placement: { zone: 'z', pod: 'p', cluster: 'c', host: node } } });
    await until(`${name}'s domain to run`, 120_000, async () => ((await hypervisor.observe(uid).catch(() => undefined))?.state === 'running' ? true : undefined));
    const domainMs = performance.now() - t0;
    await until(`${name}'s status to say Running`, 60_000, async () => (isRunning(await res('vms').get({ name, namespace: ns })) ? true : undefined));
    const statusMs = performance.now() - t0;
    if (i === 0) emit('first_vm_placed_to_domain_running_with_template_fill', domainMs, 'ms', { domainType: 'kvm' });
    else {
      toDomain.push(domainMs);
      toStatus.push(statusMs);
    }
    await res('vms').delete({ name, namespace: ns }, { propagationPolicy: 'Background' });
    await until(`${name} to go`, 60_000, async () => res('vms').get({ name, namespace: ns }).then(() => undefined, (err: unknown) => (isNotFound(err) ? true : undefined)), 100);
  }
  const extra = { n: VMS, domainType: 'kvm', guestBoot: 'excluded', templateCache: 'warm' };
  emit('placed_to_domain_running_p50', percentile(toDomain, 50), 'ms', extra);
  emit('placed_to_domain_running_p95', percentile(toDomain, 95), 'ms', extra);
  emit('placed_to_status_running_p50', percentile(toStatus, 50), 'ms', extra);
  emit('placed_to_status_running_p95', percentile(toStatus, 95), 'ms', extra);
  await agent.stop();

  // The simulator: the same agent and reconcilers with no guests, for the agent's own footprint.
  const simNode = 'sim-node';
  await res('primaryStorages').create({ metadata: { name: 'sim-local' }, spec: { zoneRef: { name: 'z' }, scope: 'Host', hostRef: { name: simNode }, protocol: 'Local', path: join(dir, 'sim-pool') } });
  const sim = await runAgent({
    kubeConfig: kc,
    handleSignals: false,
    env: { NODE_NAME: simNode },
    args: ['--http-bind-address=127.0.0.1:0', '--hypervisor=simulator', `--state-dir=${join(dir, 'sim-agent')}`, '--cluster=c', '--log-level=warn', '--max-concurrent-reconciles=4'],
  });
  undo.unshift(() => sim.stop());
  await sim.joined;
  await until('the simulator pool to be mounted', 30_000, async () => ((await res('primaryStorages').get({ name: 'sim-local' })).status?.mounts as { mounted: boolean }[] | undefined)?.[0]?.mounted || undefined, 200);
  const settle = async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    for (let i = 0; i < 3; i++) {
      gc?.();
      await sleep(200);
    }
    return process.memoryUsage().rss;
  };
  const idle = await settle();
  const t0 = performance.now();
  for (let i = 0; i < SIMULATED; i++) {
    const name = `sim-${i}`;
    const labels = { 'kumulus.io/host': simNode };
    const vm = await res('vms').create({
      metadata: { name, namespace: ns, labels },
      spec: { zoneRef: { name: 'z' }, serviceOfferingRef: { name: 'sim' }, templateRef: { name: 'tiny', namespace: ns }, state: 'Running' },
    });
    await res('vms').patchStatus({ name, namespace: ns }, { status: { placement: { zone: 'z', pod: 'p', cluster: 'c', host: simNode } } });
    await res('volumes').create({
      metadata: { name: `${name}-root`, namespace: ns, labels, ownerReferences: [{ apiVersion: vm.apiVersion ?? '', kind: 'VirtualMachine', name, uid: vm.metadata.uid ?? '', controller: true }] },
      spec: { type: 'ROOT', zoneRef: { name: 'z' }, templateRef: { name: 'tiny', namespace: ns }, vmRef: { name }, deviceId: 0, size: '1Gi' },
    });
    await res('volumes').patchStatus({ name: `${name}-root`, namespace: ns }, { status: { pool: 'sim-local' } });
  }
  await until(`${SIMULATED} simulated VMs to be Running`, 600_000, async () => {
    const vms = await res('vms').list({ namespace: ns, labelSelector: `kumulus.io/host=${simNode}` });
    return vms.items.filter(isRunning).length === SIMULATED ? true : undefined;
  }, 1000);
  const allRunningMs = performance.now() - t0;
  const loaded = await settle();
  emit('simulator_agent_rss_idle', idle / 2 ** 20, 'MiB', { domains: 0, baseline: true, process: 'bench + agent' });
  emit('simulator_agent_rss', loaded / 2 ** 20, 'MiB', { domains: SIMULATED, process: 'bench + agent' });
  emit('simulator_agent_rss_per_vm', (loaded - idle) / SIMULATED / 2 ** 10, 'KiB', { domains: SIMULATED });
  emit('simulator_place_to_running_all', allRunningMs, 'ms', { domains: SIMULATED });
} finally {
  for (const step of undo) await step().catch((err: unknown) => logger.error('bench cleanup failed', { error: String(err) }));
}
