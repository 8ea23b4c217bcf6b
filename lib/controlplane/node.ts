import * as k8s from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, readlink, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { createKubeClient } from '../kube-client.ts';
import type { Logger } from '../log.ts';
import { issueCertificate } from '../pki.ts';
import { resolveNodeBinaries } from './binaries.ts';
import type { ControlPlane } from './controlplane.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import { CLUSTER_CIDR, type NodeNetwork } from './node-network.ts';
import { startSupervisor, type ManagedProcess } from './supervisor.ts';

const exec = promisify(execFile);

/**
 * A real Kubernetes node for the test harness: containerd (with runc and the CNI plugins from
 * Debian), a kubelet and kube-proxy, all in the node's network namespace (node-network.ts).
 * Nothing is pulled: every image, the pause image included, is imported from an OCI archive,
 * and image garbage collection is off. This machine's quirks are the spike's (issue 14): root
 * lacks CAP_SYS_RESOURCE (containerd's restrict_oom_score_adj), cgroup v1 (cgroupfs driver,
 * failCgroupV1 false), swap tolerated. The kubelet's cgroups live under a root of their own.
 *
 * stop() is strict: the kubelet stops first, the CRI stops and removes every pod, then
 * kube-proxy and containerd stop; whatever the node mounted is unmounted, its cgroups removed,
 * and the result is checked: leftovers (processes, mounts, links, namespaces, cgroups) are
 * returned, so a test can assert there are none.
 */

export interface NodeOptions {
  plane: ControlPlane;
  network: NodeNetwork;
  /** The node's name (and its Host's, once the agent joins). */
  name: string;
  /** A short folder for the node's state (socket paths must stay under 108 bytes). */
  dir: string;
  /** OCI archives to import before the kubelet starts, each with the reference it holds. */
  images: NodeImage[];
  /** The pause image's reference (it must be among `images`). */
  pauseImage: string;
  logger: Logger;
  /** Host folders pods mount with Bidirectional propagation: made shared mount points for the node's life. */
  sharedDirs?: string[];
  readyTimeoutMs?: number;
}

export interface NodeImage {
  archive: string;
  /** e.g. kumulus.local/pause:0123abcd: what pod specs name, with imagePullPolicy Never. */
  ref: string;
}

export interface TestNode {
  name: string;
  address: string;
  podCidr: string;
  containerdSocket: string;
  /** crictl against this node's containerd. */
  crictl(args: string[]): Promise<string>;
  /** Imports one more OCI archive (an upgraded image). */
  importImage(image: NodeImage): Promise<void>;
  /** Strict teardown; returns what it could not remove (empty when clean). */
  stop(): Promise<string[]>;
}

const CGROUP_ROOT = '/sys/fs/cgroup';
const CONTAINER_LOG_LINKS = '/var/log/containers';
const CNI_RESULTS = '/var/lib/cni/results';

async function run(argv: string[]): Promise<string> {
  const [file = '', ...args] = argv;
  try {
    return (await exec(file, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${argv.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** Mount points at or below `prefix`, deepest first (the order to unmount them in). */
async function mountsUnder(prefix: string): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  const points = table
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === prefix || point.startsWith(`${prefix}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** The cgroup v1 hierarchies (and the v2 one, where mounted) the kubelet and runc write into. */
async function cgroupHierarchies(): Promise<string[]> {
  const entries = await readdir(CGROUP_ROOT).catch(() => [] as string[]);
  return entries.map((e) => join(CGROUP_ROOT, e)).filter((path) => existsSync(join(path, 'cgroup.procs')));
}

/** Removes a cgroup tree bottom-up (each directory must be empty of processes by then). */
async function removeCgroupTree(path: string): Promise<void> {
  if (!existsSync(path)) return;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeCgroupTree(join(path, entry.name));
  }
  await rmdir(path);
}

async function waitFor<T>(what: string, deadline: number, probe: () => Promise<T | undefined>, proc?: ManagedProcess): Promise<T> {
  let exited: number | string | undefined;
  void proc?.exited.then((code) => (exited = code));
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (exited !== undefined || Date.now() > deadline) {
      const why = exited !== undefined ? `${proc?.name} exited with ${exited}` : 'timed out';
      throw new Error(`waiting for ${what}: ${why}${proc ? `; the end of ${proc.logPath}:\n${await proc.logTail()}` : ''}`);
    }
    await sleep(250);
  }
}

export async function startNode(options: NodeOptions): Promise<TestNode> {
  const { plane, network, name, dir } = options;
  const logger = options.logger.child({ component: 'node', node: name });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 180_000);
  const binaries = await resolveNodeBinaries(logger);
  const cgroupRoot = `/kumulus-${network.netns.replace(/^kumulus-/, '')}`;
  const paths = {
    containerdRoot: join(dir, 'containerd', 'root'),
    containerdState: join(dir, 'containerd', 'state'),
    socket: join(dir, 'containerd', 'containerd.sock'),
    cniConf: join(dir, 'cni', 'net.d'),
    cniIpam: join(dir, 'cni', 'ipam'),
    kubelet: join(dir, 'kubelet'),
    pki: join(dir, 'pki'),
    logs: join(dir, 'logs'),
    podLogs: join(dir, 'pod-logs'),
  };
  for (const path of Object.values(paths)) if (!path.endsWith('.sock')) await mkdir(path, { recursive: true });
  const supervisor = startSupervisor(paths.logs);
  const netnsBefore = new Set(await readdir('/run/netns').catch(() => [] as string[]));
  const sharedDirs: string[] = [];
  let started = false;
  const crictl = (args: string[]) => run([binaries.crictl, '--runtime-endpoint', `unix://${paths.socket}`, '--image-endpoint', `unix://${paths.socket}`, '--timeout', '30s', ...args]);
  const ctr = (args: string[]) => run(['ctr', '--address', paths.socket, '--namespace', 'k8s.io', ...args]);
  const importImage = async (image: NodeImage) => {
    // The base name keeps the archive's own reference (ctr would otherwise prefix it with import-<date>).
    await ctr(['images', 'import', '--base-name', image.ref.replace(/:[^:/]+$/, ''), image.archive]);
    const refs = (await ctr(['images', 'ls', '-q'])).split('\n');
    if (!refs.includes(image.ref)) throw new Error(`importing ${image.archive} did not give the image ${image.ref}; containerd has: ${refs.join(' ')}`);
  };

  const stop = async (): Promise<string[]> => {
    const problems: string[] = [];
    const attempt = async (what: string, step: () => Promise<unknown>) => {
      await step().catch((err: unknown) => problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`));
    };
    // The kubelet first, so it restarts nothing; then the CRI removes every pod while containerd runs.
    await attempt('stop kubelet', async () => (kubelet ? supervisor.stop(kubelet, 10_000) : undefined));
    const sandboxes: string[] = [];
    if (started) {
      await attempt('stop pods', async () => {
        const pods = (await crictl(['pods', '-q'])).split('\n').filter(Boolean);
        sandboxes.push(...pods);
        for (const pod of pods) await crictl(['stopp', pod]);
        for (const pod of pods) await crictl(['rmp', '--force', pod]);
        const left = (await crictl(['pods', '-q'])).split('\n').filter(Boolean);
        if (left.length) throw new Error(`pods still present after removal: ${left.join(', ')}`);
      });
    }
    await attempt('stop kube-proxy and containerd', () => supervisor.stopAll());
    // Shims outlive containerd by design; after the CRI removed their pods none may remain.
    await attempt('no containerd shims', async () => {
      const shims = await processesMentioning(paths.socket);
      for (const pid of shims) process.kill(pid, 'SIGKILL');
      if (shims.length) throw new Error(`containerd shims were still running (killed): ${shims.join(', ')}`);
    });
    await attempt('unmount', async () => {
      for (const point of await mountsUnder(dir)) await run(['umount', '--lazy', point]);
      for (const shared of sharedDirs.splice(0).reverse()) await run(['umount', shared]);
    });
    // The kubelet keeps one symlink per container in this fixed folder, and removes it only while it runs.
    await attempt('container log links', async () => {
      for (const link of await readdir(CONTAINER_LOG_LINKS).catch(() => [] as string[])) {
        const target = await readlink(join(CONTAINER_LOG_LINKS, link)).catch(() => '');
        if (target.startsWith(`${paths.podLogs}/`)) await rm(join(CONTAINER_LOG_LINKS, link));
      }
    });
    await attempt('remove cgroups', async () => {
      for (const hierarchy of await cgroupHierarchies()) await removeCgroupTree(join(hierarchy, cgroupRoot));
    });

    // The check: nothing of the node's may be left.
    const left: string[] = [...problems];
    for (const point of await mountsUnder(dir)) left.push(`mount ${point}`);
    for (const pid of await processesMentioning(paths.socket)) left.push(`process ${pid} of containerd`);
    for (const ns of await readdir('/run/netns').catch(() => [] as string[])) {
      if (!netnsBefore.has(ns) && ns.startsWith('cni-')) left.push(`pod network namespace ${ns}`);
    }
    for (const hierarchy of await cgroupHierarchies()) if (existsSync(join(hierarchy, cgroupRoot))) left.push(`cgroup ${join(hierarchy, cgroupRoot)}`);
    // libcni's cache of attachments (a fixed folder): CNI DEL removes a pod's entries.
    for (const entry of await readdir(CNI_RESULTS).catch(() => [] as string[])) {
      if (entry.startsWith(`${network.netns}-`) || sandboxes.some((id) => entry.includes(id))) left.push(`CNI result ${join(CNI_RESULTS, entry)}`);
    }
    if (left.length === 0) await rm(dir, { recursive: true, force: true });
    logger.info('node stopped', { leftovers: left.length });
    return left;
  };

  let kubelet: ManagedProcess | undefined;
  const startProcess = (label: string, argv: string[]) => {
    const [command = '', ...args] = network.enter(argv);
    return supervisor.start(label, command, args);
  };

  try {
    for (const shared of options.sharedDirs ?? []) {
      await mkdir(shared, { recursive: true });
      await run(['mount', '--bind', shared, shared]);
      sharedDirs.push(shared);
      await run(['mount', '--make-shared', shared]);
    }
    for (const hierarchy of await cgroupHierarchies()) {
      const path = join(hierarchy, cgroupRoot);
      await mkdir(path, { recursive: true });
      // A new v1 cpuset has no CPUs or memory nodes of its own: give it its parent's.
      if (hierarchy.endsWith('/cpuset')) {
        for (const file of ['cpuset.cpus', 'cpuset.mems']) await copyFile(join(hierarchy, file), join(path, file)).catch(async () => writeFile(join(path, file), await readFile(join(hierarchy, file))));
      }
    }

    const [kubeletClient, kubeletServing, proxyClient] = await Promise.all([
      issueCertificate(plane.ca, { commonName: `system:node:${name}`, organizations: ['system:nodes'], usage: 'client', validDays: 30 }),
      issueCertificate(plane.ca, { commonName: name, dnsNames: [name], ipAddresses: [network.nodeAddress], usage: 'server', validDays: 30 }),
      issueCertificate(plane.ca, { commonName: 'system:kube-proxy', usage: 'client', validDays: 30 }),
    ]);
    const file = async (fileName: string, content: string) => {
      const path = join(paths.pki, fileName);
      await writeFile(path, content, { mode: 0o600 });
      return path;
    };
    const caFile = await file('ca.crt', plane.caPem);
    const kubeletKubeconfig = await file('kubelet.kubeconfig', renderKubeconfig({ server: plane.server, caPem: plane.caPem, clientCertPem: kubeletClient.certPem, clientKeyPem: kubeletClient.keyPem, name: 'kubelet' }));
    const proxyKubeconfig = await file('kube-proxy.kubeconfig', renderKubeconfig({ server: plane.server, caPem: plane.caPem, clientCertPem: proxyClient.certPem, clientKeyPem: proxyClient.keyPem, name: 'kube-proxy' }));
    const servingCert = await file('kubelet.crt', kubeletServing.certPem);
    const servingKey = await file('kubelet.key', kubeletServing.keyPem);

    const containerdConfig = join(dir, 'containerd', 'config.toml');
    await writeFile(
      containerdConfig,
      [
        'version = 2',
        `root = "${paths.containerdRoot}"`,
        `state = "${paths.containerdState}"`,
        'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]',
        '[grpc]',
        `  address = "${paths.socket}"`,
        '[ttrpc]',
        `  address = "${paths.socket}.ttrpc"`,
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${join(dir, 'containerd', 'opt')}"`,
        '[plugins."io.containerd.grpc.v1.cri"]',
        `  sandbox_image = "${options.pauseImage}"`,
        // Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails ("can't get final child's PID").
        '  restrict_oom_score_adj = true',
        '  disable_apparmor = true',
        '  disable_tcp_service = true',
        '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"',
        '  [plugins."io.containerd.grpc.v1.cri".containerd]',
        '    snapshotter = "overlayfs"',
        '    default_runtime_name = "runc"',
        '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
        '      runtime_type = "io.containerd.runc.v2"',
        '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
        '        SystemdCgroup = false',
        '  [plugins."io.containerd.grpc.v1.cri".cni]',
        '    bin_dir = "/usr/lib/cni"',
        `    conf_dir = "${paths.cniConf}"`,
        '',
      ].join('\n'),
    );
    const containerd = startProcess('containerd', ['containerd', '--config', containerdConfig]);
    await waitFor('containerd', deadline, async () => ((await crictl(['info'])).includes('"RuntimeReady"') ? true : undefined), containerd);
    started = true;
    for (const image of options.images) await importImage(image);
    if (!options.images.some((i) => i.ref === options.pauseImage)) throw new Error(`the pause image ${options.pauseImage} is not among the images to import`);

    const resolvConf = await file('resolv.conf', '# no name servers: nothing on this node resolves names outside the machine\n');
    const kubeletConfig = await file(
      'kubelet.yaml',
      stringify({
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        address: network.nodeAddress,
        port: 10250,
        readOnlyPort: 0,
        healthzBindAddress: '127.0.0.1',
        healthzPort: 10248,
        authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: caFile } },
        authorization: { mode: 'Webhook' },
        tlsCertFile: servingCert,
        tlsPrivateKeyFile: servingKey,
        cgroupDriver: 'cgroupfs',
        cgroupRoot,
        failCgroupV1: false,
        failSwapOn: false,
        containerRuntimeEndpoint: `unix://${paths.socket}`,
        resolvConf,
        podLogsDir: paths.podLogs,
        clusterDomain: 'cluster.local',
        // Nothing can be pulled again: images must never be collected.
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
        maxPods: 30,
        serializeImagePulls: false,
        registerNode: true,
        rotateCertificates: false,
        syncFrequency: '10s',
        fileCheckFrequency: '0s',
        nodeStatusUpdateFrequency: '5s',
      }),
    );
    kubelet = startProcess('kubelet', [
      binaries.kubelet,
      `--config=${kubeletConfig}`,
      `--kubeconfig=${kubeletKubeconfig}`,
      `--root-dir=${paths.kubelet}`,
      `--hostname-override=${name}`,
      `--node-ip=${network.nodeAddress}`,
      '--v=1',
    ]);

    const nodePath = `/api/v1/nodes/${name}`;
    const kc = new k8s.KubeConfig();
    kc.loadFromString(plane.kubeconfig);
    const admin = createKubeClient(kc);
    const podCidr = await waitFor(
      'the node to register and get a pod CIDR',
      deadline,
      async () => (await admin.request<{ spec?: { podCIDR?: string } }>('GET', nodePath)).spec?.podCIDR,
      kubelet,
    );
    await network.routePods(podCidr);
    await writeFile(
      join(paths.cniConf, '10-kumulus-node.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: network.netns,
        plugins: [
          {
            type: 'bridge',
            bridge: 'cni0',
            isGateway: true,
            // The node's namespace has no default route, so a pod's default route ends there.
            isDefaultGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: { type: 'host-local', ranges: [[{ subnet: podCidr }]], dataDir: paths.cniIpam },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }),
    );
    const proxyConfig = await file(
      'kube-proxy.yaml',
      stringify({
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        clientConnection: { kubeconfig: proxyKubeconfig },
        mode: 'iptables',
        hostnameOverride: name,
        clusterCIDR: CLUSTER_CIDR,
        bindAddress: network.nodeAddress,
        healthzBindAddress: '127.0.0.1:10256',
        metricsBindAddress: '127.0.0.1:10249',
        // Conntrack limits are global to the kernel: leave them alone.
        conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      }),
    );
    startProcess('kube-proxy', [binaries.kubeProxy, `--config=${proxyConfig}`, '--v=1']);
    await waitFor(
      'the node to become Ready',
      deadline,
      async () => {
        const node = await admin.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', nodePath);
        return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
      },
      kubelet,
    );
    logger.info('node ready', { address: network.nodeAddress, podCidr });
    return {
      name,
      address: network.nodeAddress,
      podCidr,
      containerdSocket: paths.socket,
      crictl,
      importImage,
      stop,
    };
  } catch (err) {
    const left = await stop();
    if (left.length) logger.error('node teardown after a failed start left things behind', { leftovers: left });
    throw err;
  }
}

/** Processes whose command line names `text` (the shims name their containerd's socket). */
async function processesMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(join('/proc', entry, 'cmdline'), 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(Number(entry));
  }
  return found;
}
