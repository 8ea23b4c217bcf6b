import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../lib/log.ts';
import { commandRunner, type Runner } from '../exec.ts';
import { dnsmasqPaths } from './dnsmasq.ts';
import { defaultServiceNamespacePrefix } from './names.ts';
import { observeNetworking } from './observe.ts';
import { planNetworks, type PlannedNetwork } from './plan.ts';
import type { DnsmasqChange, NetworkDriver } from './types.ts';

export interface LinuxNetworkOptions {
  /** dnsmasq configuration, leases and pid files: <stateDir>/<bridge>/. */
  stateDir?: string;
  /**
   * Names the service namespaces (<prefix><bridge>) and marks them as this driver's: one
   * agent per host keeps the default; tests running two "hosts" on one kernel give each its own.
   */
  serviceNamespacePrefix?: string;
  /** Runs ip, bridge, nft and dnsmasq; a netns runner makes a network namespace the "host". */
  runner?: Runner;
  logger: Logger;
}

async function stopDnsmasq(pidFile: string): Promise<void> {
  const pid = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 50; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await sleep(100);
  }
  await rm(pidFile, { force: true });
}

/** Linux bridges with VLAN or VXLAN uplinks, bridge-family nftables, one dnsmasq per network. */
export function linuxNetworkDriver(options: LinuxNetworkOptions): NetworkDriver {
  const run = options.runner ?? commandRunner();
  const stateDir = options.stateDir ?? '/var/lib/kumulus/dnsmasq';
  const serviceNamespacePrefix = options.serviceNamespacePrefix ?? defaultServiceNamespacePrefix;
  const logger = options.logger.child({ driver: 'network' });
  const observe = () => observeNetworking(run, stateDir, serviceNamespacePrefix);
  const planOptions = { stateDir, serviceNamespacePrefix };

  const applyDnsmasq = async (change: DnsmasqChange, networks: PlannedNetwork[]): Promise<void> => {
    const paths = dnsmasqPaths(stateDir, change.bridge);
    const service = networks.find((n) => n.bridge === change.bridge)?.service;
    if (change.action === 'stop' || !service) {
      await stopDnsmasq(paths.pid);
      await rm(paths.dir, { recursive: true, force: true });
      return;
    }
    const files = service.dnsmasq;
    await mkdir(paths.dir, { recursive: true });
    // Host files first: a reload (SIGHUP) re-reads them, a start reads everything.
    await writeFile(paths.dhcpHosts, files.dhcpHosts);
    await writeFile(paths.dnsHosts, files.dnsHosts);
    if (change.action === 'reload') {
      const pid = Number.parseInt(await readFile(paths.pid, 'utf8'), 10);
      process.kill(pid, 'SIGHUP');
      return;
    }
    if (change.action === 'restart') await stopDnsmasq(paths.pid);
    await writeFile(paths.conf, files.conf);
    await run(['ip', 'netns', 'exec', service.namespace, 'dnsmasq', `--conf-file=${paths.conf}`]);
  };

  return {
    observe,
    plan: async (desired) => planNetworks(desired, await observe(), planOptions),
    apply: async (desired) => {
      const { networks, ...plan } = planNetworks(desired, await observe(), planOptions);
      for (const s of plan.steps) {
        logger.info('network step', { step: s.description });
        await run(s.argv);
      }
      if (plan.nftables !== undefined) {
        logger.info('loading nftables table', { table: 'bridge kumulus' });
        await run(['nft', '-f', '-'], { input: plan.nftables });
      }
      for (const change of plan.dnsmasq) {
        logger.info('dnsmasq', { bridge: change.bridge, action: change.action });
        await applyDnsmasq(change, networks);
      }
      return plan;
    },
  };
}
