import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { VirtualMachineObject } from '../../crds/index.ts';
import type { Informer } from '../../lib/informer.ts';
import { log } from '../../lib/log.ts';
import type { DomainStats, HypervisorDriver } from '../../node-daemon/drivers/hypervisor/types.ts';
import { registerVmMetrics } from '../../node-daemon/vm-metrics.ts';

/** The agent's per-VM families as Prometheus reads them, from one scrape of known figures. */
describe('agent: per-VM metrics', () => {
  const nics = [{ name: 'vnet0', rxBytes: 100, txBytes: 200, rxPackets: 3, txPackets: 4 }];
  const disks = [{ name: 'vda', readBytes: 5, writeBytes: 6, readOps: 7, writeOps: 8 }];
  const stats: DomainStats = { uid: 'u1', state: 'running', cpuTimeNs: 2.5e9, vcpus: 2, memoryKiB: 1024, memoryRssKiB: 512, nics, disks };
  const vm = { metadata: { namespace: 'acct', name: 'web', uid: 'u1' } } as VirtualMachineObject;
  // Only what registerVmMetrics reads: the hypervisor's stats and the VM cache's uid index.
  const hypervisor = { stats: () => Promise.resolve([stats, { ...stats, uid: 'not-ours' }]) } as unknown as HypervisorDriver;
  const ownVms = { byIndex: (_index: string, uid: string) => (uid === 'u1' ? [vm] : []) } as unknown as Informer<VirtualMachineObject>;

  it('exports gauges, counters and per-device counters labelled with the VM, and only for its own VMs', async () => {
    const registry = new Registry();
    registerVmMetrics(registry, { hypervisor, ownVms, uidIndex: 'uid', logger: log });
    const text = await registry.metrics();
    const vmLabels = 'namespace="acct",name="web",uid="u1"';
    for (const line of [
      `kumulus_vm_running{${vmLabels}} 1`,
      `kumulus_vm_vcpus{${vmLabels}} 2`,
      `kumulus_vm_cpu_usage_seconds_total{${vmLabels}} 2.5`,
      `kumulus_vm_memory_available_bytes{${vmLabels}} 1048576`,
      `kumulus_vm_memory_resident_bytes{${vmLabels}} 524288`,
      `kumulus_vm_network_receive_bytes_total{${vmLabels},interface="vnet0"} 100`,
      `kumulus_vm_network_transmit_packets_total{${vmLabels},interface="vnet0"} 4`,
      `kumulus_vm_storage_read_traffic_bytes_total{${vmLabels},drive="vda"} 5`,
      `kumulus_vm_storage_iops_write_total{${vmLabels},drive="vda"} 8`,
    ]) expect(text).to.include(line);
    expect(text).to.include('# TYPE kumulus_vm_vcpus gauge').and.to.include('# TYPE kumulus_vm_cpu_usage_seconds_total counter');
    expect(text).to.not.include('not-ours');
    // A second scrape reports the same figures, not their sum.
    expect(await registry.metrics()).to.include(`kumulus_vm_cpu_usage_seconds_total{${vmLabels}} 2.5`);
  });
});
