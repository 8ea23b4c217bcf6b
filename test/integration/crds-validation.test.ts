import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { ensureKumulusCrds, sharedKubeConfig, uniqueName } from '../support/cluster.ts';

/**
 * The apiserver itself (structural schema and CEL rules, no webhook) rejects each bad object
 * with a message naming the field. Creates are server-side dry runs; update rules use real
 * objects.
 */

type Obj = Record<string, unknown> & { spec: Record<string, unknown>; metadata: { name: string; namespace?: string } };

const NS = uniqueName('crds-validation');

const base: Record<string, () => Obj> = {
  Zone: () => ({ apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'Zone', metadata: { name: 'z' }, spec: { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.1.0.0/16' } }),
  Pod: () => ({
    apiVersion: 'infra.kumulus.io/v1alpha1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: { zoneRef: { name: 'z' }, gateway: '192.168.1.1', netmask: '255.255.255.0', startIp: '192.168.1.10', endIp: '192.168.1.100' },
  }),
  Cluster: () => ({ apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'Cluster', metadata: { name: 'c' }, spec: { podRef: { name: 'p' }, hypervisor: 'KVM' } }),
  Host: () => ({ apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'Host', metadata: { name: 'h' }, spec: { clusterRef: { name: 'c' }, nodeName: 'node-1' } }),
  PrimaryStorage: () => ({
    apiVersion: 'infra.kumulus.io/v1alpha1',
    kind: 'PrimaryStorage',
    metadata: { name: 'ps' },
    spec: { zoneRef: { name: 'z' }, scope: 'Cluster', clusterRef: { name: 'c' }, protocol: 'NFS', server: '10.0.0.5', path: '/export/primary' },
  }),
  SecondaryStorage: () => ({ apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'SecondaryStorage', metadata: { name: 'ss' }, spec: { zoneRef: { name: 'z' }, provider: 'NFS', url: 'nfs://10.0.0.5/export/secondary' } }),
  PhysicalNetwork: () => ({
    apiVersion: 'infra.kumulus.io/v1alpha1',
    kind: 'PhysicalNetwork',
    metadata: { name: 'pn' },
    spec: {
      zoneRef: { name: 'z' },
      isolationMethods: ['VLAN', 'VXLAN'],
      vlanRanges: [{ start: 100, end: 199 }],
      vniRanges: [{ start: 5000, end: 5999 }],
      trafficTypes: [{ type: 'Guest', kvmLabel: 'cloudbr1' }],
    },
  }),
  IPRange: () => ({
    apiVersion: 'infra.kumulus.io/v1alpha1',
    kind: 'IPRange',
    metadata: { name: 'r' },
    spec: { purpose: 'Public', zoneRef: { name: 'z' }, gateway: '203.0.113.1', netmask: '255.255.255.0', startIp: '203.0.113.10', endIp: '203.0.113.20' },
  }),
  ServiceOffering: () => ({ apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'ServiceOffering', metadata: { name: 'so' }, spec: { cpuNumber: 1, cpuSpeed: 1000, memory: '1Gi' } }),
  DiskOffering: () => ({ apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'DiskOffering', metadata: { name: 'do' }, spec: { diskSize: '5Gi' } }),
  NetworkOffering: () => ({
    apiVersion: 'infra.kumulus.io/v1alpha1',
    kind: 'NetworkOffering',
    metadata: { name: 'no' },
    spec: { guestIpType: 'Isolated', services: [{ name: 'Dhcp' }, { name: 'SourceNat' }] },
  }),
  VirtualMachine: () => ({
    apiVersion: 'compute.kumulus.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'vm', namespace: NS },
    spec: { zoneRef: { name: 'z' }, serviceOfferingRef: { name: 'so' }, templateRef: { name: 't' }, networks: [{ name: 'n1' }] },
  }),
  Volume: () => ({
    apiVersion: 'compute.kumulus.io/v1alpha1',
    kind: 'Volume',
    metadata: { name: 'vol', namespace: NS },
    spec: { type: 'DATADISK', zoneRef: { name: 'z' }, diskOfferingRef: { name: 'do' }, size: '10Gi' },
  }),
  Template: () => ({
    apiVersion: 'compute.kumulus.io/v1alpha1',
    kind: 'Template',
    metadata: { name: 't', namespace: NS },
    spec: { url: 'https://example.com/image.qcow2', format: 'QCOW2', zoneRefs: [{ name: 'z' }] },
  }),
  SSHKeyPair: () => ({
    apiVersion: 'compute.kumulus.io/v1alpha1',
    kind: 'SSHKeyPair',
    metadata: { name: 'k', namespace: NS },
    spec: { publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxU4aR5f3p1d0Y4pX3Wl6m3b8Kc2mJQ0rT7yH9vN2sB me@host' },
  }),
  AffinityGroup: () => ({ apiVersion: 'compute.kumulus.io/v1alpha1', kind: 'AffinityGroup', metadata: { name: 'ag', namespace: NS }, spec: { type: 'host anti-affinity' } }),
  InstanceGroup: () => ({ apiVersion: 'compute.kumulus.io/v1alpha1', kind: 'InstanceGroup', metadata: { name: 'ig', namespace: NS }, spec: { displayName: 'web servers' } }),
  UserData: () => ({ apiVersion: 'compute.kumulus.io/v1alpha1', kind: 'UserData', metadata: { name: 'ud', namespace: NS }, spec: { userData: 'I2Nsb3VkLWNvbmZpZwo=', params: ['role'] } }),
  Network: () => ({
    apiVersion: 'network.kumulus.io/v1alpha1',
    kind: 'Network',
    metadata: { name: 'net', namespace: NS },
    spec: { networkOfferingRef: { name: 'no' }, zoneRef: { name: 'z' }, cidr: '10.1.1.0/24', gateway: '10.1.1.1' },
  }),
  IPAddress: () => ({
    apiVersion: 'network.kumulus.io/v1alpha1',
    kind: 'IPAddress',
    metadata: { name: 'ip' },
    spec: { address: '10.1.1.5', purpose: 'Guest', networkRef: { name: 'net', namespace: NS } },
  }),
  VlanAllocation: () => ({ apiVersion: 'network.kumulus.io/v1alpha1', kind: 'VlanAllocation', metadata: { name: 'va' }, spec: { physicalNetworkRef: { name: 'pn' }, isolation: 'VLAN', id: 100 } }),
  Domain: () => ({ apiVersion: 'iam.kumulus.io/v1alpha1', kind: 'Domain', metadata: { name: 'd' }, spec: { parentRef: { name: 'root' } } }),
  Account: () => ({ apiVersion: 'iam.kumulus.io/v1alpha1', kind: 'Account', metadata: { name: 'a' }, spec: { domainRef: { name: 'd' }, namespace: 'a-ns' } }),
  User: () => ({
    apiVersion: 'iam.kumulus.io/v1alpha1',
    kind: 'User',
    metadata: { name: 'u' },
    spec: { accountRef: { name: 'a' }, username: 'alice', firstName: 'Alice', lastName: 'Martin', email: 'alice@example.com' },
  }),
  AsyncJob: () => ({
    apiVersion: 'ops.kumulus.io/v1alpha1',
    kind: 'AsyncJob',
    metadata: { name: 'j', namespace: NS },
    spec: {
      command: 'deployVirtualMachine',
      userRef: { name: 'u' },
      targetRef: { apiVersion: 'compute.kumulus.io/v1alpha1', kind: 'VirtualMachine', name: 'vm', namespace: NS },
      expectedCondition: { type: 'Ready' },
    },
  }),
  Configuration: () => ({ apiVersion: 'ops.kumulus.io/v1alpha1', kind: 'Configuration', metadata: { name: 'global' }, spec: { settings: { 'expunge.delay': '60' } } }),
};

interface Case {
  kind: string;
  why: string;
  change: (o: Obj) => void;
  /** The field the message must name. */
  field: string;
  /** Words of the fix the message must carry. */
  says?: RegExp;
}

const cases: Case[] = [
  { kind: 'Zone', why: 'dns1 is not an IPv4 address', change: (o) => (o.spec.dns1 = '8.8.8'), field: 'spec.dns1', says: /ipv4/ },
  { kind: 'Zone', why: 'networkType is not Basic or Advanced', change: (o) => (o.spec.networkType = 'Fancy'), field: 'spec.networkType', says: /"Advanced"/ },
  { kind: 'Zone', why: 'a Basic zone has a guest CIDR', change: (o) => Object.assign(o.spec, { networkType: 'Basic', securityGroupsEnabled: true }), field: 'spec.guestCidr', says: /only to Advanced/ },
  { kind: 'Zone', why: 'a Basic zone without security groups', change: (o) => Object.assign(o.spec, { networkType: 'Basic', guestCidr: undefined }), field: 'spec.securityGroupsEnabled' },
  { kind: 'Zone', why: 'guestCidr has host bits', change: (o) => (o.spec.guestCidr = '10.1.0.1/16'), field: 'spec.guestCidr', says: /network address/ },
  { kind: 'Zone', why: 'internalDns1 is missing', change: (o) => delete o.spec.internalDns1, field: 'spec.internalDns1', says: /Required/ },
  { kind: 'Pod', why: 'startIp is after endIp', change: (o) => Object.assign(o.spec, { startIp: '192.168.1.200', endIp: '192.168.1.100' }), field: 'spec.startIp', says: /greater than spec.endIp/ },
  { kind: 'Pod', why: 'endIp is outside the subnet', change: (o) => (o.spec.endIp = '192.168.2.100'), field: 'spec.endIp', says: /inside the subnet/ },
  { kind: 'Pod', why: 'startIp is outside the subnet', change: (o) => (o.spec.startIp = '10.0.0.1'), field: 'spec.startIp', says: /inside the subnet/ },
  { kind: 'Pod', why: 'the gateway is inside the reserved range', change: (o) => (o.spec.gateway = '192.168.1.50'), field: 'spec.gateway', says: /must not be inside/ },
  { kind: 'Pod', why: 'the netmask is not contiguous', change: (o) => (o.spec.netmask = '255.0.255.0'), field: 'spec.netmask', says: /255.255.255.0/ },
  { kind: 'Cluster', why: 'the hypervisor is not supported', change: (o) => (o.spec.hypervisor = 'XenServer'), field: 'spec.hypervisor', says: /"KVM"/ },
  { kind: 'Cluster', why: 'the CPU overcommit ratio is below 1', change: (o) => (o.spec.cpuOvercommitRatio = 0.5), field: 'spec.cpuOvercommitRatio' },
  { kind: 'Cluster', why: 'maxHosts is 0', change: (o) => (o.spec.maxHosts = 0), field: 'spec.maxHosts' },
  { kind: 'Host', why: 'nodeName is missing', change: (o) => delete o.spec.nodeName, field: 'spec.nodeName', says: /Required/ },
  { kind: 'PrimaryStorage', why: 'a Cluster pool has no clusterRef', change: (o) => delete o.spec.clusterRef, field: 'spec.clusterRef', says: /required when spec.scope is Cluster/ },
  { kind: 'PrimaryStorage', why: 'NFS has no server', change: (o) => delete o.spec.server, field: 'spec.server', says: /NFS server/ },
  { kind: 'PrimaryStorage', why: 'Local storage is not host-scoped', change: (o) => Object.assign(o.spec, { protocol: 'Local', server: undefined }), field: 'spec.scope', says: /must be Host/ },
  { kind: 'PrimaryStorage', why: 'the path is relative', change: (o) => (o.spec.path = 'export/primary'), field: 'spec.path', says: /absolute path/ },
  { kind: 'SecondaryStorage', why: 'an NFS store has an http URL', change: (o) => (o.spec.url = 'http://10.0.0.5/x'), field: 'spec.url', says: /nfs:\/\/server\/export/ },
  { kind: 'PhysicalNetwork', why: 'a VLAN id above 4094', change: (o) => (o.spec.vlanRanges = [{ start: 100, end: 4095 }]), field: 'spec.vlanRanges[0].end', says: /4094/ },
  { kind: 'PhysicalNetwork', why: 'a VLAN range ends before it starts', change: (o) => (o.spec.vlanRanges = [{ start: 200, end: 100 }]), field: 'spec.vlanRanges[0]', says: /swap/ },
  {
    kind: 'PhysicalNetwork',
    why: 'VLAN ranges overlap',
    change: (o) => (o.spec.vlanRanges = [{ start: 100, end: 199 }, { start: 150, end: 250 }]),
    field: 'spec.vlanRanges',
    says: /must not overlap/,
  },
  { kind: 'PhysicalNetwork', why: 'a VNI above 16777214', change: (o) => (o.spec.vniRanges = [{ start: 1, end: 16777215 }]), field: 'spec.vniRanges[0].end', says: /16777214/ },
  { kind: 'PhysicalNetwork', why: 'VNI ranges without VXLAN isolation', change: (o) => (o.spec.isolationMethods = ['VLAN']), field: 'spec.vniRanges', says: /VXLAN/ },
  { kind: 'PhysicalNetwork', why: 'a KVM label longer than an interface name', change: (o) => (o.spec.trafficTypes = [{ type: 'Guest', kvmLabel: 'averyverylongbridge' }]), field: 'spec.trafficTypes[0].kvmLabel', says: /15/ },
  { kind: 'IPRange', why: 'a Guest range without its network', change: (o) => (o.spec.purpose = 'Guest'), field: 'spec.networkRef', says: /shared network/ },
  { kind: 'IPRange', why: 'startIp is after endIp', change: (o) => Object.assign(o.spec, { startIp: '203.0.113.30' }), field: 'spec.startIp', says: /swap/ },
  {
    kind: 'IPRange',
    why: 'endIp is past a /23',
    change: (o) => Object.assign(o.spec, { gateway: '192.168.0.1', netmask: '255.255.254.0', startIp: '192.168.1.10', endIp: '192.168.2.20' }),
    field: 'spec.endIp',
    says: /inside the subnet/,
  },
  { kind: 'IPRange', why: 'the VLAN is above 4094', change: (o) => (o.spec.vlan = 4095), field: 'spec.vlan' },
  { kind: 'IPRange', why: 'the gateway is not an address', change: (o) => (o.spec.gateway = 'gateway'), field: 'spec.gateway', says: /ipv4/ },
  { kind: 'ServiceOffering', why: 'customized with a fixed size', change: (o) => (o.spec.customized = { maxCpuNumber: 4, maxMemory: '8Gi' }), field: 'spec.customized', says: /excludes/ },
  { kind: 'ServiceOffering', why: 'memory written as a bare 512 (bytes)', change: (o) => (o.spec.memory = 512), field: 'spec.memory', says: /at least 32Mi/ },
  { kind: 'ServiceOffering', why: 'neither a size nor customized', change: (o) => delete o.spec.cpuNumber, field: 'spec.cpuNumber', says: /required unless/ },
  {
    kind: 'ServiceOffering',
    why: 'customized minimum above maximum',
    change: (o) => Object.assign(o.spec, { cpuNumber: undefined, memory: undefined, customized: { minCpuNumber: 8, maxCpuNumber: 2, maxMemory: '8Gi' } }),
    field: 'spec.customized.minCpuNumber',
  },
  { kind: 'ServiceOffering', why: 'memory is not a quantity', change: (o) => (o.spec.memory = '1 GB'), field: 'spec.memory' },
  { kind: 'DiskOffering', why: 'both a size and customized', change: (o) => (o.spec.customized = { maxSize: '10Gi' }), field: 'spec.diskSize', says: /exactly one/ },
  { kind: 'DiskOffering', why: 'an unknown provisioning type', change: (o) => (o.spec.provisioningType = 'thick'), field: 'spec.provisioningType', says: /"thin"/ },
  { kind: 'DiskOffering', why: 'minIops above maxIops', change: (o) => Object.assign(o.spec, { minIops: 500, maxIops: 100 }), field: 'spec.minIops' },
  { kind: 'NetworkOffering', why: 'an L2 offering with DHCP', change: (o) => (o.spec.guestIpType = 'L2'), field: 'spec.services', says: /only hold UserData/ },
  { kind: 'NetworkOffering', why: 'Shared without specifyIpRanges', change: (o) => Object.assign(o.spec, { guestIpType: 'Shared', services: [{ name: 'Dhcp' }] }), field: 'spec.specifyIpRanges' },
  { kind: 'NetworkOffering', why: 'an unknown guest type', change: (o) => (o.spec.guestIpType = 'Private'), field: 'spec.guestIpType', says: /"Isolated"/ },
  { kind: 'VirtualMachine', why: 'both a template and an ISO', change: (o) => (o.spec.isoRef = { name: 'iso' }), field: 'spec.templateRef', says: /exactly one/ },
  { kind: 'VirtualMachine', why: 'an ISO without a root disk offering', change: (o) => Object.assign(o.spec, { templateRef: undefined, isoRef: { name: 'iso' } }), field: 'spec.rootDiskOfferingRef' },
  { kind: 'VirtualMachine', why: 'two default networks', change: (o) => (o.spec.networks = [{ name: 'a', default: true }, { name: 'b', default: true }]), field: 'spec.networks', says: /at most one/ },
  { kind: 'VirtualMachine', why: 'an unknown desired state', change: (o) => (o.spec.state = 'Paused'), field: 'spec.state', says: /"Running"/ },
  { kind: 'VirtualMachine', why: 'a host name with an underscore', change: (o) => (o.spec.hostName = 'web_1'), field: 'spec.hostName' },
  { kind: 'VirtualMachine', why: 'a fixed IP that is not an address', change: (o) => (o.spec.networks = [{ name: 'a', ipAddress: '10.1.1.256' }]), field: 'spec.networks[0].ipAddress' },
  { kind: 'VirtualMachine', why: 'the same network twice', change: (o) => (o.spec.networks = [{ name: 'a' }, { name: 'a' }]), field: 'spec.networks[1]', says: /Duplicate/ },
  { kind: 'Volume', why: 'a data disk without an offering', change: (o) => delete o.spec.diskOfferingRef, field: 'spec.diskOfferingRef' },
  { kind: 'Volume', why: 'a device id without a VM', change: (o) => (o.spec.deviceId = 1), field: 'spec.deviceId', says: /spec.vmRef/ },
  { kind: 'Volume', why: 'a data disk at device 0', change: (o) => Object.assign(o.spec, { vmRef: { name: 'vm' }, deviceId: 0 }), field: 'spec.deviceId' },
  { kind: 'Template', why: 'a SHA-256 checksum of the wrong length', change: (o) => (o.spec.checksum = '{SHA-256}abcd'), field: 'spec.checksum', says: /wrong length/ },
  { kind: 'Template', why: 'a bare checksum that is not an MD5 (32 hex digits)', change: (o) => (o.spec.checksum = 'a'.repeat(64)), field: 'spec.checksum', says: /without a \{ALGORITHM\} prefix are an MD5/ },
  { kind: 'Template', why: 'an ftp URL', change: (o) => (o.spec.url = 'ftp://example.com/x.qcow2'), field: 'spec.url', says: /https/ },
  { kind: 'Template', why: 'neither zones nor crossZones', change: (o) => delete o.spec.zoneRefs, field: 'spec.zoneRefs' },
  { kind: 'SSHKeyPair', why: 'not an OpenSSH public key', change: (o) => (o.spec.publicKey = 'BEGIN PRIVATE KEY ABCDEFGHIJ'), field: 'spec.publicKey', says: /OpenSSH/ },
  { kind: 'AffinityGroup', why: 'an unknown affinity type', change: (o) => (o.spec.type = 'anti-affinity'), field: 'spec.type', says: /"host anti-affinity"/ },
  { kind: 'UserData', why: 'a payload that is not base64', change: (o) => (o.spec.userData = 'not base64!'), field: 'spec.userData', says: /byte/ },
  { kind: 'UserData', why: 'a placeholder with a space', change: (o) => (o.spec.params = ['my role']), field: 'spec.params[0]', says: /should match/ },
  { kind: 'Network', why: 'the gateway is outside the CIDR', change: (o) => (o.spec.gateway = '10.1.2.1'), field: 'spec.gateway', says: /inside spec.cidr/ },
  { kind: 'Network', why: 'the CIDR has host bits', change: (o) => (o.spec.cidr = '10.1.1.7/24'), field: 'spec.cidr', says: /network address/ },
  { kind: 'Network', why: 'the CIDR is too small', change: (o) => Object.assign(o.spec, { cidr: '10.1.1.0/30', gateway: undefined }), field: 'spec.cidr', says: /\/29/ },
  { kind: 'Network', why: 'a VNI above 16777214', change: (o) => (o.spec.vlan = 16777215), field: 'spec.vlan' },
  { kind: 'IPAddress', why: 'no pool', change: (o) => delete o.spec.networkRef, field: 'spec.networkRef' },
  { kind: 'IPAddress', why: 'a cluster-scoped record naming a network without its namespace', change: (o) => (o.spec.networkRef = { name: 'net' }), field: 'spec.networkRef.namespace' },
  { kind: 'VlanAllocation', why: 'a VLAN id above 4094', change: (o) => (o.spec.id = 5000), field: 'spec.id', says: /use VXLAN/ },
  { kind: 'Domain', why: 'its own parent', change: (o) => (o.spec.parentRef = { name: 'd' }), field: 'spec.parentRef', says: /another domain/ },
  { kind: 'Account', why: 'an unknown account type', change: (o) => (o.spec.accountType = 'Root'), field: 'spec.accountType' },
  { kind: 'Account', why: 'a state spelled with a capital', change: (o) => (o.spec.state = 'Enabled'), field: 'spec.state', says: /"enabled"/ },
  { kind: 'Account', why: 'a namespace that is not a DNS label', change: (o) => (o.spec.namespace = 'Acme_NS'), field: 'spec.namespace' },
  { kind: 'User', why: 'an e-mail address without @', change: (o) => (o.spec.email = 'alice'), field: 'spec.email' },
  { kind: 'AsyncJob', why: 'a command with spaces', change: (o) => (o.spec.command = 'deploy vm'), field: 'spec.command' },
  { kind: 'Configuration', why: 'not named global', change: (o) => (o.metadata.name = 'settings'), field: 'metadata.name', says: /singleton/ },
  { kind: 'Configuration', why: 'a setting name with a space', change: (o) => (o.spec.settings = { 'expunge delay': '1' }), field: 'spec.settings', says: /setting names/ },
];

/** Edge cases the rules must let through: a rule that is too strict is a bug too. */
const accepted: Pick<Case, 'kind' | 'why' | 'change'>[] = [
  {
    kind: 'Pod',
    why: 'a /16 range spans octets',
    change: (o) => Object.assign(o.spec, { gateway: '10.0.0.1', netmask: '255.255.0.0', startIp: '10.0.1.0', endIp: '10.0.255.254' }),
  },
  { kind: 'Pod', why: 'endIp is absent (a single address)', change: (o) => delete o.spec.endIp },
  {
    kind: 'IPRange',
    why: 'a /23 range in its upper half',
    change: (o) => Object.assign(o.spec, { gateway: '192.168.0.1', netmask: '255.255.254.0', startIp: '192.168.1.10', endIp: '192.168.1.20' }),
  },
  { kind: 'PhysicalNetwork', why: 'adjacent VLAN ranges', change: (o) => (o.spec.vlanRanges = [{ start: 100, end: 199 }, { start: 200, end: 299 }]) },
  { kind: 'Network', why: 'a /29 CIDR', change: (o) => Object.assign(o.spec, { cidr: '10.1.1.8/29', gateway: '10.1.1.9' }) },
  { kind: 'Zone', why: 'a Basic zone with security groups', change: (o) => Object.assign(o.spec, { networkType: 'Basic', securityGroupsEnabled: true, guestCidr: undefined }) },
  {
    kind: 'ServiceOffering',
    why: 'a customized offering with equal bounds',
    change: (o) => Object.assign(o.spec, { cpuNumber: undefined, memory: undefined, customized: { minCpuNumber: 2, maxCpuNumber: 2, minMemory: '2Gi', maxMemory: '2048Mi' } }),
  },
  { kind: 'VirtualMachine', why: 'it boots an ISO onto an empty root disk', change: (o) => Object.assign(o.spec, { templateRef: undefined, isoRef: { name: 'iso' }, rootDiskOfferingRef: { name: 'do' } }) },
  { kind: 'Volume', why: 'it is a root disk at device 0', change: (o) => Object.assign(o.spec, { type: 'ROOT', diskOfferingRef: undefined, templateRef: { name: 't' }, vmRef: { name: 'vm' }, deviceId: 0 }) },
  { kind: 'Template', why: 'it is cross-zone with a SHA-256 checksum', change: (o) => Object.assign(o.spec, { zoneRefs: undefined, crossZones: true, checksum: `{SHA-256}${'a'.repeat(64)}` }) },
  { kind: 'Template', why: 'its checksum is 32 bare hex digits, an MD5 as CloudStack reads it', change: (o) => (o.spec.checksum = 'd41d8cd98f00b204e9800998ecf8427e') },
  { kind: 'Template', why: 'its checksum is a SHA-384', change: (o) => (o.spec.checksum = `{SHA-384}${'b'.repeat(96)}`) },
  { kind: 'PrimaryStorage', why: 'it is Local on one host', change: (o) => Object.assign(o.spec, { scope: 'Host', clusterRef: undefined, hostRef: { name: 'h' }, protocol: 'Local', server: undefined, path: '/var/lib/kumulus/local' }) },
  { kind: 'VlanAllocation', why: 'it holds the largest VNI', change: (o) => Object.assign(o.spec, { isolation: 'VXLAN', id: 16777214 }) },
];

interface UpdateCase {
  kind: string;
  why: string;
  change: (o: Obj) => void;
  field: string;
  says?: RegExp;
}

const updates: UpdateCase[] = [
  { kind: 'ServiceOffering', why: 'its cores are immutable', change: (o) => (o.spec.cpuNumber = 2), field: 'spec.cpuNumber', says: /spec\.cpuNumber is immutable: a ServiceOffering keeps it once created; create a new offering and move VMs to it/ },
  { kind: 'ServiceOffering', why: 'its memory is immutable', change: (o) => (o.spec.memory = '2Gi'), field: 'spec.memory', says: /spec\.memory is immutable/ },
  { kind: 'ServiceOffering', why: 'an immutable field may not appear', change: (o) => (o.spec.rootDiskSize = '10Gi'), field: 'spec.rootDiskSize', says: /spec\.rootDiskSize is immutable/ },
  { kind: 'DiskOffering', why: 'its size is immutable', change: (o) => (o.spec.diskSize = '6Gi'), field: 'spec.diskSize', says: /spec\.diskSize is immutable: a DiskOffering keeps it once created; create a new offering/ },
  { kind: 'DiskOffering', why: 'its rate limits are immutable', change: (o) => (o.spec.iopsReadRate = 100), field: 'spec.iopsReadRate', says: /spec\.iopsReadRate is immutable/ },
  { kind: 'NetworkOffering', why: 'its persistence is immutable', change: (o) => (o.spec.persistent = true), field: 'spec.persistent', says: /spec\.persistent is immutable: a NetworkOffering keeps it once created; create a new offering and move networks to it/ },
  { kind: 'Host', why: 'the cluster is immutable', change: (o) => (o.spec.clusterRef = { name: 'c2' }), field: 'spec.clusterRef', says: /immutable/ },
  { kind: 'Host', why: 'nodeName is immutable', change: (o) => (o.spec.nodeName = 'node-2'), field: 'spec.nodeName', says: /immutable/ },
  { kind: 'Volume', why: 'a volume cannot shrink', change: (o) => (o.spec.size = '5Gi'), field: 'spec.size', says: /cannot shrink/ },
  { kind: 'Account', why: 'the namespace is immutable', change: (o) => (o.spec.namespace = 'other'), field: 'spec.namespace', says: /immutable/ },
  { kind: 'Pod', why: 'the zone is immutable', change: (o) => (o.spec.zoneRef = { name: 'z2' }), field: 'spec.zoneRef', says: /immutable/ },
  { kind: 'IPAddress', why: 'an allocation record is immutable', change: (o) => (o.spec.address = '10.1.1.6'), field: 'spec', says: /immutable/ },
  { kind: 'SSHKeyPair', why: 'the public key is immutable', change: (o) => (o.spec.publicKey = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ other'), field: 'spec.publicKey', says: /immutable/ },
  { kind: 'AsyncJob', why: 'a job is immutable', change: (o) => (o.spec.command = 'startVirtualMachine'), field: 'spec', says: /immutable/ },
];

function statusMessage(error: unknown): { code: number; message: string } {
  const e = error as { code?: number; body?: unknown };
  const body = (typeof e.body === 'string' ? JSON.parse(e.body) : e.body) as { message?: string } | undefined;
  return { code: e.code ?? 0, message: body?.message ?? String(error) };
}

function withoutUndefined(o: Obj): Obj {
  return JSON.parse(JSON.stringify(o)) as Obj;
}

describe('crds: the apiserver rejects invalid objects, naming the field', function () {
  this.timeout(180_000);
  let kc: k8s.KubeConfig;
  let objects: k8s.KubernetesObjectApi;

  before(async () => {
    kc = await sharedKubeConfig();
    objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    await ensureKumulusCrds();
    await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
  });

  after(async () => {
    await kc
      ?.makeApiClient(k8s.CoreV1Api)
      .deleteNamespace({ name: NS })
      .catch(() => undefined);
  });

  it('accepts every base object of the table (so each rejection comes from its one change)', async () => {
    expect(Object.keys(base).length).to.equal(26);
    for (const [kind, make] of Object.entries(base)) {
      const created = await objects.create(make(), undefined, 'All');
      expect(created.metadata?.name, kind).to.equal(make().metadata.name);
    }
  });

  it(`has at least 40 invalid objects, covering at least 20 kinds`, () => {
    expect(cases.length).to.be.at.least(40);
    expect(new Set(cases.map((c) => c.kind)).size).to.be.at.least(20);
  });

  for (const c of cases) {
    it(`rejects a ${c.kind} when ${c.why}: the message names ${c.field}`, async () => {
      const object = base[c.kind]?.();
      if (!object) throw new Error(`no base object for ${c.kind}`);
      c.change(object);
      const outcome = await objects.create(withoutUndefined(object), undefined, 'All').then(
        () => ({ code: 0, message: 'accepted' }),
        statusMessage,
      );
      expect(outcome.code, outcome.message).to.equal(422);
      expect(outcome.message).to.include(c.field);
      if (c.says) expect(outcome.message).to.match(c.says);
    });
  }

  for (const a of accepted) {
    it(`accepts a ${a.kind} when ${a.why}`, async () => {
      const object = base[a.kind]?.();
      if (!object) throw new Error(`no base object for ${a.kind}`);
      a.change(object);
      const created = await objects.create(withoutUndefined(object), undefined, 'All');
      expect(created.metadata?.name).to.equal(object.metadata.name);
    });
  }

  for (const u of updates) {
    it(`rejects an update of a ${u.kind} because ${u.why}: the message names ${u.field}`, async () => {
      const object = base[u.kind]?.();
      if (!object) throw new Error(`no base object for ${u.kind}`);
      object.metadata.name = uniqueName(object.metadata.name);
      const created = await objects.create(object);
      try {
        const changed = structuredClone(created);
        u.change(changed);
        const outcome = await objects.replace(changed).then(() => ({ code: 0, message: 'accepted' }), statusMessage);
        expect(outcome.code, outcome.message).to.equal(422);
        expect(outcome.message).to.include(u.field);
        if (u.says) expect(outcome.message).to.match(u.says);
      } finally {
        await objects.delete(created).catch(() => undefined);
      }
    });
  }

  it('allows the changes an offering permits: its name, text, sort key, scope, tags, and a network offering\'s state and availability', async () => {
    const changes: Record<string, Obj['spec']> = {
      ServiceOffering: { displayName: 'Renamed', displayText: 'Renamed text', sortKey: 3, hostTags: ['gpu'], storageTags: ['ssd'], zoneRefs: [{ name: 'z' }] },
      DiskOffering: { displayName: 'Renamed', displayText: 'Renamed text', sortKey: -1, displayOffering: false, storageTags: ['ssd'], domainRefs: [{ name: 'd' }] },
      NetworkOffering: { displayName: 'Renamed', displayText: 'Renamed text', sortKey: 7, state: 'Disabled', availability: 'Required', tags: ['fast'] },
    };
    for (const [kind, change] of Object.entries(changes)) {
      const object = base[kind]?.() as Obj;
      object.metadata.name = uniqueName(object.metadata.name);
      const created = await objects.create(object);
      try {
        Object.assign(created.spec, change);
        const updated = await objects.replace(created);
        expect(updated.spec, kind).to.deep.include(change);
      } finally {
        await objects.delete(created).catch(() => undefined);
      }
    }
  });

  it('allows the changes the rules permit: a volume may grow, a host may change its tags', async () => {
    const volume = base.Volume?.() as Obj;
    volume.metadata.name = uniqueName('grow');
    const created = await objects.create(volume);
    try {
      created.spec.size = '20Gi';
      const grown = await objects.replace(created);
      expect(grown.spec.size).to.equal('20Gi');
    } finally {
      await objects.delete(created).catch(() => undefined);
    }
    const host = base.Host?.() as Obj;
    host.metadata.name = uniqueName('host');
    const createdHost = await objects.create(host);
    try {
      createdHost.spec.hostTags = ['gpu'];
      const updated = await objects.replace(createdHost);
      expect(updated.spec.hostTags).to.deep.equal(['gpu']);
    } finally {
      await objects.delete(createdHost).catch(() => undefined);
    }
  });
});
