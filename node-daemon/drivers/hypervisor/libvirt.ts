import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../lib/log.ts';
import { CommandError, commandRunner, type Runner } from '../exec.ts';
import { domainName, vmUidOfDomain } from '../identity.ts';
import { digestOfDomainXml, renderDomainXml, type DomainType, type GuestCpuMode } from './domain-xml.ts';
import { domainStateOf, parseDomstats, statsFromDomstats } from './domstats.ts';
import type {
  DomainAction,
  DomainEvent,
  DomainObservation,
  DomainState,
  DomainStats,
  HypervisorDriver,
} from './types.ts';
import { followVirshEvents, type VirshEventFollower } from './virsh-events.ts';

export interface LibvirtDriverOptions {
  /** Default qemu:///system. */
  uri?: string;
  /** Default: test for test:/// URIs, kvm where /dev/kvm exists, qemu (TCG) otherwise. */
  domainType?: DomainType;
  cpuMode?: GuestCpuMode;
  logger: Logger;
  runner?: Runner;
}

export interface LibvirtDriver extends HypervisorDriver {
  readonly uri: string;
  readonly domainType: DomainType;
  followEvents(onEvent: (event: DomainEvent) => void): VirshEventFollower;
}

const defaultShutdownTimeoutMs = 60_000;

function isMissingDomain(err: unknown): boolean {
  return err instanceof CommandError && /failed to get domain|Domain not found|no domain with matching/i.test(err.stderr);
}

function isNotRunning(err: unknown): boolean {
  return err instanceof CommandError && /domain is not running|not active/i.test(err.stderr);
}

function stateFromDomstate(text: string): DomainState {
  switch (text.trim()) {
    case 'running':
    case 'idle':
      return 'running';
    case 'paused':
      return 'paused';
    case 'in shutdown':
      return 'shutdown';
    case 'shut off':
      return 'shutoff';
    case 'crashed':
      return 'crashed';
    case 'pmsuspended':
      return 'suspended';
    default:
      return 'other';
  }
}

/** The QEMU process running a domain, found by the `-uuid` argument libvirt always passes. */
async function qemuPid(uid: string): Promise<number | undefined> {
  const needle = `\0-uuid\0${uid}\0`;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'latin1').catch(() => '');
    if (cmdline.includes(needle)) return Number(entry);
  }
  return undefined;
}

/** /proc counts in USER_HZ, which Linux fixes at 100 for user space (`getconf CLK_TCK`). */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * When a process started: its start time in clock ticks after boot (/proc/<pid>/stat, field 22)
 * plus the boot time (/proc/stat btime). Whole seconds, like the status timestamps.
 */
async function processStartedAt(pid: number): Promise<Date | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  const bootSeconds = Number(/^btime (\d+)$/m.exec(await readFile('/proc/stat', 'utf8').catch(() => ''))?.[1]);
  if (!Number.isFinite(ticks) || !Number.isFinite(bootSeconds) || !stat) return undefined;
  return new Date((bootSeconds + Math.floor(ticks / CLOCK_TICKS_PER_SECOND)) * 1000);
}

/** `virsh vncdisplay`: "127.0.0.1:0" is display 0, i.e. TCP port 5900. */
export function parseVncDisplay(text: string): { host: string; port: number } | undefined {
  const match = /^(.*):(\d+)$/.exec(text.trim());
  if (!match?.[2]) return undefined;
  const host = (match[1] ?? '').replace(/^\[|\]$/g, '');
  return { host: host || '127.0.0.1', port: 5900 + Number(match[2]) };
}

/**
 * Whether KVM here runs an ordinary guest kernel. Under PVM (kvm_pvm: KVM without hardware
 * virtualization, as inside some cloud VMs) a guest's kernel-mode code goes through KVM's
 * instruction emulator, about 200 times slower than QEMU's TCG, and a stock kernel stops with
 * "KVM internal error ... emulation failure" at its int3 self-test: only PVM guest kernels run.
 */
function kvmRunsStockGuests(): { ok: true } | { ok: false; why: string } {
  if (!existsSync('/dev/kvm')) return { ok: false, why: '/dev/kvm is absent' };
  if (existsSync('/sys/module/kvm_pvm')) return { ok: false, why: 'KVM here is PVM (kvm_pvm), which runs only PVM guest kernels' };
  return { ok: true };
}

export function libvirtDriver(options: LibvirtDriverOptions): LibvirtDriver {
  const uri = options.uri ?? 'qemu:///system';
  const run = options.runner ?? commandRunner();
  const logger = options.logger.child({ driver: 'libvirt', uri });
  const kvm = options.domainType === undefined && !uri.startsWith('test:') ? kvmRunsStockGuests() : { ok: true as const };
  if (!kvm.ok) logger.warn('guests run under QEMU emulation (domain type qemu), not KVM; --domain-type=kvm overrides', { why: kvm.why });
  const domainType: DomainType = options.domainType ?? (uri.startsWith('test:') ? 'test' : kvm.ok ? 'kvm' : 'qemu');
  const virsh = async (...args: string[]): Promise<string> => (await run(['virsh', '-q', '-c', uri, ...args])).stdout;

  const observe = async (uid: string): Promise<DomainObservation | undefined> => {
    const name = domainName(uid);
    let xml: string;
    try {
      xml = await virsh('dumpxml', '--inactive', name);
    } catch (err) {
      if (isMissingDomain(err)) return undefined;
      throw err;
    }
    const state = stateFromDomstate(await virsh('domstate', name));
    const specDigest = digestOfDomainXml(xml);
    const pid = state === 'running' || state === 'paused' ? await qemuPid(uid) : undefined;
    const startedAt = pid !== undefined ? await processStartedAt(pid) : undefined;
    return {
      uid,
      name,
      state,
      ...(specDigest !== undefined ? { specDigest } : {}),
      ...(pid !== undefined ? { pid } : {}),
      ...(startedAt !== undefined ? { startedAt } : {}),
    };
  };

  const waitForState = async (uid: string, wanted: DomainState, timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = (await observe(uid))?.state;
      if (state === undefined || state === wanted) return true;
      if (Date.now() >= deadline) return false;
      await sleep(250);
    }
  };

  const destroy = async (uid: string): Promise<void> => {
    try {
      await virsh('destroy', domainName(uid));
    } catch (err) {
      if (!isMissingDomain(err) && !isNotRunning(err)) throw err;
    }
  };

  /** ACPI first; a guest that has not powered off by the deadline is destroyed. */
  const shutdown = async (uid: string, timeoutMs: number): Promise<DomainAction> => {
    try {
      await virsh('shutdown', '--mode', 'acpi', domainName(uid));
    } catch (err) {
      if (isMissingDomain(err) || isNotRunning(err)) return 'shutdown';
      throw err;
    }
    if (await waitForState(uid, 'shutoff', timeoutMs)) return 'shutdown';
    logger.info('ACPI shutdown timed out; destroying', { uid, timeoutMs });
    await destroy(uid);
    return 'destroy';
  };

  const define = async (xml: string): Promise<void> => {
    const dir = await mkdtemp(join(tmpdir(), 'kumulus-domain-'));
    try {
      const file = join(dir, 'domain.xml');
      await writeFile(file, xml);
      await virsh('define', file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  return {
    uri,
    domainType,
    observe,

    list: async () => {
      const records = parseDomstats(await virsh('domstats', '--state', '--raw'));
      const found: DomainObservation[] = [];
      for (const [name, fields] of records) {
        const uid = vmUidOfDomain(name);
        if (uid !== undefined) found.push({ uid, name, state: domainStateOf(Number(fields.get('state.state'))) });
      }
      return found;
    },

    apply: async (desired) => {
      const { spec, power } = desired;
      const { xml, digest } = renderDomainXml(spec, {
        type: domainType,
        ...(options.cpuMode !== undefined ? { cpuMode: options.cpuMode } : {}),
      });
      const actions: DomainAction[] = [];
      const current = await observe(spec.uid);
      if (!current) {
        await define(xml);
        actions.push('define');
      } else if (current.specDigest !== digest) {
        // A running domain keeps its devices until its next start; the new definition waits.
        await define(xml);
        actions.push('redefine');
      }
      const state = current?.state ?? 'shutoff';
      const name = domainName(spec.uid);
      if (power === 'Running') {
        if (state === 'shutoff' || state === 'crashed') {
          await virsh('start', name);
          actions.push('start');
        } else if (state === 'paused') {
          await virsh('resume', name);
          actions.push('resume');
        }
      } else if (state === 'running' || state === 'paused' || state === 'shutdown') {
        actions.push(await shutdown(spec.uid, desired.shutdownTimeoutMs ?? defaultShutdownTimeoutMs));
      }
      if (actions.length > 0) logger.info('domain applied', { uid: spec.uid, power, actions });
      return actions;
    },

    reboot: async (uid, timeoutMs = 30_000) => {
      const name = domainName(uid);
      // `virsh event --event reboot` prints and exits on the first reboot event; on timeout it
      // exits with status 1, which here just means "no reboot seen".
      const waiter = run(
        ['virsh', '-c', uri, 'event', '--domain', name, '--event', 'reboot', '--timeout', String(Math.ceil(timeoutMs / 1000))],
        { timeoutMs: timeoutMs + 10_000 },
      ).catch(() => ({ stdout: '' }));
      // The waiter registers asynchronously and says nothing when it is ready.
      await sleep(300);
      await virsh('reboot', '--mode', 'acpi', name);
      const { stdout } = await waiter;
      if (stdout.includes("event 'reboot'")) return 'acpi';
      logger.info('ACPI reboot ignored by the guest; resetting', { uid, timeoutMs });
      await virsh('reset', name);
      return 'reset';
    },

    destroy,

    undefine: async (uid) => {
      await destroy(uid);
      try {
        await virsh('undefine', domainName(uid));
      } catch (err) {
        if (!isMissingDomain(err)) throw err;
      }
    },

    stats: async (): Promise<DomainStats[]> =>
      statsFromDomstats(
        parseDomstats(await virsh('domstats', '--raw', '--state', '--cpu-total', '--balloon', '--vcpu', '--interface', '--block')),
      ),

    console: async (uid) => {
      let display: string;
      try {
        display = (await virsh('vncdisplay', domainName(uid))).trim();
      } catch (err) {
        if (isMissingDomain(err) || isNotRunning(err)) return undefined;
        throw err;
      }
      return parseVncDisplay(display);
    },

    followEvents: (onEvent) => followVirshEvents(uri, onEvent, logger),
  };
}
