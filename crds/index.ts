/**
 * The registry of every Kumulus kind: the one place controllers, webhooks, the agent and the
 * CloudStack API import names, schemas, TypeScript types and validators from.
 *
 *   import { kinds, VirtualMachine, type VirtualMachineObject, type SpecOf } from '../crds/index.ts';
 *   const result = VirtualMachine.validate(obj); // ajv, compiled on first use
 *   type VmSpec = SpecOf<typeof VirtualMachine>;
 */
import type { Static } from 'typebox';
import { AffinityGroup, SSHKeyPair, Template, VirtualMachine, Volume, computeKinds } from './compute.ts';
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
import type { KindInfo } from './kind.ts';
import { IPAddress, Network, VlanAllocation, networkKinds } from './network.ts';
import { AsyncJob, Configuration, opsKinds } from './ops.ts';

export { API_VERSION, CATEGORY } from './common.ts';
export type { KindDefinition, KindInfo, ObjectOf, PrinterColumn, Scope, SpecOf, StatusOf } from './kind.ts';
export type { FieldError, ValidationResult } from './validate.ts';
export { INFRA_GROUP } from './infra.ts';
export { COMPUTE_GROUP } from './compute.ts';
export { NETWORK_GROUP } from './network.ts';
export { IAM_GROUP } from './iam.ts';
export { OPS_GROUP } from './ops.ts';

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
export type ZoneObject = Static<typeof Zone.schema>;
export type PodObject = Static<typeof Pod.schema>;
export type ClusterObject = Static<typeof Cluster.schema>;
export type HostObject = Static<typeof Host.schema>;
export type PrimaryStorageObject = Static<typeof PrimaryStorage.schema>;
export type SecondaryStorageObject = Static<typeof SecondaryStorage.schema>;
export type PhysicalNetworkObject = Static<typeof PhysicalNetwork.schema>;
export type IPRangeObject = Static<typeof IPRange.schema>;
export type ServiceOfferingObject = Static<typeof ServiceOffering.schema>;
export type DiskOfferingObject = Static<typeof DiskOffering.schema>;
export type NetworkOfferingObject = Static<typeof NetworkOffering.schema>;
export type VirtualMachineObject = Static<typeof VirtualMachine.schema>;
export type VolumeObject = Static<typeof Volume.schema>;
export type TemplateObject = Static<typeof Template.schema>;
export type SSHKeyPairObject = Static<typeof SSHKeyPair.schema>;
export type AffinityGroupObject = Static<typeof AffinityGroup.schema>;
export type NetworkObject = Static<typeof Network.schema>;
export type IPAddressObject = Static<typeof IPAddress.schema>;
export type VlanAllocationObject = Static<typeof VlanAllocation.schema>;
export type DomainObject = Static<typeof Domain.schema>;
export type AccountObject = Static<typeof Account.schema>;
export type UserObject = Static<typeof User.schema>;
export type AsyncJobObject = Static<typeof AsyncJob.schema>;
export type ConfigurationObject = Static<typeof Configuration.schema>;

/** One status condition; the same shape for every kind. */
export type Condition = NonNullable<NonNullable<ZoneObject['status']>['conditions']>[number];
