/**
 * `kumulus agent`: the hypervisor host agent. It starts its health and metrics server at once,
 * joins (creates or adopts this node's Host, waiting for its cluster if need be), renews the
 * heartbeat Lease and reports the host's facts, then runs the reconcilers of this host's
 * objects against the libvirt, storage and network drivers. It runs without leader election:
 * one agent per host, each watching only what is placed on it. Stopping it (or killing it)
 * never touches a domain: a restarted agent adopts what it finds.
 */
import type * as k8s from '@kubernetes/client-node';
import type {
  ClusterObject,
  ConfigurationObject,
  DiskOfferingObject,
  HostObject,
  NetworkObject,
  PhysicalNetworkObject,
  PrimaryStorageObject,
  SecondaryStorageObject,
  ServiceOfferingObject,
  SSHKeyPairObject,
  TemplateObject,
  VirtualMachineObject,
  VolumeObject,
} from '../crds/index.ts';
import { join } from 'node:path';
import { HOST_LEASE_NAMESPACE } from '../lib/agent-contract.ts';
import { managerRuntime } from '../lib/config.ts';
import { createManager, stopOnSignals, type Manager, type ManagerExit } from '../lib/manager.ts';
import { log, setLogLevel, type Logger } from '../lib/log.ts';
import { parseAgentConfig, type AgentConfig } from './config.ts';
import { configDrives } from './config-drive.ts';
import { commandRunner, type Runner } from './drivers/exec.ts';
import { libvirtDriver } from './drivers/hypervisor/libvirt.ts';
import { simulatorDriver } from './drivers/hypervisor/simulator.ts';
import type { EventSubscription, HypervisorDriver } from './drivers/hypervisor/types.ts';
import { linuxNetworkDriver } from './drivers/network/driver.ts';
import { simulatedNetworkDriver } from './drivers/network/simulator.ts';
import { fileStorageDriver } from './drivers/storage/driver.ts';
import { secondaryStorageDriver } from './drivers/storage/secondary.ts';
import { guestNetworks, networkKey, registerGuestNetworkReconciler } from './guest-networks.ts';
import { joinCluster, type HostPlacement } from './host-join.ts';
import { hostStatusReporter, simulatedHostFacts, type HostStatusReporter } from './host-status.ts';
import { registerPrimaryStorageReconciler } from './primary-storage.ts';
import { errorMessage } from '../lib/error-message.ts';
import { LABEL_HOST, RESOURCES } from './resources.ts';
import { UID_INDEX, registerVirtualMachineReconciler } from './virtual-machine.ts';
import { registerTemplateReconciler } from './templates.ts';
import { registerVmMetrics } from './vm-metrics.ts';
import { registerVolumeReconciler } from './volumes.ts';

export interface AgentOptions {
  /** Command-line flags (see node-daemon/config.ts); the environment fills the rest. */
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Use this instead of --kubeconfig / KUBECONFIG / in-cluster configuration. */
  kubeConfig?: k8s.KubeConfig;
  /** Stop gracefully on SIGTERM and SIGINT (default true). */
  handleSignals?: boolean;
  /** A hypervisor other than libvirt (the simulator, for scale runs). */
  hypervisor?: HypervisorDriver;
  logger?: Logger;
}

export interface RunningAgent {
  readonly config: AgentConfig;
  readonly nodeName: string;
  /** Resolves once this node's Host exists (created or adopted) and the reconcilers run. */
  readonly joined: Promise<HostPlacement>;
  /** The Host's name once joined. */
  readonly hostName: string | undefined;
  readonly manager: Manager;
  /** e.g. http://127.0.0.1:8081/metrics: controller-runtime's figures plus kumulus_vm_*. */
  readonly metricsUrl: string;
  /** Stops the agent; domains, disks and bridges are left as they are. */
  stop(): Promise<void>;
  readonly done: Promise<ManagerExit>;
}

/** The source address of this host's default route: its management address and default VTEP. */
async function primaryAddress(run: Runner): Promise<string | undefined> {
  try {
    const routes = JSON.parse((await run(['ip', '-j', '-4', 'route', 'get', '1.1.1.1'])).stdout) as { prefsrc?: string }[];
    return routes[0]?.prefsrc;
  } catch {
    return undefined;
  }
}

export async function runAgent(options: AgentOptions = {}): Promise<RunningAgent> {
  const config = parseAgentConfig(options.args ?? [], options.env ?? process.env);
  setLogLevel(config.logLevel);
  const logger = (options.logger ?? log).child({ component: 'agent', node: config.nodeName });
  const manager = createManager({
    ...managerRuntime(config, options.kubeConfig),
    eventSource: 'kumulus.io/agent',
    logger,
  });
  // Ready once joined and wired: a DaemonSet rollout must not count an agent that runs nothing.
  let notReady: string | undefined = 'joining the cluster';
  manager.addReadyzCheck('joined', () => notReady);
  await manager.start();
  const run = commandRunner();
  const hypervisor =
    options.hypervisor ??
    (config.hypervisor === 'simulator'
      ? simulatorDriver({ dir: join(config.stateDir, 'simulator') })
      : libvirtDriver({ uri: config.libvirtUri, ...(config.domainType ? { domainType: config.domainType } : {}), logger }));
  const joining = new AbortController();
  let hostStatus: HostStatusReporter | undefined;
  let events: EventSubscription | undefined;
  let hostName: string | undefined;

  const wire = async (at: HostPlacement): Promise<void> => {
    hostName = at.host;
    const address = await primaryAddress(run);
    const vtep = config.vtepAddress ?? address;
    hostStatus = hostStatusReporter({
      client: manager.client,
      host: at.host,
      nodeName: config.nodeName,
      libvirtUri: config.libvirtUri,
      ...(config.hypervisor === 'simulator' ? { gatherFacts: () => simulatedHostFacts(run) } : {}),
      ...(address !== undefined ? { ipAddress: address } : {}),
      runner: run,
      logger,
    });
    await hostStatus.start();
    joining.signal.throwIfAborted();

    const own = { labelSelector: `${LABEL_HOST}=${at.host}` };
    const informers = {
      ownVms: manager.informer<VirtualMachineObject>(RESOURCES.vms, own),
      volumes: manager.informer<VolumeObject>(RESOURCES.volumes, own),
      pools: manager.informer<PrimaryStorageObject>(RESOURCES.primaryStorages),
      templates: manager.informer<TemplateObject>(RESOURCES.templates),
      networks: manager.informer<NetworkObject>(RESOURCES.networks),
      physicalNetworks: manager.informer<PhysicalNetworkObject>(RESOURCES.physicalNetworks),
      hosts: manager.informer<HostObject>(RESOURCES.hosts),
      clusters: manager.informer<ClusterObject>(RESOURCES.clusters),
      configurations: manager.informer<ConfigurationObject>(RESOURCES.configurations),
      serviceOfferings: manager.informer<ServiceOfferingObject>(RESOURCES.serviceOfferings),
      diskOfferings: manager.informer<DiskOfferingObject>(RESOURCES.diskOfferings),
      stores: manager.informer<SecondaryStorageObject>(RESOURCES.secondaryStorages),
      sshKeyPairs: manager.informer<SSHKeyPairObject>(RESOURCES.sshKeyPairs),
    };
    const storage = fileStorageDriver({
      hostName: at.host,
      poolMountRoot: join(config.stateDir, 'pools'),
      logger,
      // A pool's copy was made (or failed): its Template reports it.
      onTemplateFill: (_pool, templateUid) => {
        for (const t of informers.templates.list().filter((x) => x.metadata.uid === templateUid)) templateAgent.controller.enqueue({ namespace: t.metadata.namespace, name: t.metadata.name ?? '' });
      },
    });
    const templateAgent = registerTemplateReconciler({
      manager,
      at,
      ...informers,
      storage,
      secondary: secondaryStorageDriver({ mountRoot: join(config.stateDir, 'secondary'), run, logger }),
      run,
      logger,
      signal: joining.signal,
    });
    const networksOfHost = guestNetworks({
      ...informers,
      driver: config.hypervisor === 'simulator' ? simulatedNetworkDriver(join(config.stateDir, 'dnsmasq'), vtep) : linuxNetworkDriver({ stateDir: join(config.stateDir, 'dnsmasq'), logger }),
      host: at.host,
      localVtep: vtep,
      logger,
      signal: joining.signal,
      onHealth: (problem) => hostStatus?.setProblem('network', problem === undefined ? undefined : { reason: 'NetworkDriverFailing', message: problem }),
    });

    registerPrimaryStorageReconciler(manager, {
      pools: informers.pools,
      storage,
      at,
      onHealth: (pool, problem) => hostStatus?.setProblem(`storage/${pool}`, problem === undefined ? undefined : { reason: 'StorageDriverFailing', message: problem }),
    });
    registerVolumeReconciler({ manager, storage, hypervisor, at, ...informers, templateSource: (t: TemplateObject) => templateAgent.sourceFor(t) });
    registerGuestNetworkReconciler(manager, { ...informers, networksOfHost });
    const vms = registerVirtualMachineReconciler({
      manager,
      at,
      hypervisor,
      networksOfHost,
      ...informers,
      isoFor: (t: TemplateObject) => templateAgent.isoFor(t),
      configDrives: configDrives({
        dir: join(config.stateDir, 'config-drives'),
        run,
        keyPairOf: (vm) => (vm.spec.sshKeyPairRef ? informers.sshKeyPairs.get(`${vm.metadata.namespace ?? ''}/${vm.spec.sshKeyPairRef.name}`) : undefined),
        networkOf: (vm, name) => informers.networks.get(networkKey(vm.metadata.namespace ?? '', name)),
      }),
      consoleDir: join(config.stateDir, 'consoles'),
      vncListen: address ?? '127.0.0.1',
      shutdownTimeoutMs: config.shutdownTimeout,
      rebootTimeoutMs: config.rebootTimeout,
    });
    registerVmMetrics(manager.metrics.registry, { hypervisor, ownVms: informers.ownVms, uidIndex: UID_INDEX, logger });

    events = hypervisor.followEvents((event) => vms.onDomainEvent(event));
    void informers.ownVms.waitForSync(joining.signal).then(() => vms.onDomainEvent({ type: 'resync', at: new Date() }), () => undefined);
    // Links of networks deleted while the agent was away concern no object any more: one full
    // sync (it waits for the caches) removes them, VMs or not.
    void networksOfHost.sync().catch(() => undefined);
    logger.info('agent running', { host: at.host, cluster: at.cluster, zone: at.zone, libvirt: config.libvirtUri, vtep, leaseNamespace: HOST_LEASE_NAMESPACE });
  };

  const joined = joinCluster({
    client: manager.client,
    nodeName: config.nodeName,
    ...(config.cluster !== undefined ? { cluster: config.cluster } : {}),
    logger,
    signal: joining.signal,
    onWaiting: (reason) => (notReady = `not joined: ${reason}`),
  }).then(async (at) => {
    await wire(at);
    notReady = undefined;
    return at;
  });
  joined.catch((err: unknown) => {
    notReady = `the agent could not join: ${errorMessage(err)}`;
    if (!joining.signal.aborted) logger.error('the agent could not join', { error: errorMessage(err) });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      joining.abort();
      await joined.catch(() => undefined);
      hostStatus?.stop();
      await events?.stop();
      await manager.stop();
    })());
  const uninstall = options.handleSignals === false ? () => undefined : stopOnSignals(stop, logger);
  void manager.done.then(uninstall);
  logger.info('agent started', { metrics: manager.metricsUrl, libvirt: config.libvirtUri });
  return {
    config,
    nodeName: config.nodeName,
    joined,
    get hostName() {
      return hostName;
    },
    manager,
    metricsUrl: manager.metricsUrl,
    stop,
    done: manager.done,
  };
}
