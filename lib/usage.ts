/**
 * What VMs and volumes take, counted one way everywhere.
 *
 * A VM takes from its host what CloudStack's capacity manager counts.
 * A VM placed on a host (status.placement.host) holds its cores, MHz and memory while it runs
 * or is on its way (Starting, Running, Stopping, Migrating, Unknown, or no state reported yet),
 * and for capacity.skipcounting.hours seconds after it stopped, so that it can start there
 * again; a Destroyed or Expunging VM holds nothing. A VM in Error keeps its place: its agent
 * retries it, and what fails it (a template, a disk) may be fixed. The planner's capacity index, the
 * capacity rollups of hosts, clusters, pods and zones, and the agent's admission check all
 * count with these functions, so they never disagree. A volume takes its size from its pool.
 */
import type { Condition } from './conditions.ts';
import { parseBytes, type DiskOfferingObject, type ServiceOfferingObject, type VirtualMachineObject, type VolumeObject } from '../crds/index.ts';
import type { Settings } from './settings.ts';

export interface VmDemand {
  cores: number;
  /** cores × MHz per core. */
  cpuMhz: number;
  memoryBytes: number;
}

export interface VmUsage extends VmDemand {
  /** Running, or meant to run and on its way: counts as used (and as allocated). */
  running: boolean;
  /** Epoch milliseconds until which the VM holds its host's capacity: Infinity unless it is stopped. */
  holdsUntil: number;
}

const GONE_STATES = new Set(['Destroyed', 'Expunging']);
const STOPPED_STATES = new Set(['Stopped', 'Shutdown']);
const RUNNING_STATES = new Set(['Starting', 'Running', 'Stopping', 'Migrating', 'Unknown']);

/** Cores, MHz and memory of a VM: its own values for a customized offering, else the offering's. */
export function vmDemand(vm: VirtualMachineObject, offering: ServiceOfferingObject['spec'] | undefined): VmDemand {
  const cores = vm.spec.cpuNumber ?? offering?.cpuNumber ?? 0;
  const speed = vm.spec.cpuSpeed ?? offering?.cpuSpeed ?? 0;
  const memory = vm.spec.memory ?? offering?.memory;
  return { cores, cpuMhz: cores * speed, memoryBytes: memory === undefined ? 0 : parseBytes(memory) };
}

/** When a stopped VM stopped: its Running condition's last flip to False, else its creation. */
function stoppedSince(vm: VirtualMachineObject): number {
  const running: Condition | undefined = vm.status?.conditions?.find((c) => c.type === 'Running');
  const at = running?.status === 'False' ? running.lastTransitionTime : vm.metadata.creationTimestamp;
  const ms = at ? Date.parse(at) : NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

/**
 * What the VM takes from the host it is placed on, or undefined when it takes nothing (not
 * placed, or gone). Whether a stopped VM still holds depends on the time: see holdsAt.
 */
export function vmUsage(vm: VirtualMachineObject, offering: ServiceOfferingObject['spec'] | undefined, settings: Settings): VmUsage | undefined {
  if (vm.status?.placement?.host === undefined) return undefined;
  const state = vm.status.state;
  if (state !== undefined && GONE_STATES.has(state)) return undefined;
  const demand = vmDemand(vm, offering);
  if (state !== undefined && STOPPED_STATES.has(state)) {
    return { ...demand, running: false, holdsUntil: stoppedSince(vm) + settings.number('capacity.skipcounting.hours') * 1000 };
  }
  const running = state === undefined ? (vm.spec.state ?? 'Running') === 'Running' : RUNNING_STATES.has(state);
  return { ...demand, running, holdsUntil: Number.POSITIVE_INFINITY };
}

/** Whether the usage holds its host's capacity at `nowMs`. */
export function holdsAt(usage: VmUsage, nowMs: number): boolean {
  return usage.holdsUntil > nowMs;
}

/** Bytes a volume takes on its pool: its measured size, else the size it asks for, else its disk offering's. */
export function volumeBytes(volume: Pick<VolumeObject, 'spec' | 'status'>, offering: DiskOfferingObject['spec'] | undefined): number {
  if (volume.status?.sizeBytes !== undefined) return volume.status.sizeBytes;
  const size = volume.spec.size ?? offering?.diskSize;
  return size === undefined ? 0 : parseBytes(size);
}
