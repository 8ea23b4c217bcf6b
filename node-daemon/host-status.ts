/**
 * The Host's liveness and facts. Not a reconciler: a timer renews the heartbeat Lease every
 * HEARTBEAT_PERIOD_SECONDS, and reports the facts (capacity, hypervisor, CPU, bridges and
 * interfaces, usage) and the AgentHealthy condition through server-side apply with this host's
 * field manager, at start, every minute, and whenever health changes.
 */
import { readFile } from 'node:fs/promises';
import type { HostObject } from '../crds/index.ts';
import { cpus, loadavg, totalmem } from 'node:os';
import { AGENT_HEALTHY, HEARTBEAT_PERIOD_SECONDS, HOST_LEASE_NAMESPACE, agentHostStatus, hostLeaseName } from '../lib/agent-contract.ts';
import type { ConditionUpdate } from '../lib/conditions.ts';
import { isNotFound, type KubeClient, type KubeObject } from '../lib/kube-client.ts';
import { LEASES } from '../lib/leader-election.ts';
import type { Logger } from '../lib/log.ts';
import { commitStatus } from '../lib/status.ts';
import type { Runner } from './drivers/exec.ts';
import { hostFacts, type HostFacts } from './drivers/host/facts.ts';
import { parseIpAddrJson } from './drivers/network/observe.ts';
import { errorMessage } from '../lib/error-message.ts';
import { RESOURCES } from './resources.ts';
import { metav1MicroTime } from '../lib/time.ts';

const FACTS_PERIOD_MS = 60_000;
/** The Lease outlives a few missed renewals; the operator judges by renewTime and its own settings. */
const LEASE_DURATION_SECONDS = 4 * HEARTBEAT_PERIOD_SECONDS;

export const AGENT_VERSION = '0.1.0';

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string };
}

export interface HostStatusOptions {
  client: KubeClient;
  host: string;
  nodeName: string;
  libvirtUri: string;
  /** Where the facts come from: libvirt and /proc (default), or the simulator's stand-in. */
  gatherFacts?: () => Promise<HostFacts>;
  /** The address reported as the Host's management address (also the default VTEP). */
  ipAddress?: string;
  runner: Runner;
  logger: Logger;
}

export interface HostStatusReporter {
  /** Renews the Lease and writes the facts once, then keeps doing so on a timer. */
  start(): Promise<void>;
  /** Reports trouble (AgentHealthy False) under a key, or clears it (undefined). */
  setProblem(key: string, problem: { reason: string; message: string } | undefined): void;
  /** The last facts gathered. */
  facts(): HostFacts | undefined;
  stop(): void;
}

function cpuTimes(text: string): { idle: number; total: number } | undefined {
  const fields = /^cpu\s+(.+)$/m.exec(text)?.[1]?.trim().split(/\s+/).map(Number);
  if (!fields || fields.length < 4) return undefined;
  return { idle: (fields[3] ?? 0) + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
}

function memoryUsed(text: string): number {
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return kib('MemTotal') - kib('MemAvailable');
}

function archOf(): 'x86_64' | 'aarch64' {
  return process.arch === 'arm64' ? 'aarch64' : 'x86_64';
}

export function hostStatusReporter(options: HostStatusOptions): HostStatusReporter {
  const { client, host } = options;
  const leases = client.resource<Lease>(LEASES);
  const hosts = client.resource<HostObject>(RESOURCES.hosts);
  const writer = agentHostStatus(host);
  const logger = options.logger.child({ component: 'host-status', host });
  const problems = new Map<string, { reason: string; message: string }>();
  let lastFacts: HostFacts | undefined;
  let lastCpu: { idle: number; total: number } | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let factsTimer: NodeJS.Timeout | undefined;
  let reporting: Promise<void> = Promise.resolve();
  let stopped = false;

  const renew = async (): Promise<void> => {
    const key = { namespace: HOST_LEASE_NAMESPACE, name: hostLeaseName(host) };
    const now = metav1MicroTime();
    try {
      await leases.patch(key, { spec: { holderIdentity: options.nodeName, renewTime: now, leaseDurationSeconds: LEASE_DURATION_SECONDS } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await leases.create({
        metadata: key,
        spec: { holderIdentity: options.nodeName, leaseDurationSeconds: LEASE_DURATION_SECONDS, acquireTime: now, renewTime: now },
      });
    }
  };

  const usage = async () => {
    const cpu = cpuTimes(await readFile('/proc/stat', 'utf8'));
    const previous = lastCpu;
    lastCpu = cpu;
    const busy = cpu && previous && cpu.total > previous.total ? 1 - (cpu.idle - previous.idle) / (cpu.total - previous.total) : 0;
    return {
      cpuLoadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
      cpuUsedPercent: Math.round(Math.min(100, Math.max(0, busy * 100)) * 100) / 100,
      memoryUsedBytes: memoryUsed(await readFile('/proc/meminfo', 'utf8')),
    };
  };

  const report = async (): Promise<void> => {
    let facts: HostFacts | undefined;
    try {
      facts = await (options.gatherFacts ?? (() => hostFacts(options.libvirtUri, options.runner)))();
      lastFacts = facts;
      problems.delete('libvirt');
    } catch (err) {
      problems.set('libvirt', { reason: 'LibvirtUnreachable', message: `libvirt at ${options.libvirtUri} did not answer: ${errorMessage(err)}` });
    }
    const known = facts ?? lastFacts;
    const trouble = [...problems.values()];
    const healthy: ConditionUpdate = trouble.length === 0
      ? { type: AGENT_HEALTHY, status: 'True', reason: 'AgentHealthy', message: '' }
      : { type: AGENT_HEALTHY, status: 'False', reason: trouble[0]?.reason ?? 'AgentTrouble', message: trouble.map((t) => t.message).join('; ') };
    const fields = {
      ...(known
        ? {
            capacity: {
              cpuSockets: known.cpuSockets,
              cpuNumber: known.cpuThreads,
              cpuSpeed: known.cpuMhz,
              memoryBytes: known.memoryBytes,
            },
            hypervisorVersion:
              known.hypervisor.type === 'Simulator'
                ? `Simulator ${known.hypervisor.version}`
                : `${known.hypervisor.type} ${known.hypervisor.version} (libvirt ${known.hypervisor.libvirtVersion})`,
            cpuModel: known.cpuModel,
            bridges: [...new Set([...known.bridges, ...known.interfaces.map((i) => i.name)])].filter((n) => n.length <= 15).sort().slice(0, 256),
          }
        : {}),
      agentVersion: AGENT_VERSION,
      arch: archOf(),
      ...(options.ipAddress !== undefined ? { ipAddress: options.ipAddress } : {}),
      usage: await usage(),
    };
    await commitStatus(hosts, await hosts.get({ name: host }), writer, { fields, conditions: [healthy] });
  };

  /** Reports one at a time; a failure is logged and the next period tries again. */
  const reportSoon = (): void => {
    reporting = reporting.then(report).catch((err: unknown) => {
      logger.warn('could not report host facts', { error: errorMessage(err) });
    });
  };

  return {
    async start() {
      // Facts first: the operator turns the Host Up on the first heartbeat, and an Up host has capacity.
      await report();
      const beat = () => renew().catch((err: unknown) => logger.warn('heartbeat renewal failed', { error: errorMessage(err), leaseNamespace: HOST_LEASE_NAMESPACE }));
      await beat();
      heartbeatTimer = setInterval(() => void beat(), HEARTBEAT_PERIOD_SECONDS * 1000);
      factsTimer = setInterval(reportSoon, FACTS_PERIOD_MS);
    },
    setProblem(key, problem) {
      const before = JSON.stringify(problems.get(key));
      if (problem) problems.set(key, problem);
      else problems.delete(key);
      if (!stopped && JSON.stringify(problems.get(key)) !== before) reportSoon();
    },
    facts: () => lastFacts,
    stop() {
      stopped = true;
      clearInterval(heartbeatTimer);
      clearInterval(factsTimer);
    },
  };
}

/** The simulator's host: this machine's CPUs, memory and links, with no libvirt to ask. */
export async function simulatedHostFacts(run: Runner): Promise<HostFacts> {
  const links = [...parseIpAddrJson((await run(['ip', '-j', '-d', 'addr', 'show'])).stdout).values()];
  const cores = cpus();
  // Some virtual machines report a speed of 0 to os.cpus(); /proc/cpuinfo still says.
  const cpuinfoMhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(await readFile('/proc/cpuinfo', 'utf8').catch(() => ''))?.[1] ?? 0);
  return {
    cpuSockets: 1,
    cpuCores: cores.length,
    cpuThreads: cores.length,
    cpuMhz: cores[0]?.speed || Math.floor(cpuinfoMhz),
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    hypervisor: { type: 'Simulator', version: AGENT_VERSION, libvirtVersion: 'none' },
    bridges: links.filter((l) => l.kind === 'bridge').map((l) => l.name),
    interfaces: links
      .filter((l) => l.kind !== 'bridge' && l.name !== 'lo')
      .map((l) => ({ name: l.name, ...(l.kind !== undefined ? { kind: l.kind } : {}), mtu: l.mtu, up: l.up, addresses: l.addresses.map((a) => `${a.ip}/${a.prefix}`) })),
  };
}
