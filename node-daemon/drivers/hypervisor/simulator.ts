import { domainName } from '../identity.ts';
import { renderDomainXml } from './domain-xml.ts';
import type { DomainAction, DomainEvent, DomainObservation, DomainState, HypervisorDriver } from './types.ts';

interface SimulatedDomain {
  uid: string;
  digest: string;
  state: DomainState;
  vcpus: number;
  memoryMiB: number;
  startedAt: number;
}

/**
 * A hypervisor with the libvirt driver's interface and no guests: scale runs place hundreds
 * of VMs on one machine with it. It renders and validates the same domain XML, so a spec the
 * simulator accepts is one libvirt would be given.
 */
export function simulatorDriver(): HypervisorDriver & { readonly domainCount: () => number } {
  const domains = new Map<string, SimulatedDomain>();
  const listeners = new Set<(event: DomainEvent) => void>();
  const emit = (uid: string, type: 'lifecycle' | 'reboot', detail: string): void => {
    for (const listener of listeners) listener({ type, uid, detail, at: new Date() });
  };
  const observation = (d: SimulatedDomain): DomainObservation => ({
    uid: d.uid,
    name: domainName(d.uid),
    state: d.state,
    specDigest: d.digest,
    ...(d.state === 'running' ? { startedAt: new Date(d.startedAt) } : {}),
  });
  const setState = (d: SimulatedDomain, state: DomainState, detail: string): void => {
    d.state = state;
    if (state === 'running') d.startedAt = Date.now();
    emit(d.uid, 'lifecycle', detail);
  };

  return {
    domainCount: () => domains.size,
    list: () => Promise.resolve([...domains.values()].map(observation)),
    observe: (uid) => {
      const d = domains.get(uid);
      return Promise.resolve(d ? observation(d) : undefined);
    },
    apply: ({ spec, power }) => {
      const { digest } = renderDomainXml(spec, { type: 'kvm' });
      const actions: DomainAction[] = [];
      let d = domains.get(spec.uid);
      if (!d) {
        d = { uid: spec.uid, digest, state: 'shutoff', vcpus: spec.vcpus, memoryMiB: spec.memoryMiB, startedAt: 0 };
        domains.set(spec.uid, d);
        actions.push('define');
        emit(spec.uid, 'lifecycle', 'Defined Added');
      } else if (d.digest !== digest) {
        Object.assign(d, { digest, vcpus: spec.vcpus, memoryMiB: spec.memoryMiB });
        actions.push('redefine');
        emit(spec.uid, 'lifecycle', 'Defined Updated');
      }
      if (power === 'Running' && d.state !== 'running') {
        actions.push(d.state === 'paused' ? 'resume' : 'start');
        setState(d, 'running', 'Started Booted');
      } else if (power === 'Stopped' && d.state !== 'shutoff') {
        actions.push('shutdown');
        setState(d, 'shutoff', 'Stopped Shutdown');
      }
      return Promise.resolve(actions);
    },
    reboot: (uid) => {
      const d = domains.get(uid);
      if (d?.state !== 'running') return Promise.reject(new Error(`domain ${uid} is not running`));
      d.startedAt = Date.now();
      emit(uid, 'reboot', '');
      return Promise.resolve('acpi');
    },
    destroy: (uid) => {
      const d = domains.get(uid);
      if (d && d.state !== 'shutoff') setState(d, 'shutoff', 'Stopped Destroyed');
      return Promise.resolve();
    },
    undefine: (uid) => {
      if (domains.delete(uid)) emit(uid, 'lifecycle', 'Undefined Removed');
      return Promise.resolve();
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
