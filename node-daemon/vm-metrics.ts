/**
 * Per-VM figures from the hypervisor, exported on the agent's /metrics in the kumulus_vm_*
 * family (modelled on KubeVirt's kubevirt_vmi_*), labelled with the VM's namespace, name and
 * uid. They are read from libvirt when Prometheus scrapes, once per scrape for all families.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { VirtualMachineObject } from '../crds/index.ts';
import type { Informer } from '../lib/informer.ts';
import { errorMessage } from '../lib/error-message.ts';
import type { Logger } from '../lib/log.ts';
import type { DomainStats, HypervisorDriver } from './drivers/hypervisor/types.ts';

const VM_LABELS = ['namespace', 'name', 'uid'] as const;

export function registerVmMetrics(registry: Registry, deps: { hypervisor: HypervisorDriver; ownVms: Informer<VirtualMachineObject>; uidIndex: string; logger: Logger }): void {
  let pending: Promise<{ vm: Record<(typeof VM_LABELS)[number], string>; stats: DomainStats }[]> | undefined;
  /** One hypervisor read per scrape, shared by every family collected in it. */
  const sample = () => {
    pending ??= deps.hypervisor
      .stats()
      .then((all) =>
        all.flatMap((stats) => {
          const vm = deps.ownVms.byIndex(deps.uidIndex, stats.uid)[0];
          return vm ? [{ vm: { namespace: vm.metadata.namespace ?? '', name: vm.metadata.name ?? '', uid: stats.uid }, stats }] : [];
        }),
      )
      .catch((err: unknown) => {
        deps.logger.warn('hypervisor stats unavailable for /metrics', { error: errorMessage(err) });
        return [];
      })
      .finally(() => setTimeout(() => (pending = undefined), 1000).unref());
    return pending;
  };

  /**
   * A family recomputed at each scrape: cleared, then one sample per VM (and per device, under
   * `label`) from this scrape's figures. A counter's value is the hypervisor's running total.
   */
  const family = (type: 'gauge' | 'counter', name: string, help: string, label: 'interface' | 'drive' | undefined, values: (s: DomainStats) => { device?: string; value: number }[]) => {
    const fill = async (write: (labels: Record<string, string>, value: number) => void) => {
      for (const { vm, stats } of await sample()) {
        for (const { device, value } of values(stats)) write(label && device !== undefined ? { ...vm, [label]: device } : vm, value);
      }
    };
    const options = { name, help, labelNames: label ? [...VM_LABELS, label] : [...VM_LABELS], registers: [registry] };
    if (type === 'gauge') new Gauge({ ...options, async collect() { this.reset(); await fill((labels, value) => this.set(labels, value)); } });
    else new Counter({ ...options, async collect() { this.reset(); await fill((labels, value) => this.inc(labels, value)); } });
  };
  const gauge = (name: string, help: string, value: (s: DomainStats) => number) => family('gauge', name, help, undefined, (s) => [{ value: value(s) }]);
  const counter = (name: string, help: string, value: (s: DomainStats) => number) => family('counter', name, help, undefined, (s) => [{ value: value(s) }]);
  const perDevice = (name: string, help: string, label: 'interface' | 'drive', values: (s: DomainStats) => { device: string; value: number }[]) => family('counter', name, help, label, values);

  gauge('kumulus_vm_running', '1 while the VM\'s domain runs on this host, else 0.', (s) => (s.state === 'running' ? 1 : 0));
  gauge('kumulus_vm_vcpus', 'Virtual CPUs of the VM.', (s) => s.vcpus);
  counter('kumulus_vm_cpu_usage_seconds_total', 'CPU time the VM has used, in seconds.', (s) => s.cpuTimeNs / 1e9);
  gauge('kumulus_vm_memory_available_bytes', 'Memory the guest has (balloon size), in bytes.', (s) => s.memoryKiB * 1024);
  gauge('kumulus_vm_memory_resident_bytes', 'Host memory resident for the VM (QEMU RSS), in bytes.', (s) => s.memoryRssKiB * 1024);
  perDevice('kumulus_vm_network_receive_bytes_total', 'Bytes received by a NIC of the VM.', 'interface', (s) => s.nics.map((n) => ({ device: n.name, value: n.rxBytes })));
  perDevice('kumulus_vm_network_transmit_bytes_total', 'Bytes sent by a NIC of the VM.', 'interface', (s) => s.nics.map((n) => ({ device: n.name, value: n.txBytes })));
  perDevice('kumulus_vm_network_receive_packets_total', 'Packets received by a NIC of the VM.', 'interface', (s) => s.nics.map((n) => ({ device: n.name, value: n.rxPackets })));
  perDevice('kumulus_vm_network_transmit_packets_total', 'Packets sent by a NIC of the VM.', 'interface', (s) => s.nics.map((n) => ({ device: n.name, value: n.txPackets })));
  perDevice('kumulus_vm_storage_read_traffic_bytes_total', 'Bytes read from a disk of the VM.', 'drive', (s) => s.disks.map((d) => ({ device: d.name, value: d.readBytes })));
  perDevice('kumulus_vm_storage_write_traffic_bytes_total', 'Bytes written to a disk of the VM.', 'drive', (s) => s.disks.map((d) => ({ device: d.name, value: d.writeBytes })));
  perDevice('kumulus_vm_storage_iops_read_total', 'Read operations on a disk of the VM.', 'drive', (s) => s.disks.map((d) => ({ device: d.name, value: d.readOps })));
  perDevice('kumulus_vm_storage_iops_write_total', 'Write operations on a disk of the VM.', 'drive', (s) => s.disks.map((d) => ({ device: d.name, value: d.writeOps })));
}
