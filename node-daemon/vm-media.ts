/**
 * The agent's MediaSynced condition of a VM (lib/agent-contract.ts): whether the CD-ROM drive
 * holds what spec.attachedIsoRef asks, as a pure function of what the reconcile saw and did.
 * The API's attachIso and detachIso jobs complete on it: True once the drive (the running
 * domain's, else its definition's) holds the ISO, or nothing on a detach; False when this host
 * cannot do it (the ISO's copy unreadable here, change-media refused, a domain without a
 * drive), with the cause; Unknown while something else comes first.
 */
import { MEDIA_SYNCED } from '../lib/agent-contract.ts';
import type { ConditionUpdate } from '../lib/conditions.ts';
import type { DomainObservation } from './drivers/hypervisor/types.ts';
import { isActive } from './vm-plan.ts';

export interface IsoRef {
  name: string;
  namespace: string;
}

export interface MediaFacts {
  host: string;
  /** spec.attachedIsoRef, with its namespace. */
  wanted: IsoRef | undefined;
  /** status.attachedIso as this reconcile reports it. */
  inDrive: IsoRef | undefined;
  /** The domain as it is after acting; undefined when none is defined. */
  domain: DomainObservation | undefined;
  /** Why this host cannot read the ISO (the WaitingForIso blocker's message). */
  isoProblem?: string;
  /** The error of the change-media step this reconcile took. */
  mediaError?: string;
  /** What kept the reconcile from building the domain's definition (another blocker), if it did. */
  notBuilt?: string;
}

const text = (ref: IsoRef | undefined) => (ref ? `ISO ${ref.namespace}/${ref.name}` : 'no ISO');
const same = (a: IsoRef | undefined, b: IsoRef | undefined) => a?.name === b?.name && a?.namespace === b?.namespace;

function media(status: ConditionUpdate['status'], reason: string, message: string): ConditionUpdate {
  return { type: MEDIA_SYNCED, status, reason, message };
}

export function mediaCondition(facts: MediaFacts): ConditionUpdate {
  const { host, wanted, inDrive, domain } = facts;
  const active = isActive(domain);
  if (facts.mediaError !== undefined) return media('False', 'MediaError', `host ${host} could not ${wanted ? `insert ${text(wanted)} into` : 'eject the media of'} the running domain's CD-ROM drive: ${facts.mediaError}`);
  if (domain && same(wanted, inDrive)) return media('True', wanted ? 'Inserted' : 'Empty', `the CD-ROM drive of the ${active ? 'running domain' : 'domain definition'} on host ${host} holds ${text(wanted)}`);
  if (facts.isoProblem !== undefined) return media('False', 'WaitingForIso', `host ${host}: ${facts.isoProblem}`);
  if (!domain) return media('True', 'NotDefined', `no domain is defined on host ${host} yet: its definition takes ${text(wanted)}`);
  if (active && domain.isoDriveMissing === true) {
    return media('False', 'NoDrive', `the running domain on host ${host} has no CD-ROM drive (an earlier agent defined it), so its media cannot change live: ${text(wanted)} is in the drive from the next start`);
  }
  return media('Unknown', 'Pending', `the CD-ROM drive on host ${host} holds ${text(inDrive)}, not ${text(wanted)} yet${facts.notBuilt !== undefined ? `: ${facts.notBuilt}` : ''}`);
}
