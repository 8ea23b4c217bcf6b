import { readFile } from 'node:fs/promises';
import { commandRunner, type Runner } from '../exec.ts';
import { parseIpAddrJson } from '../network/observe.ts';

/** What the agent reports on its Host: capacity, hypervisor, CPU and the links traffic labels name. */
export interface HostFacts {
  cpuSockets: number;
  cpuCores: number;
  cpuThreads: number;
  cpuMhz: number;
  cpuModel: string;
  memoryBytes: number;
  hypervisor: { type: string; version: string; libvirtVersion: string };
  bridges: string[];
  /** Physical and virtual interfaces with their IPv4 addresses and MTU (bridges excluded). */
  interfaces: { name: string; kind?: string; mtu: number; up: boolean; addresses: string[] }[];
}

export function parseNodeinfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return fields;
}

export function parseMeminfoTotal(text: string): number {
  const kib = /^MemTotal:\s+(\d+)\s+kB/m.exec(text)?.[1];
  if (kib === undefined) throw new Error('/proc/meminfo has no MemTotal line');
  return Number(kib) * 1024;
}

export function parseCpuModel(text: string): string {
  return /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? 'unknown';
}

/** `virsh version`: "Running hypervisor: QEMU 7.2.22", "Using library: libvirt 9.0.0". */
export function parseVirshVersion(text: string): HostFacts['hypervisor'] {
  const hv = /Running hypervisor:\s*(\S+)\s+(\S+)/.exec(text);
  const lib = /Using library:\s*libvirt\s+(\S+)/.exec(text);
  return { type: hv?.[1] ?? 'unknown', version: hv?.[2] ?? 'unknown', libvirtVersion: lib?.[1] ?? 'unknown' };
}

function int(fields: Record<string, string>, key: string): number {
  const value = Number.parseInt(fields[key] ?? '', 10);
  if (!Number.isFinite(value)) throw new Error(`virsh nodeinfo has no "${key}"`);
  return value;
}

/**
 * Host facts from libvirt (virsh nodeinfo, version) and /proc. Memory comes from
 * /proc/meminfo, CPU topology from libvirt, which counts what guests can be given.
 */
export async function hostFacts(uri = 'qemu:///system', run: Runner = commandRunner()): Promise<HostFacts> {
  const nodeinfo = parseNodeinfo((await run(['virsh', '-c', uri, 'nodeinfo'])).stdout);
  const sockets = int(nodeinfo, 'CPU socket(s)') * int(nodeinfo, 'NUMA cell(s)');
  const coresPerSocket = int(nodeinfo, 'Core(s) per socket');
  const links = parseIpAddrJson((await run(['ip', '-j', '-d', 'addr', 'show'])).stdout);
  return {
    cpuSockets: sockets,
    cpuCores: sockets * coresPerSocket,
    cpuThreads: int(nodeinfo, 'CPU(s)'),
    cpuMhz: int(nodeinfo, 'CPU frequency'),
    cpuModel: parseCpuModel(await readFile('/proc/cpuinfo', 'utf8')),
    memoryBytes: parseMeminfoTotal(await readFile('/proc/meminfo', 'utf8')),
    hypervisor: parseVirshVersion((await run(['virsh', '-c', uri, 'version'])).stdout),
    bridges: [...links.values()].filter((l) => l.kind === 'bridge').map((l) => l.name),
    interfaces: [...links.values()]
      .filter((l) => l.kind !== 'bridge' && l.name !== 'lo')
      .map((l) => ({
        name: l.name,
        ...(l.kind !== undefined ? { kind: l.kind } : {}),
        mtu: l.mtu,
        up: l.up,
        addresses: l.addresses.map((a) => `${a.ip}/${a.prefix}`),
      })),
  };
}
