/**
 * The registry of every Kumulus kind: the one place controllers, webhooks, the agent and the
 * CloudStack API import names, schemas, TypeScript types and validators from.
 *
 *   import { kinds, VirtualMachine, type VirtualMachineObject, type SpecOf } from '../crds/index.ts';
 *   const result = VirtualMachine.validate(obj); // ajv, compiled on first use
 *   type VmSpec = SpecOf<typeof VirtualMachine>;
 */
import { AffinityGroup, InstanceGroup, SSHKeyPair, Template, UserData, VirtualMachine, Volume, computeKinds } from './compute.ts';
import { Account, Domain, User, iamKinds } from './iam.ts';
import {
  Cluster,
  DiskOffering,
  Host,
  IPRange,
  NetworkOffering,
  PhysicalNetwork,
  Pod,
  PrimaryStorage,
  SecondaryStorage,
  ServiceOffering,
  Zone,
  infraKinds,
} from './infra.ts';
import type { KindInfo, ObjectOf } from './kind.ts';
import { IPAddress, Network, VlanAllocation, networkKinds } from './network.ts';
import { AsyncJob, Configuration, opsKinds } from './ops.ts';

export { API_VERSION, CATEGORY, parseBytes, parseQuantity } from './common.ts';
export type { KindDefinition, KindInfo, ObjectMeta, ObjectOf, OwnerReference, PrinterColumn, Scope, SpecOf, StatusOf } from './kind.ts';
export type { FieldError, ValidationResult } from './validate.ts';
export { CAPACITY_TYPES, DEPLOYMENT_PLANNERS, INFRA_GROUP } from './infra.ts';
export { COMPUTE_GROUP } from './compute.ts';
export { NETWORK_GROUP } from './network.ts';
export { IAM_GROUP } from './iam.ts';
export { OPS_GROUP, SUBJECT_ANNOTATION, TARGET_GENERATION_ANNOTATION } from './ops.ts';

export {
  Zone,
  Pod,
  Cluster,
  Host,
  PrimaryStorage,
  SecondaryStorage,
  PhysicalNetwork,
  IPRange,
  ServiceOffering,
  DiskOffering,
  NetworkOffering,
  VirtualMachine,
  Volume,
  Template,
  SSHKeyPair,
  AffinityGroup,
  InstanceGroup,
  UserData,
  Network,
  IPAddress,
  VlanAllocation,
  Domain,
  Account,
  User,
  AsyncJob,
  Configuration,
};

/** Every kind, grouped by API group in a stable order. */
export const kinds: readonly KindInfo[] = [...infraKinds, ...computeKinds, ...networkKinds, ...iamKinds, ...opsKinds];

/** The kind named `kind` (such as `VirtualMachine`), or undefined. */
export function kindByName(kind: string): KindInfo | undefined {
  return kinds.find((k) => k.kind === kind);
}

// Whole-object types (apiVersion, kind, metadata, spec, status), one per kind.
export type ZoneObject = ObjectOf<typeof Zone>;
export type PodObject = ObjectOf<typeof Pod>;
export type ClusterObject = ObjectOf<typeof Cluster>;
export type HostObject = ObjectOf<typeof Host>;
export type PrimaryStorageObject = ObjectOf<typeof PrimaryStorage>;
export type SecondaryStorageObject = ObjectOf<typeof SecondaryStorage>;
export type PhysicalNetworkObject = ObjectOf<typeof PhysicalNetwork>;
export type IPRangeObject = ObjectOf<typeof IPRange>;
export type ServiceOfferingObject = ObjectOf<typeof ServiceOffering>;
export type DiskOfferingObject = ObjectOf<typeof DiskOffering>;
export type NetworkOfferingObject = ObjectOf<typeof NetworkOffering>;
export type VirtualMachineObject = ObjectOf<typeof VirtualMachine>;
export type VolumeObject = ObjectOf<typeof Volume>;
export type TemplateObject = ObjectOf<typeof Template>;
export type SSHKeyPairObject = ObjectOf<typeof SSHKeyPair>;
export type AffinityGroupObject = ObjectOf<typeof AffinityGroup>;
export type InstanceGroupObject = ObjectOf<typeof InstanceGroup>;
export type UserDataObject = ObjectOf<typeof UserData>;
export type NetworkObject = ObjectOf<typeof Network>;
export type IPAddressObject = ObjectOf<typeof IPAddress>;
export type VlanAllocationObject = ObjectOf<typeof VlanAllocation>;
export type DomainObject = ObjectOf<typeof Domain>;
export type AccountObject = ObjectOf<typeof Account>;
export type UserObject = ObjectOf<typeof User>;
export type AsyncJobObject = ObjectOf<typeof AsyncJob>;
export type ConfigurationObject = ObjectOf<typeof Configuration>;

/** One status condition; the same shape for every kind. */
export type Condition = NonNullable<NonNullable<ZoneObject['status']>['conditions']>[number];
