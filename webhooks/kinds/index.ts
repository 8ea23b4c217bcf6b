import {
  Account,
  AffinityGroup,
  Cluster,
  DiskOffering,
  Domain,
  Host,
  IPRange,
  Network,
  NetworkOffering,
  PhysicalNetwork,
  Pod,
  PrimaryStorage,
  SSHKeyPair,
  SecondaryStorage,
  ServiceOffering,
  Template,
  User,
  VirtualMachine,
  VlanAllocation,
  Volume,
  Zone,
  type KindInfo,
} from '../../crds/index.ts';
import type { KindAdmission } from '../admission.ts';
import type { Lookup } from '../lookup.ts';
import { computeAdmissions } from './compute.ts';
import { iamAdmissions } from './iam.ts';
import { infraAdmissions } from './infra.ts';
import { networkAdmissions } from './network.ts';
import { opsAdmissions } from './ops.ts';

/** Every kind the rules read through the Lookup: the webhook server keeps an informer for each. */
export const LOOKUP_KINDS: readonly KindInfo[] = [
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
  VlanAllocation,
  Domain,
  Account,
  User,
];

/**
 * The admission of every kind with defaults or rules beyond its CRD schema. Kinds left out
 * (SSHKeyPair, AffinityGroup, AsyncJob) are fully checked by their schema and CEL rules.
 */
export function admissions(lookup: Lookup): KindAdmission[] {
  return [...infraAdmissions(lookup), ...computeAdmissions(lookup), ...networkAdmissions(lookup), ...iamAdmissions(lookup), ...opsAdmissions(lookup)];
}

/** The admission of one kind, by kind name, for callers (the API layer) that check one object. */
export function admissionOf(all: readonly KindAdmission[], kind: string): KindAdmission | undefined {
  return all.find((a) => a.kind === kind);
}
