import { readdir, readFile } from 'node:fs/promises';
import { CommandError, type Runner } from '../exec.ts';
import { dnsmasqPaths } from './dnsmasq.ts';
import { isKumulusLink, servicePeerName } from './names.ts';
import { nftTable, observedRuleComments } from './nftables.ts';

export interface ObservedLink {
  name: string;
  kind?: string;
  mtu: number;
  up: boolean;
  master?: string;
  /** For VLAN devices and veths: the parent or peer. */
  link?: string;
  addresses: { ip: string; prefix: number }[];
  vxlan?: { id: number; local?: string; port?: number; learning?: boolean };
  vlan?: { id: number };
}

export interface ObservedDnsmasq {
  pid?: number;
  conf?: string;
  dhcpHosts?: string;
  dnsHosts?: string;
}

/** A network's service namespace: its end of the service veth and its default route. */
export interface ObservedServiceNamespace {
  port?: ObservedLink;
  gateway?: string;
}

export interface ObservedNetworking {
  links: Map<string, ObservedLink>;
  /** Remote VTEPs per VXLAN device (the all-zeros FDB entries that flood BUM traffic). */
  floodTargets: Map<string, string[]>;
  /** Rule comments of the agent's nftables table; undefined when the table is absent. */
  nftComments?: string[];
  /** Per Kumulus bridge. */
  dnsmasq: Map<string, ObservedDnsmasq>;
  /** The agent's service namespaces (those named with its prefix), by name. */
  serviceNamespaces: Map<string, ObservedServiceNamespace>;
}

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

/** `ip -j` prints nothing at all, not `[]`, for some empty lists. */
function parseJsonList<T>(stdout: string): T[] {
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as T[]);
}

async function observeServiceNamespaces(run: Runner, prefix: string): Promise<Map<string, ObservedServiceNamespace>> {
  const found = new Map<string, ObservedServiceNamespace>();
  for (const { name } of parseJsonList<{ name: string }>((await run(['ip', '-j', 'netns', 'list'])).stdout)) {
    if (!name.startsWith(prefix)) continue;
    const port = parseIpAddrJson((await run(['ip', '-n', name, '-j', '-d', 'addr', 'show'])).stdout).get(servicePeerName);
    const gateway = parseJsonList<{ gateway?: string }>((await run(['ip', '-n', name, '-j', 'route', 'show', 'default'])).stdout)[0]?.gateway;
    found.set(name, { ...(port ? { port } : {}), ...(gateway !== undefined ? { gateway } : {}) });
  }
  return found;
}

export async function observeNetworking(run: Runner, stateDir: string, serviceNamespacePrefix: string): Promise<ObservedNetworking> {
  const links = parseIpAddrJson((await run(['ip', '-j', '-d', 'addr', 'show'])).stdout);
  const floodTargets = new Map<string, string[]>();
  for (const link of links.values()) {
    if (link.kind !== 'vxlan' || !isKumulusLink(link.name)) continue;
    const fdb = JSON.parse((await run(['bridge', '-j', 'fdb', 'show', 'dev', link.name])).stdout) as { mac: string; dst?: string }[];
    floodTargets.set(link.name, fdb.filter((e) => e.mac === '00:00:00:00:00:00' && e.dst !== undefined).map((e) => e.dst ?? ''));
  }
  let nftComments: string[] | undefined;
  try {
    nftComments = observedRuleComments((await run(['nft', '-j', 'list', 'table', 'bridge', nftTable])).stdout);
  } catch (err) {
    if (!(err instanceof CommandError && /No such file or directory|does not exist/i.test(err.stderr))) throw err;
  }
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
    dnsmasq.set(bridge, {
      ...(alive ? { pid } : {}),
      ...(conf !== undefined ? { conf } : {}),
      ...(dhcpHosts !== undefined ? { dhcpHosts } : {}),
      ...(dnsHosts !== undefined ? { dnsHosts } : {}),
    });
  }
  const serviceNamespaces = await observeServiceNamespaces(run, serviceNamespacePrefix);
  return { links, floodTargets, ...(nftComments !== undefined ? { nftComments } : {}), dnsmasq, serviceNamespaces };
}
