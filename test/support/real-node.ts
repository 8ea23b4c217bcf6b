import * as k8s from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveHelm, startControlPlane, type ControlPlane } from '../../lib/controlplane/index.ts';
import { startNode, type TestNode } from '../../lib/controlplane/node.ts';
import { CLUSTER_CIDR, createNodeNetwork, SERVICE_CIDR, type NodeNetwork } from '../../lib/controlplane/node-network.ts';
import { createKubeClient, type KubeClient } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { startLocalLibvirtd, type LocalLibvirtd } from '../../node-daemon/local-libvirtd.ts';
import { buildImages, type BuiltImages } from '../../packaging/images.ts';

const exec = promisify(execFile);

/**
 * A real Kubernetes cluster for e2e tests of the Helm chart: the control plane grown to host
 * nodes, one node (containerd, kubelet, kube-proxy) in a network namespace of its own, and a
 * private libvirtd in that namespace as the node's hypervisor, with the Kumulus images built
 * here and imported into the node. stop() tears it all down and returns whatever is left on
 * the host: the node's own check plus a before/after comparison of the host's links, network
 * namespaces, mounts and firewall rules.
 */

export interface RealCluster {
  network: NodeNetwork;
  plane: ControlPlane;
  node: TestNode;
  libvirtd: LocalLibvirtd;
  /** The folder holding the libvirtd socket (the agent mounts it). */
  libvirtSocketDir: string;
  /** The node's data folder (the agent's dataDir): a shared mount point, so Bidirectional mounts work. */
  dataDir: string;
  /** A mount point inside dataDir, as a SharedMountPoint pool needs on every host of its scope. */
  primaryDir: string;
  /** The bridges the examples' KVM traffic labels name, made in the node as an administrator would. */
  trafficBridges: readonly string[];
  images: BuiltImages;
  kubeConfig: k8s.KubeConfig;
  client: KubeClient;
  helmPath: string;
  /** Runs helm against this cluster. */
  helm(args: string[]): Promise<string>;
  /** Runs a command in the node's network namespace. */
  inNode(argv: string[], env?: NodeJS.ProcessEnv): Promise<string>;
  stop(): Promise<string[]>;
}

/** examples/zone-advanced/04-physical-network.yaml's KVM traffic labels. */
const TRAFFIC_BRIDGES = ['cloudbr0', 'cloudbr1'];

const NEEDED_COMMANDS = ['containerd', 'ctr', 'runc', 'nsenter', 'iptables', 'mmdebstrap', 'buildah', 'libvirtd', 'virsh', 'git'];
const CNI_PLUGINS = ['bridge', 'host-local', 'portmap', 'loopback'];

async function hasCommand(name: string): Promise<boolean> {
  return exec('sh', ['-c', `command -v ${name}`]).then(
    () => true,
    () => false,
  );
}

/** What this machine lacks to run a real node, or undefined when it has everything. */
export async function missingNodeCapability(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'root (the node runs containerd, a kubelet and network namespaces)';
  for (const command of NEEDED_COMMANDS) if (!(await hasCommand(command))) return `the command ${command} (scripts/ensure-host-packages.sh installs it)`;
  for (const plugin of CNI_PLUGINS) if (!existsSync(`/usr/lib/cni/${plugin}`)) return `the CNI plugin /usr/lib/cni/${plugin} (Debian containernetworking-plugins)`;
  if (!existsSync('/sys/fs/cgroup/memory/cgroup.procs') && !existsSync('/sys/fs/cgroup/cgroup.controllers')) return 'a cgroup file system under /sys/fs/cgroup';
  if (!existsSync('/dev/kvm')) return '/dev/kvm (the agent runs real KVM guests)';
  const netns = `kumulus-probe-${randomBytes(3).toString('hex')}`;
  try {
    await exec('ip', ['netns', 'add', netns]);
  } catch {
    return 'network namespaces (ip netns add failed)';
  } finally {
    await exec('ip', ['netns', 'del', netns]).catch(() => undefined);
  }
  return undefined;
}

interface HostSnapshot {
  links: Set<string>;
  netns: Set<string>;
  mounts: Set<string>;
  rules: Set<string>;
}

async function hostSnapshot(): Promise<HostSnapshot> {
  const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);
  const links = lines((await exec('ip', ['-o', 'link', 'show'])).stdout).map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '');
  const netns = lines((await exec('ip', ['netns', 'list'])).stdout).map((l) => l.split(' ')[0] ?? '');
  const mounts = lines(await readFile('/proc/self/mountinfo', 'utf8')).map((l) => l.split(' ')[4] ?? '');
  // Rules without counters and handles, so only real changes differ.
  const rules = lines((await exec('iptables-save')).stdout).filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, ''));
  return { links: new Set(links), netns: new Set(netns), mounts: new Set(mounts), rules: new Set(rules) };
}

function added(before: HostSnapshot, after: HostSnapshot): string[] {
  const diff: string[] = [];
  for (const key of ['links', 'netns', 'mounts', 'rules'] as const) {
    for (const item of after[key]) if (!before[key].has(item)) diff.push(`host ${key}: ${item}`);
  }
  return diff;
}

export async function startRealCluster(): Promise<RealCluster> {
  const logger = log.child({ test: 'real-node' });
  const before = await hostSnapshot();
  const [images, helmPath] = [await buildImages({ logger }), await resolveHelm(logger)];
  const id = randomBytes(3).toString('hex');
  const dir = `/var/tmp/kn-${id}`;
  const dataDir = join(dir, 'data');
  const primaryDir = join(dataDir, 'primary');
  await mkdir(dataDir, { recursive: true });
  const undo: (() => Promise<string[]>)[] = [];
  const stop = async () => {
    const left: string[] = [];
    for (const step of undo.splice(0).reverse()) left.push(...(await step().catch((err: unknown) => [`teardown: ${String(err)}`])));
    left.push(...added(before, await hostSnapshot()));
    return left;
  };
  try {
    const network = await createNodeNetwork(id);
    undo.push(async () => {
      // Reported, then killed: a failed test must not leave a QEMU running on the host.
      const pids = (await exec('ip', ['netns', 'pids', network.netns]).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await network.remove();
      return pids.map((pid) => `process ${pid} in the node's network namespace`);
    });
    // What a hypervisor node has before Kumulus comes: its traffic-label bridges (they go with the namespace).
    for (const bridge of TRAFFIC_BRIDGES) {
      await exec('ip', ['-n', network.netns, 'link', 'add', 'name', bridge, 'type', 'bridge']);
      await exec('ip', ['-n', network.netns, 'link', 'set', bridge, 'up']);
    }
    const plane = await startControlPlane({ logger, readyTimeoutMs: 180_000, nodes: { address: network.hostAddress, clusterCidr: CLUSTER_CIDR, serviceCidr: SERVICE_CIDR } });
    undo.push(async () => {
      await plane.stop();
      return [];
    });
    const node = await startNode({
      plane,
      network,
      name: `kumulus-node-${id}`,
      dir: join(dir, 'n'),
      images: [images.pause, images.kumulus, images.agent],
      pauseImage: images.pause.ref,
      // The primary storage's mount point inside the data folder, as a shared file system would be.
      sharedDirs: [dataDir, primaryDir],
      logger,
    });
    undo.push(() => node.stop());
    // Before the agent's first mount: this libvirtd keeps a copy of the mount table it starts with.
    const libvirtDir = join(dir, 'libvirtd');
    const libvirtd = await startLocalLibvirtd(libvirtDir, logger, { enter: (argv) => network.enter(argv) });
    undo.push(async () => {
      const domains = (await exec('virsh', ['-c', libvirtd.uri, 'list', '--all', '--uuid']).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean);
      for (const uuid of domains) {
        await exec('virsh', ['-c', libvirtd.uri, 'destroy', uuid]).catch(() => undefined);
        await exec('virsh', ['-c', libvirtd.uri, 'undefine', '--nvram', uuid]).catch(() => undefined);
      }
      await libvirtd.stop();
      return domains.map((uuid) => `libvirt domain ${uuid}`);
    });
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromString(plane.kubeconfig);
    const env = { ...process.env, KUBECONFIG: plane.kubeconfigPath, HELM_CACHE_HOME: join(dir, 'helm', 'cache'), HELM_CONFIG_HOME: join(dir, 'helm', 'config'), HELM_DATA_HOME: join(dir, 'helm', 'data') };
    return {
      network,
      plane,
      node,
      libvirtd,
      libvirtSocketDir: join(libvirtDir, 'sock'),
      dataDir,
      primaryDir,
      trafficBridges: TRAFFIC_BRIDGES,
      images,
      kubeConfig,
      client: createKubeClient(kubeConfig),
      helmPath,
      helm: async (args) => {
        try {
          return (await exec(helmPath, args, { env, maxBuffer: 64 * 1024 * 1024 })).stdout;
        } catch (err) {
          const e = err as { stdout?: string; stderr?: string };
          throw new Error(`helm ${args.join(' ')} failed: ${e.stderr ?? ''}${e.stdout ?? ''}`, { cause: err });
        }
      },
      inNode: async (argv, extraEnv) => {
        const [command = '', ...args] = network.enter(argv);
        return (await exec(command, args, { env: { ...process.env, ...extraEnv }, timeout: 60_000 })).stdout;
      },
      stop: async () => {
        const left = await stop();
        if (left.length === 0) await exec('rm', ['-rf', dir]);
        return left;
      },
    };
  } catch (err) {
    const left = await stop();
    if (left.length) logger.error('a failed start left things behind', { leftovers: left });
    throw err;
  }
}
