/**
 * `kumulus agent` configuration: the runtime's options (kubeconfig, log level, HTTP address)
 * plus what identifies this host and reaches its hypervisor. Every flag --x-y has a variable
 * KUMULUS_X_Y; the node name also reads NODE_NAME, as a DaemonSet passes it (downward API).
 */
import { hostname } from 'node:os';
import {
  addressOption,
  durationOption,
  logLevelOption,
  optionalStringOption,
  parseConfig,
  runtimeOptions,
  stringOption,
  type ConfigOf,
  type Option,
} from '../lib/config.ts';

function domainTypeOption(): Option<'kvm' | 'qemu' | undefined> {
  return {
    flag: 'domain-type',
    env: 'KUMULUS_DOMAIN_TYPE',
    help: 'libvirt domain type: kvm (hardware virtualization) or qemu (software emulation); default kvm where /dev/kvm exists and is not PVM (kvm_pvm runs only PVM guest kernels)',
    default: undefined,
    expected: 'kvm or qemu',
    parse: (raw) => (raw === 'kvm' || raw === 'qemu' ? raw : undefined),
  };
}

function hypervisorOption(): Option<'libvirt' | 'simulator'> {
  return {
    flag: 'hypervisor',
    env: 'KUMULUS_HYPERVISOR',
    help: 'libvirt, or simulator (no guests: scale runs place hundreds of VMs on one machine)',
    default: 'libvirt',
    expected: 'libvirt or simulator',
    parse: (raw) => (raw === 'libvirt' || raw === 'simulator' ? raw : undefined),
  };
}

export const agentOptions = {
  kubeconfig: runtimeOptions.kubeconfig,
  logLevel: logLevelOption(),
  httpBindAddress: addressOption('http-bind-address', 'where /healthz, /readyz and /metrics are served', '0.0.0.0:8081'),
  gracefulShutdownTimeout: runtimeOptions.gracefulShutdownTimeout,
  nodeName: stringOption('node-name', 'the Kubernetes node this agent runs on; names its Host', hostname().toLowerCase(), 'NODE_NAME'),
  cluster: optionalStringOption('cluster', 'the Cluster to join when no Host exists for this node yet; default: the node label kumulus.io/cluster'),
  hypervisor: hypervisorOption(),
  libvirtUri: stringOption('libvirt-uri', 'the libvirt connection URI', 'qemu:///system'),
  domainType: domainTypeOption(),
  vtepAddress: optionalStringOption('vtep-address', 'local VXLAN tunnel endpoint address; default: the address of the interface holding the default route'),
  stateDir: stringOption('state-dir', 'where the agent keeps consoles, dnsmasq files and NFS mounts', '/var/lib/kumulus/agent'),
  shutdownTimeout: durationOption('shutdown-timeout', 'how long a guest may take to power off on ACPI before it is destroyed; a destroy (spec.state Destroyed) waits at most half of expunge.delay', 60_000),
  rebootTimeout: durationOption('reboot-timeout', 'how long a guest may take to react to an ACPI reboot before it is reset', 30_000),
  maxConcurrentReconciles: runtimeOptions.maxConcurrentReconciles,
};

export type AgentConfig = ConfigOf<typeof agentOptions>;

export function parseAgentConfig(args: readonly string[], env: NodeJS.ProcessEnv): AgentConfig {
  return parseConfig(agentOptions, args, env, (config) =>
    /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(config.nodeName) && config.nodeName.length <= 253
      ? []
      : [`--node-name (NODE_NAME) "${config.nodeName}" is not a DNS-1123 name: it names the Host; pass the node's name in lower case`],
  );
}
