/**
 * Host admission: the agent's last guard against a host booked beyond its capacity (two
 * planners racing, a stale capacity index), as the kubelet admits pods. Before it starts a
 * domain the agent counts, in one deterministic order, what the VMs that hold this host take
 * (lib/usage.ts: running ones, and stopped ones within capacity.skipcounting.hours): the ones
 * whose domain runs first (they are never stopped for it), then the others by placement time
 * and uid. A VM that does not fit beside the ones before it is refused (Running False,
 * InsufficientCapacity), so the operator places it again. Every agent, a restarted one too,
 * reaches the same verdict from the same objects. Pure: unit-tested.
 */

/** A VM that holds this host's capacity (lib/usage.ts), or asks to. */
export interface Holder {
  uid: string;
  name: string;
  cores: number;
  /** cores × MHz per core. */
  cpuMhz: number;
  memoryBytes: number;
  /** Its domain runs here now (status.powerState PowerOn): admitted whatever the order. */
  running: boolean;
  /** When it was placed here (RFC 3339), for the order; ties by uid. */
  placedAt: string;
}

/** The host's physical capacity and its cluster's overcommit factors. */
export interface HostRoom {
  host: string;
  cores: number;
  /** MHz of one core. */
  cpuSpeedMhz: number;
  memoryBytes: number;
  cpuOvercommit: number;
  memoryOvercommit: number;
}

export type Admission = { admitted: true } | { admitted: false; message: string };

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

/** The order in which the VMs placed on a host are admitted. */
export function admissionOrder(vms: readonly Holder[]): Holder[] {
  return [...vms].sort((a, b) => Number(b.running) - Number(a.running) || a.placedAt.localeCompare(b.placedAt) || a.uid.localeCompare(b.uid));
}

/** Whether `uid` may start on the host beside the VMs admitted before it. */
export function admit(room: HostRoom, vms: readonly Holder[], uid: string): Admission {
  const cpuTotal = Math.floor(room.cores * room.cpuSpeedMhz * room.cpuOvercommit);
  const memoryTotal = Math.floor(room.memoryBytes * room.memoryOvercommit);
  let cpu = 0;
  let memory = 0;
  for (const vm of admissionOrder(vms)) {
    const problems: string[] = [];
    if (vm.cores > room.cores) problems.push(`it has ${vm.cores} vCPUs and the host ${room.cores} cores`);
    if (cpu + vm.cpuMhz > cpuTotal) {
      problems.push(`CPU: it needs ${vm.cpuMhz} MHz and ${cpuTotal - cpu} of ${cpuTotal} MHz are left (${room.cores} cores × ${room.cpuSpeedMhz} MHz × overcommit ${room.cpuOvercommit})`);
    }
    if (memory + vm.memoryBytes > memoryTotal) {
      problems.push(`memory: it needs ${mib(vm.memoryBytes)} and ${mib(memoryTotal - memory)} of ${mib(memoryTotal)} are left (overcommit ${room.memoryOvercommit})`);
    }
    const fits = vm.running || problems.length === 0;
    if (vm.uid === uid) {
      return fits ? { admitted: true } : { admitted: false, message: `host ${room.host} is full for VM ${vm.name}, counting the VMs placed there before it: ${problems.join('; ')}` };
    }
    if (fits) {
      cpu += vm.cpuMhz;
      memory += vm.memoryBytes;
    }
  }
  return { admitted: false, message: `VM ${uid} is not placed on host ${room.host}` };
}
