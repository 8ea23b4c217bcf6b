import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * The network of the test harness's node: a network namespace of its own, joined to the host
 * by one veth pair with a /30 on it. The node's processes (containerd, kubelet, kube-proxy,
 * libvirtd) run in that namespace, so the kubelet's and kube-proxy's iptables rules, the pod
 * bridge and ip_forward stay off the host, and the namespace has no default route: nothing it
 * sends can leave this machine. Every address is checked with `ip route get` before its first
 * use, and anything unexpected aborts: a check that fails silently once sent a request out.
 */

export const SERVICE_CIDR = '10.96.0.0/16';
export const CLUSTER_CIDR = '10.244.0.0/16';

export interface RouteInfo {
  type: 'local' | 'unicast' | 'other';
  address: string;
  dev?: string;
  via?: string;
}

/** Parses the first line of `ip route get ADDR`, e.g. `local 10.250.3.1 dev lo table local src 10.250.3.1 uid 0`. */
export function parseRouteGet(output: string): RouteInfo {
  const words = (output.split('\n')[0] ?? '').trim().split(/\s+/);
  const [first = ''] = words;
  const typed = ['local', 'broadcast', 'multicast', 'unreachable', 'blackhole', 'prohibit', 'throw'].includes(first);
  const address = typed ? (words[1] ?? '') : first;
  const after = (key: string) => {
    const i = words.indexOf(key);
    return i >= 0 ? words[i + 1] : undefined;
  };
  const dev = after('dev');
  const via = after('via');
  return {
    type: first === 'local' ? 'local' : typed ? 'other' : 'unicast',
    address,
    ...(dev !== undefined ? { dev } : {}),
    ...(via !== undefined ? { via } : {}),
  };
}

export interface RouteExpectation {
  type: 'local' | 'unicast';
  dev?: string;
  via?: string;
}

/** Why `route` is not what was expected, or undefined when it is. */
export function routeMismatch(route: RouteInfo, expected: RouteExpectation): string | undefined {
  if (route.type !== expected.type) return `a ${route.type} route, not ${expected.type}`;
  if (expected.dev !== undefined && route.dev !== expected.dev) return `device ${route.dev ?? '(none)'}, not ${expected.dev}`;
  if (expected.via !== route.via) return expected.via === undefined ? `a gateway (${route.via ?? ''})` : `gateway ${route.via ?? '(none)'}, not ${expected.via}`;
  return undefined;
}

async function ip(args: string[]): Promise<string> {
  try {
    return (await exec('ip', args)).stdout;
  } catch (err) {
    throw new Error(`ip ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`, { cause: err });
  }
}

/** The route the kernel would take to `address` (from inside `netns` when given). */
export async function routeTo(address: string, netns?: string): Promise<RouteInfo> {
  return parseRouteGet(await ip([...(netns ? ['-n', netns] : []), 'route', 'get', address]));
}

/** Aborts unless the kernel routes `address` as expected: call it before the first packet to any address. */
export async function assertRoute(address: string, expected: RouteExpectation, netns?: string): Promise<void> {
  const route = await routeTo(address, netns);
  const why = routeMismatch(route, expected);
  if (why) {
    const where = netns ? `in network namespace ${netns}` : 'on the host';
    throw new Error(`refusing to use ${address}: ${where}, \`ip route get ${address}\` gives ${why}; traffic could leave this machine`);
  }
}

/** The first address of a CIDR plus `offset`, e.g. (10.244.0.0/24, 1) → 10.244.0.1. */
export function addressIn(cidr: string, offset: number): string {
  const [base = ''] = cidr.split('/');
  const n = base.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0) + offset;
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
}

export interface NodeNetwork {
  /** The namespace's name; its handle is /run/netns/<name>. */
  netns: string;
  netnsPath: string;
  hostLink: string;
  nodeLink: string;
  /** On the host's end of the link: the apiserver listens here. */
  hostAddress: string;
  /** In the namespace: the node's InternalIP. */
  nodeAddress: string;
  /** Runs argv in the node's network namespace only (same mount namespace: the kubelet's mounts stay visible to containerd). */
  enter(argv: string[]): string[];
  /** Routes the node's pod CIDR from the host through the node (the apiserver calls webhook pods directly). */
  routePods(podCidr: string): Promise<void>;
  /** Deletes the namespace and the link; the caller has stopped everything inside. */
  remove(): Promise<void>;
}

async function hostDefaultRoute(): Promise<RouteInfo | undefined> {
  const line = (await ip(['route', 'show', 'default'])).split('\n')[0]?.trim();
  return line ? parseRouteGet(line.replace(/^default/, '0.0.0.0')) : undefined;
}

/** True when nothing on the host claims `address`: it would follow the default route, or no route at all. */
async function unclaimed(address: string, defaultRoute: RouteInfo | undefined): Promise<boolean> {
  const route = await routeTo(address).catch(() => undefined);
  if (!route) return true;
  return defaultRoute !== undefined && route.type === 'unicast' && route.via === defaultRoute.via && route.dev === defaultRoute.dev;
}

export async function createNodeNetwork(id: string): Promise<NodeNetwork> {
  const netns = `kumulus-node-${id}`;
  const hostLink = `kn${id}h`;
  const nodeLink = `kn${id}n`;
  const defaultRoute = await hostDefaultRoute();
  for (const [name, cidr] of [['service', SERVICE_CIDR], ['cluster', CLUSTER_CIDR]] as const) {
    if (!(await unclaimed(addressIn(cidr, 1), defaultRoute))) throw new Error(`the ${name} CIDR ${cidr} is already routed on this host: refusing to start a node over it`);
  }
  let subnet = '';
  for (let attempt = 0; attempt < 20 && !subnet; attempt++) {
    const candidate = `10.250.${randomInt(0, 256)}.${randomInt(0, 64) * 4}`;
    if ((await unclaimed(addressIn(candidate, 1), defaultRoute)) && (await unclaimed(addressIn(candidate, 2), defaultRoute))) subnet = candidate;
  }
  if (!subnet) throw new Error('found no free /30 in 10.250.0.0/16 for the node link');
  const hostAddress = addressIn(subnet, 1);
  const nodeAddress = addressIn(subnet, 2);

  const undo: (() => Promise<unknown>)[] = [];
  const remove = async () => {
    const problems: string[] = [];
    for (const step of undo.splice(0).reverse()) await step().catch((err: unknown) => problems.push(String(err)));
    if (problems.length) throw new Error(`removing the node network failed: ${problems.join('; ')}`);
  };
  try {
    await ip(['netns', 'add', netns]);
    undo.push(() => ip(['netns', 'del', netns]));
    await ip(['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', nodeLink]);
    undo.push(() => ip(['link', 'del', hostLink]).catch(() => undefined));
    await ip(['link', 'set', nodeLink, 'netns', netns]);
    await ip(['addr', 'add', `${hostAddress}/30`, 'dev', hostLink]);
    await ip(['link', 'set', hostLink, 'up']);
    await ip(['-n', netns, 'addr', 'add', `${nodeAddress}/30`, 'dev', nodeLink]);
    await ip(['-n', netns, 'link', 'set', nodeLink, 'up']);
    await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
    // Service addresses are only ever DNATed by kube-proxy; one that is not goes to loopback, never out.
    await ip(['-n', netns, 'route', 'add', SERVICE_CIDR, 'dev', 'lo']);
    await exec('ip', ['netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);

    await assertRoute(hostAddress, { type: 'local', dev: 'lo' });
    await assertRoute(nodeAddress, { type: 'unicast', dev: hostLink });
    await assertRoute(hostAddress, { type: 'unicast', dev: nodeLink }, netns);
    await assertRoute(nodeAddress, { type: 'local', dev: 'lo' }, netns);
    await assertRoute(addressIn(SERVICE_CIDR, 1), { type: 'unicast', dev: 'lo' }, netns);
  } catch (err) {
    await remove().catch(() => undefined);
    throw err;
  }

  return {
    netns,
    netnsPath: `/run/netns/${netns}`,
    hostLink,
    nodeLink,
    hostAddress,
    nodeAddress,
    enter: (argv) => ['nsenter', `--net=/run/netns/${netns}`, '--', ...argv],
    routePods: async (podCidr) => {
      await ip(['route', 'add', podCidr, 'via', nodeAddress, 'dev', hostLink]);
      await assertRoute(addressIn(podCidr, 2), { type: 'unicast', dev: hostLink, via: nodeAddress });
    },
    remove,
  };
}
