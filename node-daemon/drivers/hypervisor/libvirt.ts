import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../../lib/log.ts';
import { CommandError, commandRunner, type Runner } from '../exec.ts';
import { domainName, vmUidOfDomain } from '../identity.ts';
import { digestOfDomainXml, renderDiskXml, renderDomainXml, type DomainType, type GuestCpuMode } from './domain-xml.ts';
import { parseDomstats, statsFromDomstats } from './domstats.ts';
import type { DomainEvent, DomainObservation, DomainState, DomainStats, HypervisorDriver, PowerRequest } from './types.ts';
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

/** Where the pending ACPI requests are recorded in a running domain's metadata. */
const SHUTDOWN_NS = 'https://kumulus.io/xmlns/shutdown/v1';
const REBOOT_NS = 'https://kumulus.io/xmlns/reboot/v1';

function unescapeXml(value: string): string {
  return value.replace(/&(?:#(\d+)|(lt|gt|amp|apos|quot));/g, (_m, code: string | undefined, name: string | undefined) =>
    code !== undefined ? String.fromCharCode(Number(code)) : ({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' } as Record<string, string>)[name ?? ''] ?? '',
  );
}

/** The file-backed disk images of a domain XML, in document order; not its CD-ROMs (the config drive), which are no Volumes. */
export function diskPathsOfXml(xml: string): string[] {
  return [...xml.matchAll(/<disk\b[^>]*\bdevice=(['"])disk\1[^>]*>[\s\S]*?<\/disk>/g)].flatMap((m) => {
    const file = /<source\b[^>]*\bfile=(['"])(.*?)\1/.exec(m[0])?.[2];
    return file !== undefined ? [unescapeXml(file)] : [];
  });
}

/** The CD-ROM drive hdc (the ISO drive; the config drive is hdd) and its media, if any; undefined when the domain has no such drive. */
export function isoDriveOfXml(xml: string): { path?: string } | undefined {
  const drive = [...xml.matchAll(/<disk\b[^>]*\bdevice=(['"])cdrom\1[^>]*>[\s\S]*?<\/disk>/g)].find((m) => /<target\b[^>]*\bdev=(['"])hdc\1/.test(m[0]));
  if (!drive) return undefined;
  const file = /<source\b[^>]*\bfile=(['"])(.*?)\1/.exec(drive[0])?.[2];
  return file !== undefined ? { path: unescapeXml(file) } : {};
}

/** The media in the ISO drive hdc, if any. */
export function isoPathOfXml(xml: string): string | undefined {
  return isoDriveOfXml(xml)?.path;
}

/** The attributes of the metadata element in namespace `ns`, as libvirt prints it back. */
export function metadataAttributes(xml: string, ns: string): Record<string, string> | undefined {
  const element = [...xml.matchAll(/<([\w.-]+):([\w.-]+)\s([^>]*)\/?>/g)].find((m) => (m[3] ?? '').includes(`="${ns}"`) || (m[3] ?? '').includes(`='${ns}'`));
  if (!element) return undefined;
  return Object.fromEntries([...(element[3] ?? '').matchAll(/([\w:.-]+)=(['"])(.*?)\2/g)].map((a) => [a[1] ?? '', unescapeXml(a[3] ?? '')]));
}

function escapeAttribute(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A recorded request: `<shutdown token='..' at='..'/>` (or reboot). */
function requestOf(attributes: Record<string, string> | undefined): PowerRequest | undefined {
  const token = attributes?.['token'];
  const at = new Date(attributes?.['at'] ?? '');
  return token !== undefined && Number.isFinite(at.getTime()) ? { token, at } : undefined;
}

/** What virsh says of a domain that does not exist. */
const MISSING_DOMAIN = /failed to get domain|Domain not found|no domain with matching/i;

function isMissingDomain(err: unknown): boolean {
  return err instanceof CommandError && MISSING_DOMAIN.test(err.stderr);
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

/** `virsh -q list --all`: one domain a line, "<id or ->  <name>  <state>" (a state may hold a space: "shut off"). */
export function parseVirshList(text: string): { name: string; state: string }[] {
  return text.split('\n').flatMap((line) => {
    const match = /^\s*\S+\s+(\S+)\s+(.+?)\s*$/.exec(line);
    return match?.[1] && match[2] ? [{ name: match[1], state: match[2] }] : [];
  });
}

/** Separates the outputs of the commands of one batched virsh run (an `echo`; never in a domain XML). */
const BATCH_SEPARATOR = '@@kumulus-virsh@@';

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
  const renderOptions = { type: domainType, ...(options.cpuMode !== undefined ? { cpuMode: options.cpuMode } : {}) };

  /**
   * Runs commands in one virsh process (its batch mode) rather than one process each: their
   * outputs in order, each after an `echo` of the separator. A command that fails prints nothing
   * and its error goes to stderr; a batch exits 0 whatever its commands did, the last being an echo.
   */
  const virshBatch = async (commands: string[]): Promise<{ outputs: string[]; stderr: string }> => {
    const { stdout, stderr } = await run(['virsh', '-q', '-c', uri, [...commands.flatMap((command) => [`echo ${BATCH_SEPARATOR}`, command]), `echo ${BATCH_SEPARATOR}`].join('; ')]);
    return { outputs: stdout.split(BATCH_SEPARATOR).slice(1, commands.length + 1), stderr };
  };
  const isDomainXml = (text: string | undefined): text is string => text?.includes('</domain>') === true;

  const observe = async (uid: string): Promise<DomainObservation | undefined> => {
    const name = domainName(uid);
    // The definition, the state and the running domain's own XML (its hot-plugged disks and the
    // requests recorded in it; the definition again when it does not run), in one virsh run.
    const { outputs, stderr } = await virshBatch([`dumpxml --inactive ${name}`, `domstate ${name}`, `dumpxml ${name}`]);
    const [xml, stateText, liveXml] = outputs;
    if (!isDomainXml(xml) || !stateText?.trim()) {
      // Gone, or undefined between the reads: no domain. Anything else (no libvirtd...) is an error.
      if (MISSING_DOMAIN.test(stderr)) return undefined;
      throw new Error(`virsh could not read domain ${name}: ${stderr.trim() || 'no output'}`);
    }
    const state = stateFromDomstate(stateText);
    const specDigest = digestOfDomainXml(xml);
    const active = state === 'running' || state === 'paused' || state === 'shutdown';
    const live = active && isDomainXml(liveXml) ? liveXml : undefined;
    const pid = active ? await qemuPid(uid) : undefined;
    const startedAt = pid !== undefined ? await processStartedAt(pid) : undefined;
    const shutdownSent = live !== undefined ? requestOf(metadataAttributes(live, SHUTDOWN_NS)) : undefined;
    const rebootSent = live !== undefined ? requestOf(metadataAttributes(live, REBOOT_NS)) : undefined;
    const isoDrive = isoDriveOfXml(live ?? xml);
    return {
      uid,
      name,
      state,
      diskPaths: diskPathsOfXml(live ?? xml),
      ...(specDigest !== undefined ? { specDigest } : {}),
      ...(isoDrive?.path !== undefined ? { isoPath: isoDrive.path } : {}),
      ...(isoDrive === undefined ? { isoDriveMissing: true } : {}),
      ...(pid !== undefined ? { pid } : {}),
      ...(startedAt !== undefined ? { startedAt } : {}),
      ...(shutdownSent !== undefined ? { shutdownSent } : {}),
      ...(rebootSent !== undefined ? { rebootSent } : {}),
    };
  };

  /** Runs a virsh command on a domain that must be running; "not running" and "no such domain" are fine. */
  const onRunning = async (...args: string[]): Promise<void> => {
    try {
      await virsh(...args);
    } catch (err) {
      if (!isMissingDomain(err) && !isNotRunning(err)) throw err;
    }
  };

  /** Keeps `element` (in namespace `ns`) in the running domain's live metadata only: it goes when the domain stops. */
  const record = (uid: string, ns: string, key: string, element: string) => virsh('metadata', domainName(uid), '--uri', ns, '--key', key, '--set', element, '--live');

  const destroy = (uid: string): Promise<void> => onRunning('destroy', domainName(uid));

  /** Feeds an XML document to a virsh command through a private temporary file. */
  const withXmlFile = async (xml: string, use: (file: string) => Promise<unknown>): Promise<void> => {
    const dir = await mkdtemp(join(tmpdir(), 'kumulus-domain-'));
    try {
      const file = join(dir, 'device.xml');
      await writeFile(file, xml);
      await use(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  return {
    uri,
    domainType,
    observe,

    // libvirt answers both calls from its own records: no query reaches a QEMU, and none waits
    // for a domain being started (`domstats --block` asks every running QEMU, after its start).
    list: async () => {
      const listed = parseVirshList(await virsh('list', '--all')).filter((d) => vmUidOfDomain(d.name) !== undefined);
      if (listed.length === 0) return [];
      // One virsh run for all the XML; a domain undefined meanwhile has none, and is gone.
      const { outputs } = await virshBatch(listed.map((d) => `dumpxml ${d.name}`));
      return listed.flatMap((d, i) => {
        const xml = outputs[i];
        return isDomainXml(xml) ? [{ uid: vmUidOfDomain(d.name) ?? '', name: d.name, state: stateFromDomstate(d.state), diskPaths: diskPathsOfXml(xml) }] : [];
      });
    },

    define: async (spec, observed) => {
      const { xml, digest } = renderDomainXml(spec, renderOptions);
      const current = observed ? observed.domain : await observe(spec.uid);
      if (current?.specDigest === digest) return undefined;
      await withXmlFile(xml, (file) => virsh('define', file));
      const action = current ? 'redefine' : 'define';
      logger.info('domain defined', { uid: spec.uid, action });
      return action;
    },

    start: async (uid) => {
      await virsh('start', domainName(uid));
      logger.info('domain started', { uid });
    },

    resume: async (uid) => {
      await virsh('resume', domainName(uid));
    },

    shutdown: async (uid, token, at) => {
      await record(uid, SHUTDOWN_NS, 'kumulus-shutdown', `<shutdown token='${escapeAttribute(token)}' at='${at.toISOString()}'/>`);
      await onRunning('shutdown', '--mode', 'acpi', domainName(uid));
      logger.info('ACPI shutdown sent', { uid });
    },

    reboot: async (uid, token, at) => {
      await record(uid, REBOOT_NS, 'kumulus-reboot', `<reboot token='${escapeAttribute(token)}' at='${at.toISOString()}'/>`);
      await virsh('reboot', '--mode', 'acpi', domainName(uid));
      logger.info('ACPI reboot sent', { uid, token });
    },

    reset: async (uid) => {
      await virsh('reset', domainName(uid));
      logger.info('domain reset: the guest ignored the ACPI reboot', { uid });
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

    attachDisk: async (uid, disk) => {
      await withXmlFile(renderDiskXml(disk), (file) => virsh('attach-device', domainName(uid), file, '--live'));
      logger.info('disk attached live', { uid, path: disk.path });
    },

    detachDisk: async (uid, path) => {
      await virsh('detach-disk', domainName(uid), path, '--live');
      logger.info('disk detached live', { uid, path });
    },

    changeMedia: async (uid, path) => {
      // --force: a guest that locked the tray (a mounted disc) does not keep the media in.
      await virsh('change-media', domainName(uid), 'hdc', ...(path !== undefined ? [path, '--update'] : ['--eject']), '--live', '--force');
      logger.info(path !== undefined ? 'ISO inserted live' : 'ISO ejected live', { uid, ...(path !== undefined ? { path } : {}) });
    },

    resizeDisk: async (uid, path, sizeBytes) => {
      await virsh('blockresize', domainName(uid), path, `${sizeBytes}B`);
      logger.info('disk grown live', { uid, path, sizeBytes });
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

    digest: (spec) => renderDomainXml(spec, renderOptions).digest,
  };
}
