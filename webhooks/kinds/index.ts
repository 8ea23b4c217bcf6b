import { kinds, type KindInfo } from '../../crds/index.ts';
import type { KindAdmission } from '../admission.ts';
import type { Lookup } from '../lookup.ts';
import { computeAdmissions } from './compute.ts';
import { iamAdmissions } from './iam.ts';
import { infraAdmissions } from './infra.ts';
import { networkAdmissions } from './network.ts';
import { opsAdmissions } from './ops.ts';

/** Kinds no rule reads through the Lookup: the webhook server keeps no informer for them. */
const NOT_LOOKED_UP = new Set(['AsyncJob', 'InstanceGroup', 'UserData']);

/** Every kind the rules read through the Lookup: the webhook server keeps an informer for each. */
export const LOOKUP_KINDS: readonly KindInfo[] = kinds.filter((k) => !NOT_LOOKED_UP.has(k.kind));

/**
 * The admission of every kind with defaults or rules beyond its CRD schema. Kinds left out
 * (SSHKeyPair, AffinityGroup, InstanceGroup, UserData, AsyncJob) are fully checked by their
 * schema and CEL rules.
 */
export function admissions(lookup: Lookup): KindAdmission[] {
  return [...infraAdmissions(lookup), ...computeAdmissions(lookup), ...networkAdmissions(lookup), ...iamAdmissions(lookup), ...opsAdmissions(lookup)];
}

/** The admission of one kind, by kind name, for callers (the API layer) that check one object. */
export function admissionOf(all: readonly KindAdmission[], kind: string): KindAdmission | undefined {
  return all.find((a) => a.kind === kind);
}
