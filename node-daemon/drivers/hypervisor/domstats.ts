import { vmUidOfDomain } from '../identity.ts';
import type { DomainState, DomainStats } from './types.ts';

/** libvirt's virDomainState numbers, as `virsh domstats --state` prints them. */
export function domainStateOf(code: number): DomainState {
  switch (code) {
    case 1:
      return 'running';
    case 2: // blocked on a resource: still running as far as the cloud is concerned
      return 'running';
    case 3:
      return 'paused';
    case 4:
      return 'shutdown';
    case 5:
      return 'shutoff';
    case 6:
      return 'crashed';
    case 7:
      return 'suspended';
    default:
      return 'other';
  }
}

/** `virsh domstats --raw` output: one record per domain, keyed by domain name. */
export function parseDomstats(output: string): Map<string, Map<string, string>> {
  const records = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of output.split('\n')) {
    const header = /^Domain: '(.*)'$/.exec(line.trim());
    if (header?.[1] !== undefined) {
      current = new Map();
      records.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current && eq > 0) current.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return records;
}

function num(fields: Map<string, string>, key: string): number {
  const value = Number(fields.get(key));
  return Number.isFinite(value) ? value : 0;
}

/** The figures the agent exports as per-VM metrics, for the domains Kumulus owns. */
export function statsFromDomstats(records: Map<string, Map<string, string>>): DomainStats[] {
  const stats: DomainStats[] = [];
  for (const [name, fields] of records) {
    const uid = vmUidOfDomain(name);
    if (uid === undefined) continue;
    const nics: DomainStats['nics'] = [];
    for (let i = 0; i < num(fields, 'net.count'); i++) {
      nics.push({
        name: fields.get(`net.${i}.name`) ?? `net${i}`,
        rxBytes: num(fields, `net.${i}.rx.bytes`),
        txBytes: num(fields, `net.${i}.tx.bytes`),
        rxPackets: num(fields, `net.${i}.rx.pkts`),
        txPackets: num(fields, `net.${i}.tx.pkts`),
      });
    }
    const disks: DomainStats['disks'] = [];
    for (let i = 0; i < num(fields, 'block.count'); i++) {
      // An empty drive (the ISO drive hdc without media) has no file and nothing to count.
      if (!fields.has(`block.${i}.path`)) continue;
      disks.push({
        name: fields.get(`block.${i}.name`) ?? `block${i}`,
        readBytes: num(fields, `block.${i}.rd.bytes`),
        writeBytes: num(fields, `block.${i}.wr.bytes`),
        readOps: num(fields, `block.${i}.rd.reqs`),
        writeOps: num(fields, `block.${i}.wr.reqs`),
      });
    }
    stats.push({
      uid,
      state: domainStateOf(num(fields, 'state.state')),
      cpuTimeNs: num(fields, 'cpu.time'),
      vcpus: num(fields, 'vcpu.current'),
      memoryKiB: num(fields, 'balloon.current'),
      memoryRssKiB: num(fields, 'balloon.rss'),
      nics,
      disks,
    });
  }
  return stats;
}
