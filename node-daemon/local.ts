/**
 * The agent of `kumulus local`: this machine is the cloud's one host. It uses the libvirtd
 * already running (qemu:///system) or starts a private one, KVM where /dev/kvm exists, and
 * makes the examples' SharedMountPoint path a mount point (a bind mount of a directory in the
 * state dir, undone on stop) so their primary storage comes Up. It joins cluster1, the
 * examples' cluster, unless told otherwise, and waits for it to exist.
 *
 * A run that was killed (SIGKILL, a crash) could not undo anything: the next run in the same
 * state dir adopts its private libvirtd with the VMs in it (local-libvirtd.ts), and the mounts
 * and bridges it made, which host-setup.json records before they are made, to undo them on
 * stop as its own.
 */
import type * as k8s from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../lib/log.ts';
import { commandRunner } from './drivers/exec.ts';
import { mountAt } from './drivers/storage/mounts.ts';
import { libvirtAnswers, startLocalLibvirtd, type LocalLibvirtd } from './local-libvirtd.ts';
import { runAgent, type RunningAgent } from './main.ts';
import { errorMessage } from '../lib/error-message.ts';

/** examples/zone-advanced/06-primary-storage.yaml's SharedMountPoint. */
export const EXAMPLE_SHARED_MOUNT_POINTS = ['/var/lib/kumulus/primary'];
/** The KVM traffic labels of examples/zone-advanced/04-physical-network.yaml: a host lacking them is no placement target. */
export const EXAMPLE_BRIDGES = ['cloudbr0', 'cloudbr1'];

export interface LocalAgentOptions {
  kubeConfig: k8s.KubeConfig;
  /** Holds the agent's state, the private libvirtd and the directories bind-mounted as shared storage. */
  stateDir: string;
  logger: Logger;
  /** Default cluster1. */
  cluster?: string;
  /** Default: the examples' one. */
  sharedMountPoints?: readonly string[];
  /** Bridges to create when missing. Default: the examples' traffic labels. */
  bridges?: readonly string[];
  /** Default: NODE_NAME, else the host name. */
  nodeName?: string;
  logLevel?: string;
}

export interface LocalAgent {
  readonly agent: RunningAgent;
  readonly libvirtUri: string;
  stop(): Promise<void>;
}

/** What a local agent made on the host, recorded before it is made: a killed run's is the next run's to undo. */
interface HostSetup {
  mounts: string[];
  bridges: string[];
}

export async function startLocalAgent(options: LocalAgentOptions): Promise<LocalAgent> {
  const run = commandRunner();
  const logger = options.logger.child({ component: 'local-agent' });
  const undo: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const step of undo.splice(0).reverse()) {
      await step().catch((err: unknown) => logger.error('local agent cleanup failed', { error: errorMessage(err) }));
    }
  };
  await mkdir(options.stateDir, { recursive: true });
  const setupPath = join(options.stateDir, 'host-setup.json');
  const previous: HostSetup = { mounts: [], bridges: [], ...(JSON.parse(await readFile(setupPath, 'utf8').catch(() => '{}')) as Partial<HostSetup>) };
  const setup: HostSetup = { mounts: [], bridges: [] };
  const record = () => writeFile(setupPath, `${JSON.stringify(setup)}\n`);
  const own = (list: string[], item: string, remove: () => Promise<void>) => {
    if (!list.includes(item)) list.push(item);
    undo.push(async () => {
      await remove();
      list.splice(list.indexOf(item), 1);
      await record();
    });
  };
  try {
    // Before any private libvirtd starts: it takes a copy of the mount table, and its QEMUs must see these.
    for (const [i, target] of (options.sharedMountPoints ?? EXAMPLE_SHARED_MOUNT_POINTS).entries()) {
      const unmount = () => run(['umount', target]).then(() => undefined);
      await mkdir(target, { recursive: true });
      if (await mountAt(target)) {
        // Someone else's mount is theirs; the one a killed run made is this run's.
        if (previous.mounts.includes(target)) {
          own(setup.mounts, target, unmount);
          logger.info('adopted the bind mount a previous run made', { target });
        }
        continue;
      }
      const source = join(options.stateDir, 'shared', String(i));
      await mkdir(source, { recursive: true });
      own(setup.mounts, target, unmount);
      await record();
      await run(['mount', '--bind', source, target]);
      logger.info('bind-mounted a local directory as shared primary storage', { source, target });
    }

    for (const bridge of options.bridges ?? EXAMPLE_BRIDGES) {
      const remove = () => run(['ip', 'link', 'del', bridge]).then(() => undefined);
      if (existsSync(`/sys/class/net/${bridge}`)) {
        if (previous.bridges.includes(bridge)) {
          own(setup.bridges, bridge, remove);
          logger.info('adopted the bridge a previous run made', { bridge });
        }
        continue;
      }
      own(setup.bridges, bridge, remove);
      await record();
      await run(['ip', 'link', 'add', 'name', bridge, 'type', 'bridge']);
      await run(['ip', 'link', 'set', bridge, 'up']);
      logger.info('created a bridge the examples\' traffic labels name', { bridge });
    }
    // This run's, made or adopted; what a previous run recorded and is gone is nobody's.
    await record();

    let libvirtUri = 'qemu:///system';
    if (!(await libvirtAnswers(libvirtUri))) {
      const daemon: LocalLibvirtd = await startLocalLibvirtd(join(options.stateDir, 'libvirtd'), logger);
      undo.push(() => daemon.stop());
      libvirtUri = daemon.uri;
    }
    const agent = await runAgent({
      kubeConfig: options.kubeConfig,
      handleSignals: false,
      env: { ...process.env, ...(options.nodeName !== undefined ? { NODE_NAME: options.nodeName } : {}) },
      args: [
        '--http-bind-address=127.0.0.1:0',
        `--libvirt-uri=${libvirtUri}`,
        `--state-dir=${join(options.stateDir, 'agent')}`,
        `--cluster=${options.cluster ?? 'cluster1'}`,
        ...(options.logLevel !== undefined ? [`--log-level=${options.logLevel}`] : []),
      ],
      logger,
    });
    undo.push(() => agent.stop());
    logger.info('local agent started', { node: agent.nodeName, libvirt: libvirtUri, metrics: agent.metricsUrl });
    return { agent, libvirtUri, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
