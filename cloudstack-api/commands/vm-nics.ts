import type { NetworkObject, VirtualMachineObject } from '../../crds/index.ts';
import { entityNotFound, internalError, invalidParameterValue } from '../protocol/errors.ts';
import { nicId } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import type { JobResultMapper } from './job-support.ts';
import { displayName } from './names.ts';
import { stateOf, vmResult, vmSupport, vmText } from './vm-support.ts';

/**
 * A VM's NICs after deploy (UserVmManagerImpl's addNicToVirtualMachine, removeNic... and
 * updateDefaultNic...): each is an entry of spec.networks, written as the caller. The operator
 * allocates or frees the address and the agent plugs the NIC; the job completes once the VM's
 * Ready reports the generation written. A NIC's id derives from the VM and its network, so it
 * stays the same on every replica and through stop and start.
 */

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

type NicSpec = NonNullable<VirtualMachineObject['spec']['networks']>[number];

/** A network as CloudStack's error texts name it. */
function networkText(network: NetworkObject): string {
  return `Network {"name":"${displayName(network)}","uuid":"${network.metadata.uid ?? ''}"}`;
}

export function vmNicJobResults(infra: Infra): [string, JobResultMapper][] {
  const current = vmResult(infra);
  return [
    ['addNicToVirtualMachine', current],
    ['removeNicFromVirtualMachine', current],
    ['updateDefaultNicForVirtualMachine', current],
  ];
}

export function vmNicCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const { visibleVm, patchSpec, submit } = vmSupport(infra);

  /** The VM's NIC with this id (its spec entry and network), or the not-found text for nicid. */
  function nicOf(vm: VirtualMachineObject, label: string, id: string): { entry: NicSpec; network: NetworkObject | undefined } {
    const entry = (vm.spec.networks ?? []).find((n) => nicId(vm, n.name) === id);
    if (!entry) throw entityNotFound(label, 'nicid', id);
    return { entry, network: cache.networks.byName(entry.name, vm.metadata.namespace) };
  }

  /** The VM's spec.networks with exactly one default: `name`'s entry, or the first when `name` is undefined. */
  function withDefault(networks: readonly NicSpec[], name: string | undefined): NicSpec[] {
    const chosen = name ?? networks[0]?.name;
    return networks.map((n) => ({ ...n, default: n.name === chosen }));
  }

  async function change(ctx: CommandContext, label: string, vm: VirtualMachineObject, networks: NicSpec[]): Promise<{ jobid: string }> {
    const updated = await patchSpec(ctx, label, vm, { networks: networks.length > 0 ? networks : null });
    return { jobid: await submit(ctx, updated) };
  }

  const addNicToVirtualMachine = defineCommand({
    name: 'addNicToVirtualMachine',
    kind: 'async',
    description: 'Adds VM to specified network by creating a NIC',
    params: {
      virtualmachineid: { type: 'uuid', description: 'Virtual Machine ID', required: true, entity: 'virtualmachine' },
      networkid: { type: 'uuid', description: 'Network ID', required: true, entity: 'network' },
      ipaddress: { type: 'string', description: 'IP Address for the new network' },
      macaddress: { type: 'string', description: 'Mac Address for the new network' },
    },
    async handle(p, ctx) {
      const label = 'addnictovirtualmachine';
      const vm = await visibleVm(ctx, label, p.virtualmachineid, 'virtualmachineid');
      const network = cache.networks.byUid(p.networkid);
      if (!network || network.metadata.namespace !== vm.metadata.namespace) throw entityNotFound(label, 'networkid', p.networkid);
      if (stateOf(vm) === 'Destroyed' || stateOf(vm) === 'Expunging') throw invalidParameterValue(`Unable to add a NIC to ${vmText(vm)}: it is ${stateOf(vm)}`);
      const networks = vm.spec.networks ?? [];
      if (networks.some((n) => n.name === network.metadata.name)) throw internalError(`A NIC already exists for VM:${vm.status?.instanceName ?? vm.metadata.name ?? ''} in network: ${network.metadata.uid ?? ''}`);
      if (network.spec.zoneRef.name !== vm.spec.zoneRef.name) throw internalError(`${vmText(vm)} is in zone:${vm.spec.zoneRef.name} but ${networkText(network)} is in zone:${network.spec.zoneRef.name}`);
      if (p.ipaddress !== undefined && !IPV4.test(p.ipaddress)) throw invalidParameterValue(`Invalid format for IP address parameter: ${p.ipaddress}`);
      if (p.macaddress !== undefined && !MAC.test(p.macaddress.toLowerCase())) throw invalidParameterValue(`Invalid format for MAC address parameter: ${p.macaddress}; give six colon-separated hex pairs, such as 02:00:0a:01:01:10`);
      const hostName = vm.spec.hostName ?? vm.metadata.name ?? '';
      const sameName = cache.virtualMachines.list().find((other) => other.metadata.uid !== vm.metadata.uid && other.metadata.namespace === vm.metadata.namespace && (other.spec.hostName ?? other.metadata.name) === hostName && (other.spec.networks ?? []).some((n) => n.name === network.metadata.name));
      if (sameName) throw internalError(`Network ${displayName(network)} already has a vm with host name: ${hostName}`);
      const added: NicSpec = { name: network.metadata.name ?? '', ...(p.ipaddress !== undefined ? { ipAddress: p.ipaddress } : {}), ...(p.macaddress !== undefined ? { macAddress: p.macaddress.toLowerCase() } : {}) };
      return change(ctx, label, vm, withDefault([...networks, added], networks.find((n) => n.default)?.name));
    },
  });

  const removeNicFromVirtualMachine = defineCommand({
    name: 'removeNicFromVirtualMachine',
    kind: 'async',
    description: 'Removes VM from specified network by deleting a NIC',
    params: {
      virtualmachineid: { type: 'uuid', description: 'Virtual Machine ID', required: true, entity: 'virtualmachine' },
      nicid: { type: 'uuid', description: 'NIC ID', required: true, entity: 'nic' },
    },
    async handle(p, ctx) {
      const label = 'removenicfromvirtualmachine';
      const vm = await visibleVm(ctx, label, p.virtualmachineid, 'virtualmachineid');
      const { entry, network } = nicOf(vm, label, p.nicid);
      const networks = withDefault(vm.spec.networks ?? [], vm.spec.networks?.find((n) => n.default)?.name);
      if (networks.find((n) => n.name === entry.name)?.default) {
        throw invalidParameterValue(`Unable to remove nic from ${vmText(vm)} in ${network ? networkText(network) : `Network ${entry.name}`}, nic is default.`);
      }
      return change(ctx, label, vm, networks.filter((n) => n.name !== entry.name));
    },
  });

  const updateDefaultNicForVirtualMachine = defineCommand({
    name: 'updateDefaultNicForVirtualMachine',
    kind: 'async',
    description: 'Changes the default NIC on a VM',
    params: {
      virtualmachineid: { type: 'uuid', description: 'Virtual Machine ID', required: true, entity: 'virtualmachine' },
      nicid: { type: 'uuid', description: 'NIC ID', required: true, entity: 'nic' },
    },
    async handle(p, ctx) {
      const label = 'updatedefaultnicforvirtualmachine';
      const vm = await visibleVm(ctx, label, p.virtualmachineid, 'virtualmachineid');
      const { entry } = nicOf(vm, label, p.nicid);
      const networks = withDefault(vm.spec.networks ?? [], vm.spec.networks?.find((n) => n.default)?.name);
      if (networks.find((n) => n.name === entry.name)?.default) throw internalError('refusing to set default nic because chosen nic is already the default');
      if (stateOf(vm) !== 'Running' && stateOf(vm) !== 'Stopped') throw internalError(`refusing to set default ${vmText(vm)} is not Running or Stopped`);
      return change(ctx, label, vm, withDefault(networks, entry.name));
    },
  });

  return [addNicToVirtualMachine, removeNicFromVirtualMachine, updateDefaultNicForVirtualMachine];
}
