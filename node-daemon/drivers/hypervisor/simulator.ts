import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandRunner } from '../exec.ts';
import { domainName } from '../identity.ts';
import { renderDomainXml } from './domain-xml.ts';
import type { DomainEvent, DomainObservation, DomainState, HypervisorDriver, PowerRequest } from './types.ts';

interface SimulatedDomain {
  uid: string;
  digest: string;
  state: DomainState;
  vcpus: number;
  memoryMiB: number;
  startedAt: number;
  /** The definition's disks, and the running domain's (hot-plugged ones included). */
  definedDisks: string[];
  liveDisks: string[];
  /** The media in the CD-ROM drive: the definition's, and the running domain's. */
  definedIso?: string;
  liveIso?: string;
  shutdownSent?: PowerRequest;
  rebootSent?: PowerRequest;
}

/**
 * A hypervisor with the libvirt driver's interface and no guests: scale runs place hundreds
 * of VMs on one machine with it. It renders and validates the same domain XML, so a spec the
 * simulator accepts is one libvirt would be given. Its guests answer ACPI at once: a shutdown
 * powers the domain off and a reboot emits libvirt's reboot event. Disks are real files: a
 * live resize grows the image, as `virsh blockresize` does.
 */
export function simulatorDriver(options: { dir?: string } = {}): HypervisorDriver & { readonly domainCount: () => number } {
  const domains = new Map<string, SimulatedDomain>();
  const { dir } = options;
  // Given a directory, the domains outlive the agent as libvirt's do (one file each, written
  // whole by rename): a restarted agent finds what its predecessor defined and started.
  if (dir !== undefined) {
    mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const d = JSON.parse(readFileSync(join(dir, file), 'utf8')) as SimulatedDomain;
      for (const sent of [d.shutdownSent, d.rebootSent]) if (sent) sent.at = new Date(sent.at);
      domains.set(d.uid, d);
    }
  }
  const persist = (uid: string): void => {
    if (dir === undefined) return;
    const d = domains.get(uid);
    const file = join(dir, `${uid}.json`);
    if (!d) return rmSync(file, { force: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(d));
    renameSync(`${file}.tmp`, file);
  };
  const listeners = new Set<(event: DomainEvent) => void>();
  // Every change of a domain's state is an event: it is kept first.
  const emit = (uid: string, type: 'lifecycle' | 'reboot', detail: string): void => {
    persist(uid);
    for (const listener of listeners) listener({ type, uid, detail, at: new Date() });
  };
  const active = (d: SimulatedDomain) => d.state === 'running' || d.state === 'paused';
  const observation = (d: SimulatedDomain): DomainObservation => {
    const iso = active(d) ? d.liveIso : d.definedIso;
    return {
      uid: d.uid,
      name: domainName(d.uid),
      state: d.state,
      specDigest: d.digest,
      diskPaths: [...(active(d) ? d.liveDisks : d.definedDisks)],
      ...(iso !== undefined ? { isoPath: iso } : {}),
      ...(d.state === 'running' ? { startedAt: new Date(d.startedAt) } : {}),
      ...(active(d) && d.shutdownSent ? { shutdownSent: d.shutdownSent } : {}),
      ...(active(d) && d.rebootSent ? { rebootSent: d.rebootSent } : {}),
    };
  };
  const find = (uid: string): SimulatedDomain => {
    const d = domains.get(uid);
    if (!d) throw new Error(`simulator: domain ${domainName(uid)} is not defined`);
    return d;
  };
  const running = (uid: string): SimulatedDomain => {
    const d = find(uid);
    if (!active(d)) throw new Error(`simulator: domain ${domainName(uid)} is not running`);
    return d;
  };
  const powerOff = (d: SimulatedDomain, detail: string): void => {
    d.state = 'shutoff';
    // Like libvirt's live metadata, the requests go with the running domain.
    delete d.shutdownSent;
    delete d.rebootSent;
    emit(d.uid, 'lifecycle', detail);
  };

  return {
    domainCount: () => domains.size,
    list: () => Promise.resolve([...domains.values()].map((d) => ({ uid: d.uid, name: domainName(d.uid), state: d.state, diskPaths: [...(active(d) ? d.liveDisks : d.definedDisks)] }))),
    observe: (uid) => {
      const d = domains.get(uid);
      return Promise.resolve(d ? observation(d) : undefined);
    },
    define: (spec) => {
      const { digest } = renderDomainXml(spec, { type: 'kvm' });
      const disks = spec.disks.map((disk) => disk.path);
      const d = domains.get(spec.uid);
      if (!d) {
        domains.set(spec.uid, { uid: spec.uid, digest, state: 'shutoff', vcpus: spec.vcpus, memoryMiB: spec.memoryMiB, startedAt: 0, definedDisks: disks, liveDisks: [], ...(spec.iso !== undefined ? { definedIso: spec.iso } : {}) });
        emit(spec.uid, 'lifecycle', 'Defined Added');
        return Promise.resolve('define' as const);
      }
      if (d.digest === digest) return Promise.resolve(undefined);
      Object.assign(d, { digest, vcpus: spec.vcpus, memoryMiB: spec.memoryMiB, definedDisks: disks });
      if (spec.iso !== undefined) d.definedIso = spec.iso;
      else delete d.definedIso;
      emit(spec.uid, 'lifecycle', 'Defined Updated');
      return Promise.resolve('redefine' as const);
    },
    start: (uid) => {
      const d = find(uid);
      if (active(d)) return Promise.reject(new Error(`simulator: domain ${domainName(uid)} is already running`));
      Object.assign(d, { state: 'running', startedAt: Date.now(), liveDisks: [...d.definedDisks] });
      if (d.definedIso !== undefined) d.liveIso = d.definedIso;
      else delete d.liveIso;
      emit(uid, 'lifecycle', 'Started Booted');
      return Promise.resolve();
    },
    resume: (uid) => {
      running(uid).state = 'running';
      emit(uid, 'lifecycle', 'Resumed Unpaused');
      return Promise.resolve();
    },
    shutdown: (uid, token, at) => {
      const d = domains.get(uid);
      if (d && active(d)) {
        d.shutdownSent = { token, at };
        powerOff(d, 'Stopped Shutdown');
      }
      return Promise.resolve();
    },
    reboot: (uid, token, at) => {
      const d = running(uid);
      d.rebootSent = { token, at };
      d.startedAt = Date.now();
      emit(uid, 'reboot', '');
      return Promise.resolve();
    },
    reset: (uid) => {
      running(uid).startedAt = Date.now();
      emit(uid, 'reboot', '');
      return Promise.resolve();
    },
    destroy: (uid) => {
      const d = domains.get(uid);
      if (d && active(d)) powerOff(d, 'Stopped Destroyed');
      return Promise.resolve();
    },
    undefine: (uid) => {
      const d = domains.get(uid);
      if (d && active(d)) powerOff(d, 'Stopped Destroyed');
      if (domains.delete(uid)) emit(uid, 'lifecycle', 'Undefined Removed');
      return Promise.resolve();
    },
    attachDisk: (uid, disk) => {
      const d = running(uid);
      if (!d.liveDisks.includes(disk.path)) d.liveDisks.push(disk.path);
      persist(uid);
      return Promise.resolve();
    },
    detachDisk: (uid, path) => {
      const d = running(uid);
      d.liveDisks = d.liveDisks.filter((p) => p !== path);
      persist(uid);
      return Promise.resolve();
    },
    changeMedia: (uid, path) => {
      const d = running(uid);
      // As QEMU, which opens the file: media that is not there is refused.
      if (path !== undefined && !existsSync(path)) return Promise.reject(new Error(`simulator: domain ${domainName(uid)}: cannot insert ${path}: no such file`));
      if (path !== undefined) d.liveIso = path;
      else delete d.liveIso;
      persist(uid);
      return Promise.resolve();
    },
    resizeDisk: async (uid, path, sizeBytes) => {
      const d = running(uid);
      if (!d.liveDisks.includes(path)) throw new Error(`simulator: domain ${domainName(uid)} has no disk ${path}`);
      await commandRunner()(['qemu-img', 'resize', '-q', '-f', 'qcow2', path, String(sizeBytes)]);
    },
    stats: () =>
      Promise.resolve(
        [...domains.values()].map((d) => ({
          uid: d.uid,
          state: d.state,
          cpuTimeNs: d.state === 'running' ? (Date.now() - d.startedAt) * 1e6 * 0.01 : 0,
          vcpus: d.vcpus,
          memoryKiB: d.memoryMiB * 1024,
          memoryRssKiB: d.state === 'running' ? d.memoryMiB * 512 : 0,
          nics: [],
          disks: [],
        })),
      ),
    console: (uid) => {
      const d = domains.get(uid);
      // One made-up port per running domain, in VNC's range, stable for the domain's life.
      return Promise.resolve(d?.state === 'running' ? { host: '127.0.0.1', port: 5900 + ([...domains.keys()].indexOf(uid) % 60_000) } : undefined);
    },
    digest: (spec) => renderDomainXml(spec, { type: 'kvm' }).digest,
    followEvents: (onEvent) => {
      listeners.add(onEvent);
      onEvent({ type: 'resync', at: new Date() });
      return {
        stop: () => {
          listeners.delete(onEvent);
          return Promise.resolve();
        },
      };
    },
  };
}
