import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { registerComputeControllers } from '../../controllers/compute.ts';
import { registerInfrastructureControllers } from '../../controllers/infrastructure.ts';
import { nicAllocator } from '../../controllers/nics.ts';
import { IPAddress, ServiceOffering, Template, TARGET_GENERATION_ANNOTATION, type AsyncJobObject, type VirtualMachineObject } from '../../crds/index.ts';
import { ipAddressName, LABEL_CONSUMER_UID, LABEL_NETWORK_UID } from '../../lib/guest-identity.ts';
import { jobVerdict, UNSCHEDULABLE } from '../../lib/async-job.ts';
import { isNotFound, resourceTypeOf, type KubeClient, type KubeObject } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { uniqueName } from '../support/cluster.ts';
import { preparedCluster } from '../support/prepared-cluster.ts';
import { guestNetworkWorld, type GuestNetworkWorld } from '../support/guest-network-world.ts';
import { until } from '../support/until.ts';

/**
 * A VM's addresses through the operator's real VM controller and its IPAM. A VM whose network
 * has no free address: the VM is not placed, its Scheduled condition is Unschedulable and says the network
 * is full, and so its deploy job fails with CloudStack's capacity error 533 (the
 * AsyncJob controller's verdict, lib/async-job.ts), as when no host fits. A NIC holding two
 * addresses is brought back to one, whatever order the apiserver committed them in.
 */

type Condition = { type: string; status: string; reason: string; message: string };
const condition = (vm: VirtualMachineObject | undefined, type: string) => (vm?.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);

describe('a VM\'s addresses through the real VM controller and IPAM', function () {
  this.timeout(120_000);
  let client: KubeClient;
  let manager: Manager;
  let world: GuestNetworkWorld;
  const offering = uniqueName('capso');

  before(async function () {
    this.timeout(240_000);
    const prepared = await preparedCluster();
    const kc = prepared.kc;
    client = prepared.client;
    world = await guestNetworkWorld(client, uniqueName('cap').slice(4));
    await client.resource<KubeObject>(resourceTypeOf(ServiceOffering)).create({ metadata: { name: offering }, spec: { cpuNumber: 1, cpuSpeed: 500, memory: '512Mi' } } as KubeObject);
    // Not downloaded anywhere: the VM controller still allocates NICs and plans, the template only holds the start.
    await client.resource<KubeObject>(resourceTypeOf(Template)).create({ metadata: { name: 'tiny', namespace: world.namespace }, spec: { url: 'file:///var/tmp/tiny.qcow2', format: 'QCOW2', zoneRefs: [{ name: world.zone }] } } as KubeObject);
    manager = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: log.child({ test: 'network-vm-capacity' }) });
    registerComputeControllers(manager, registerInfrastructureControllers(manager), nicAllocator);
    await manager.start();
  });

  after(async function () {
    this.timeout(60_000);
    // Deleted while the controllers run, which release their finalizers.
    for (const vm of (await world?.vms.list({ namespace: world.namespace }))?.items ?? []) await world.vms.delete({ namespace: world.namespace, name: vm.metadata.name ?? '' }).catch(() => undefined);
    await until('the VMs gone', 30_000, async () => ((await world.vms.list({ namespace: world.namespace })).items.length === 0 ? true : undefined)).catch(() => undefined);
    const templates = client.resource(resourceTypeOf(Template));
    await templates.delete({ namespace: world.namespace, name: 'tiny' }).catch(() => undefined);
    await until('the template gone', 30_000, () => templates.get({ namespace: world.namespace, name: 'tiny' }).then(() => undefined, () => true)).catch(() => undefined);
    await manager?.stop();
    await world?.cleanup();
    await client?.resource(resourceTypeOf(ServiceOffering)).delete({ name: offering }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
  });

  const vm = (name: string, network = 'full', state: 'Running' | 'Stopped' = 'Running') =>
    world.vms.create({
      apiVersion: 'compute.kumulus.io/v1alpha1',
      kind: 'VirtualMachine',
      metadata: { name, namespace: world.namespace },
      spec: { zoneRef: { name: world.zone }, serviceOfferingRef: { name: offering }, templateRef: { name: 'tiny' }, networks: [{ name: network }], state },
    });

  it('leaves the VM unplaced as Unschedulable, saying the network has no free address, and fails its deploy job with 533', async () => {
    // A /29: .1 the gateway, .6 the DHCP service address, four guest addresses.
    await world.network('full', { cidr: '10.1.3.0/29', gateway: '10.1.3.1' });
    for (const name of ['f1', 'f2', 'f3', 'f4']) await vm(name);
    const holders = await until('four VMs with an address', 30_000, async () => {
      const items = (await world.vms.list({ namespace: world.namespace })).items.filter((v) => v.status?.nics?.[0]?.ipAddress);
      return items.length === 4 ? items : undefined;
    });
    expect(holders.map((v) => v.status?.nics?.[0]?.ipAddress).sort()).to.deep.equal(['10.1.3.2', '10.1.3.3', '10.1.3.4', '10.1.3.5']);

    const fifth = await vm('f5');
    const refused = await until('f5 to be refused for want of an address', 30_000, async () => {
      const v = await world.vms.get({ namespace: world.namespace, name: 'f5' });
      return condition(v, 'Scheduled')?.message.startsWith('InsufficientAddressCapacity') ? v : undefined;
    });
    expect(condition(refused, 'Scheduled')).to.include({
      status: 'False',
      reason: UNSCHEDULABLE,
      message: 'InsufficientAddressCapacity: network full has no free address: all 4 guest addresses of 10.1.3.1-10.1.3.6 (less the gateway and the DHCP service address) are allocated; expunge a VM on it, or deploy on another network',
    });
    expect(refused.status?.placement, 'not placed').to.equal(undefined);
    expect(refused.status?.nics, 'no NIC').to.equal(undefined);

    // The deploy job of f5, as deployVirtualMachine records it, judged as the AsyncJob controller judges it.
    const job = {
      metadata: { annotations: { [TARGET_GENERATION_ANNOTATION]: String(fifth.metadata.generation ?? 1) } },
      spec: { command: 'deployVirtualMachine', userRef: { name: 'u' }, targetRef: { apiVersion: fifth.apiVersion, kind: 'VirtualMachine', namespace: world.namespace, name: 'f5', uid: fifth.metadata.uid }, expectedCondition: { type: 'Ready', status: 'True' } },
    } as unknown as AsyncJobObject;
    expect(jobVerdict(job, refused, 1000)).to.deep.equal({
      done: true,
      code: 533,
      text: `Unable to create a deployment for VirtualMachine f5: ${condition(refused, 'Scheduled')?.message}`,
    });
  });

  it('releases a second address of one NIC that the apiserver committed after the VM\'s last pass, and keeps the recorded one', async () => {
    // A claim whose answer was lost (the operator killed mid-request) may be committed after the
    // next operator listed the addresses, so that one claimed a second; nothing else changes the VM.
    const network = await world.network('late', { cidr: '10.1.4.0/28', gateway: '10.1.4.1' });
    // Stopped, so that nothing but the addresses brings the VM back to its controller.
    await vm('l1', 'late', 'Stopped');
    const recorded = await until('l1 to record its address', 30_000, async () => (await world.vms.get({ namespace: world.namespace, name: 'l1' })).status?.nics?.[0]);
    // Let the controller finish the passes its own writes cause: the extra must come after the last.
    await sleep(3000);
    const holder = await world.vms.get({ namespace: world.namespace, name: 'l1' });
    const uid = holder.metadata.uid ?? '';
    const late = '10.1.4.12';
    expect(recorded.ipAddress).to.not.equal(late);
    await client.resource<KubeObject>(resourceTypeOf(IPAddress)).create({
      apiVersion: IPAddress.apiVersion,
      kind: IPAddress.kind,
      metadata: { name: ipAddressName(network.metadata.uid ?? '', late), labels: { [LABEL_NETWORK_UID]: network.metadata.uid ?? '', [LABEL_CONSUMER_UID]: uid } },
      spec: { address: late, purpose: 'Guest', networkRef: { namespace: world.namespace, name: 'late' }, macAddress: recorded.macAddress, consumerRef: { kind: 'VirtualMachine', namespace: world.namespace, name: 'l1', uid, nic: 'late' } },
    } as KubeObject);
    await until('the late second address to be released', 20_000, async () => ((await world.addressesOf(network)).length === 1 ? true : undefined));
    expect((await world.addressesOf(network)).map((a) => a.spec.address)).to.deep.equal([recorded.ipAddress]);
    expect((await world.vms.get({ namespace: world.namespace, name: 'l1' })).status?.nics?.[0]?.ipAddress).to.equal(recorded.ipAddress);
  });
});
