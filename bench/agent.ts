/**
 * Benchmarks the agent's drivers. Prints one JSON line per figure on stdout:
 * - baseline: raw `virsh define` + `virsh start` of an equivalent domain, p50/p95 over 20;
 * - apply-to-running on real KVM: root volume from the cached template, domain XML rendered,
 *   defined and started, until libvirt reports it running (guest boot excluded), p50/p95
 *   over 20 VMs, applied one after another (each is destroyed before the next);
 * - RSS of a driver process holding 200 simulated domains (with an event subscription and a
 *   stats pass), against the same process before it creates any.
 * Uses the host's libvirtd when one answers on qemu:///system, else a private one.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { log, setLogLevel } from '../lib/log.ts';
import { commandRunner } from '../node-daemon/drivers/exec.ts';
import { renderDomainXml } from '../node-daemon/drivers/hypervisor/domain-xml.ts';
import { libvirtDriver } from '../node-daemon/drivers/hypervisor/libvirt.ts';
import { simulatorDriver } from '../node-daemon/drivers/hypervisor/simulator.ts';
import type { DomainSpec } from '../node-daemon/drivers/hypervisor/types.ts';
import { domainName } from '../node-daemon/drivers/identity.ts';
import { fileStorageDriver } from '../node-daemon/drivers/storage/driver.ts';
import type { PoolSpec, TemplateSource } from '../node-daemon/drivers/storage/types.ts';
import { libvirtAnswers, startLocalLibvirtd } from '../node-daemon/local-libvirtd.ts';
import { ensureGuestTemplate } from '../node-daemon/guest-template/build.ts';

const VMS = Number(process.env['BENCH_VMS'] ?? 20);
const SIMULATED = Number(process.env['BENCH_SIMULATED'] ?? 200);

function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: 'agent', figure, value: Math.round(value * 100) / 100, unit, ...extra })}\n`);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function spec(dir: string, uid: string, disk: string): DomainSpec {
  return {
    uid,
    vcpus: 1,
    memoryMiB: 64,
    disks: [{ path: disk, format: 'qcow2', volumeUid: uid, deviceId: 0 }],
    nics: [],
    serialLogPath: join(dir, `${uid}.log`),
  };
}

async function simulatedChild(): Promise<void> {
  const driver = simulatorDriver();
  const events: unknown[] = [];
  const subscription = driver.followEvents((e) => events.push(e));
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  for (let i = 0; i < SIMULATED; i++) {
    const uid = randomUUID();
    await driver.define({
      uid,
      vcpus: 2,
      memoryMiB: 2048,
      disks: [{ path: `/var/lib/kumulus/pools/p/${randomUUID()}.qcow2`, format: 'qcow2', volumeUid: randomUUID(), deviceId: 0 }],
      nics: [{ mac: '02:00:00:00:00:01', bridge: 'kbx1001', mtu: 1450 }],
      serialLogPath: '/var/log/kumulus/serial.log',
    });
    await driver.start(uid);
  }
  const stats = await driver.stats();
  global.gc?.();
  process.stdout.write(`${JSON.stringify({ baseline, rss: process.memoryUsage().rss, domains: stats.length, events: events.length })}\n`);
  await subscription.stop();
}

async function simulatedRss(): Promise<void> {
  const child = spawn(process.execPath, ['--expose-gc', import.meta.filename, '--simulated-child'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((resolve) => child.on('exit', resolve));
  const result = JSON.parse(out) as { baseline: number; rss: number; domains: number; events: number };
  emit('simulator_process_rss_baseline', result.baseline / 2 ** 20, 'MiB', { domains: 0 });
  emit('simulator_process_rss', result.rss / 2 ** 20, 'MiB', { domains: result.domains, events: result.events });
}

async function kvm(): Promise<void> {
  const logger = log.child({ bench: 'agent' });
  const dir = await mkdtemp('/var/tmp/kumulus-bench-');
  await chmod(dir, 0o755);
  let stopLibvirtd = async (): Promise<void> => {};
  let uri = 'qemu:///system';
  if (!(await libvirtAnswers(uri))) {
    const daemon = await startLocalLibvirtd(join(dir, 'libvirtd'), logger);
    uri = daemon.uri;
    stopLibvirtd = daemon.stop;
  }
  const run = commandRunner();
  const virsh = (...args: string[]) => run(['virsh', '-q', '-c', uri, ...args]);
  const hypervisor = libvirtDriver({ uri, domainType: 'kvm', logger });
  const created: string[] = [];
  try {
    const guest = await ensureGuestTemplate({ logger });
    const storage = fileStorageDriver({ hostName: 'bench', logger });
    const pool: PoolSpec = { type: 'Local', uid: randomUUID(), path: join(dir, 'pool') };
    await storage.applyPool(pool);
    const template: TemplateSource = { uid: randomUUID(), format: 'qcow2', checksum: `{SHA-256}${guest.sha256}`, url: `file://${guest.path}` };
    // Fill the cache first: the figure is about placing a VM, not the first download.
    const templatePath = await storage.ensureTemplate(pool, template);

    const raw: number[] = [];
    for (let i = 0; i < VMS; i++) {
      const uid = randomUUID();
      created.push(uid);
      const disk = join(dir, `raw-${uid}.qcow2`);
      await run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', templatePath, '-F', 'qcow2', disk, '64M']);
      const file = join(dir, `${uid}.xml`);
      await writeFile(file, renderDomainXml(spec(dir, uid, disk), { type: hypervisor.domainType }).xml);
      const t0 = performance.now();
      await virsh('define', file);
      await virsh('start', domainName(uid));
      raw.push(performance.now() - t0);
      await hypervisor.undefine(uid);
    }
    emit('raw_virsh_define_start_p50', percentile(raw, 50), 'ms', { n: VMS, baseline: true });
    emit('raw_virsh_define_start_p95', percentile(raw, 95), 'ms', { n: VMS, baseline: true });

    const applied: number[] = [];
    for (let i = 0; i < VMS; i++) {
      const uid = randomUUID();
      created.push(uid);
      const t0 = performance.now();
      await storage.applyVolume(pool, { kind: 'root', uid, template, sizeBytes: 64 * 1024 * 1024 });
      const s = spec(dir, uid, join(pool.path, `${uid}.qcow2`));
      await hypervisor.define(s);
      await hypervisor.start(uid);
      const state = (await hypervisor.observe(uid))?.state;
      applied.push(performance.now() - t0);
      if (state !== 'running') throw new Error(`domain ${uid} is ${state ?? 'missing'} after apply`);
      await hypervisor.undefine(uid);
      await storage.deleteVolume(pool, uid);
    }
    emit('vm_apply_to_running_p50', percentile(applied, 50), 'ms', { n: VMS, domainType: hypervisor.domainType, guestBoot: 'excluded' });
    emit('vm_apply_to_running_p95', percentile(applied, 95), 'ms', { n: VMS, domainType: hypervisor.domainType, guestBoot: 'excluded' });
  } finally {
    for (const uid of created) await hypervisor.undefine(uid).catch(() => undefined);
    await stopLibvirtd();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--simulated-child')) {
  await simulatedChild();
} else {
  setLogLevel('warn');
  await simulatedRss();
  await kvm();
}
