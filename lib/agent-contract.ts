/**
 * What the host agent (node-daemon) and the operator agree on. It lives in lib/ because
 * neither side may import the other.
 *
 * - Heartbeat: a coordination.k8s.io/v1 Lease named hostLeaseName(<Host metadata.name>) in
 *   HOST_LEASE_NAMESPACE (which the installation creates), with spec.holderIdentity the Host's
 *   spec.nodeName and spec.renewTime renewed every HEARTBEAT_PERIOD_SECONDS. The agent adopts
 *   the Host whose spec.nodeName is its node (one made ahead of it, as addHost does, waits in
 *   state Connecting), or creates one named after its node. The operator derives Host
 *   status.state from spec.renewTime and the ping.interval and ping.timeout settings.
 * - Facts: the agent writes Host status with server-side apply, field manager
 *   agentFieldManager(<host>) (one per host, so agents never remove each other's entries), owning only capacity, usage, bridges, ipAddress, hypervisorVersion, agentVersion, cpuModel,
 *   arch and the AGENT_HEALTHY condition. The operator owns state, resourceState, allocated,
 *   lastHeartbeat, disconnectedAt, observedGeneration and its own conditions.
 * - Trouble: the agent sets condition AGENT_HEALTHY to False with a reason and message when it
 *   cannot do its job (libvirtd unreachable, a storage or network driver failing); the Host is
 *   then Alert. True (or absent) means healthy.
 * - Storage: per PrimaryStorage in scope, the agent applies one status.mounts entry keyed by its
 *   host name (mounted, capacityBytes, usedBytes, message), with its own field manager: one
 *   shared by every agent would make each apply drop the other hosts' entries.
 * - VMs: the agent runs the VMs labelled kumulus.io/host=<host> (with status.placement.host the
 *   same), and their Volumes, which carry the same label and spec.vmRef (a VM needs a ROOT one;
 *   the agent picks a mounted pool in scope when status.pool is unset). Networks need
 *   status.broadcastUri (vxlan://<vni> or vlan://<id>). It adds finalizer kumulus.io/agent to
 *   both, and owns (same field manager) VM status state, powerState, instanceName, nics, volumes,
 *   console, lastRebootAt, startedAt, observedGeneration and the Running, Ready and Synced
 *   conditions, and Volume status state, pool, host, path, format, sizeBytes, physicalSizeBytes,
 *   attachedAt, observedGeneration and Ready.
 */
export const HOST_LEASE_NAMESPACE = 'kumulus-node-lease';

export function hostLeaseName(hostName: string): string {
  return hostName;
}

export const HEARTBEAT_PERIOD_SECONDS = 10;

export function agentFieldManager(hostName: string): string {
  return `kumulus-agent.${hostName}`;
}

export const AGENT_HEALTHY = 'AgentHealthy';
