import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runner } from '../exec.ts';
import { dnsmasqPaths } from './dnsmasq.ts';
import { isKumulusLink, servicePeerName } from './names.ts';
import { observedRuleComments } from './nftables.ts';
import { errorMessage } from '../../../lib/error-message.ts';
import type { ObservedDnsmasq, ObservedLink, ObservedNetworking, ObservedServiceNamespace } from './types.ts';

interface IpLinkJson {
  ifname: string;
  mtu: number;
  flags?: string[];
  master?: string;
  link?: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
  linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; port?: number; learning?: boolean } };
}

export function parseIpAddrJson(json: string): Map<string, ObservedLink> {
  const links = new Map<string, ObservedLink>();
  for (const l of JSON.parse(json) as IpLinkJson[]) {
    const kind = l.linkinfo?.info_kind;
    const data = l.linkinfo?.info_data;
    links.set(l.ifname, {
      name: l.ifname,
      ...(kind !== undefined ? { kind } : {}),
      mtu: l.mtu,
      up: (l.flags ?? []).includes('UP'),
      ...(l.master !== undefined ? { master: l.master } : {}),
      ...(l.link !== undefined ? { link: l.link } : {}),
      addresses: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => ({ ip: a.local, prefix: a.prefixlen })),
      ipv6: (l.addr_info ?? []).some((a) => a.family === 'inet6'),
      ...(kind === 'vxlan' && data?.id !== undefined
        ? {
            vxlan: {
              id: data.id,
              ...(data.local !== undefined ? { local: data.local } : {}),
              ...(data.port !== undefined ? { port: data.port } : {}),
              ...(data.learning !== undefined ? { learning: data.learning } : {}),
            },
          }
        : {}),
      ...(kind === 'vlan' && data?.id !== undefined ? { vlan: { id: data.id } } : {}),
    });
  }
  return links;
}

async function processAlive(pid: number, confPath: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes(confPath);
}

/** Where iproute2 mounts named network namespaces. */
const NETNS_DIR = '/run/netns';

/** `ip -j` prints nothing at all, not `[]`, for some empty lists. */
function parseJsonList<T>(stdout: string): T[] {
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as T[]);
}

async function observeServiceNamespaces(run: Runner, prefix: string): Promise<Map<string, ObservedServiceNamespace>> {
  const found = new Map<string, ObservedServiceNamespace>();
  for (const { name } of parseJsonList<{ name: string }>((await run(['ip', '-j', 'netns', 'list'])).stdout)) {
    // Exactly <prefix><bridge>: another agent's longer prefix is not ours.
    if (!name.startsWith(prefix) || !isKumulusLink(name.slice(prefix.length))) continue;
    try {
      const port = parseIpAddrJson((await run(['ip', '-n', name, '-j', '-d', 'addr', 'show'])).stdout).get(servicePeerName);
      const inode = (await stat(join(NETNS_DIR, name))).ino;
      found.set(name, { inode, ...(port ? { port } : {}) });
    } catch (err) {
      found.set(name, { broken: errorMessage(err) });
    }
  }
  return found;
}

/** The network namespace inode of a process, from /proc/<pid>/ns/net ("net:[4026532280]"). */
async function netnsOf(pid: number): Promise<number | undefined> {
  const link = await readlink(`/proc/${pid}/ns/net`).catch(() => '');
  const inode = /^net:\[(\d+)\]$/.exec(link)?.[1];
  return inode === undefined ? undefined : Number(inode);
}

export async function observeNetworking(run: Runner, stateDir: string, serviceNamespacePrefix: string): Promise<ObservedNetworking> {
  const links = parseIpAddrJson((await run(['ip', '-j', '-d', 'addr', 'show'])).stdout);
  const floodTargets = new Map<string, string[]>();
  for (const link of links.values()) {
    if (link.kind !== 'vxlan' || !isKumulusLink(link.name)) continue;
    const fdb = JSON.parse((await run(['bridge', '-j', 'fdb', 'show', 'dev', link.name])).stdout) as { mac: string; dst?: string }[];
    floodTargets.set(link.name, fdb.filter((e) => e.mac === '00:00:00:00:00:00' && e.dst !== undefined).map((e) => e.dst ?? ''));
  }
  const nftComments = observedRuleComments((await run(['nft', '-j', 'list', 'ruleset'])).stdout);
  const dnsmasq = new Map<string, ObservedDnsmasq>();
  const bridges = new Set([...links.keys()].filter(isKumulusLink));
  for (const name of await readdir(stateDir).catch(() => [] as string[])) if (isKumulusLink(name)) bridges.add(name);
  for (const bridge of bridges) {
    const paths = dnsmasqPaths(stateDir, bridge);
    const read = (path: string): Promise<string | undefined> => readFile(path, 'utf8').catch(() => undefined);
    const pidText = await read(paths.pid);
    const pid = pidText !== undefined ? Number.parseInt(pidText, 10) : undefined;
    const alive = pid !== undefined && Number.isInteger(pid) && (await processAlive(pid, paths.conf));
    const conf = await read(paths.conf);
    const dhcpHosts = await read(paths.dhcpHosts);
    const dnsHosts = await read(paths.dnsHosts);
    if (!alive && conf === undefined) continue;
    const netns = alive ? await netnsOf(pid) : undefined;
    dnsmasq.set(bridge, {
      ...(alive ? { pid } : {}),
      ...(netns !== undefined ? { netns } : {}),
      ...(conf !== undefined ? { conf } : {}),
      ...(dhcpHosts !== undefined ? { dhcpHosts } : {}),
      ...(dnsHosts !== undefined ? { dnsHosts } : {}),
    });
  }
  const serviceNamespaces = await observeServiceNamespaces(run, serviceNamespacePrefix);
  return { links, floodTargets, ...(nftComments !== undefined ? { nftComments } : {}), dnsmasq, serviceNamespaces };
}
