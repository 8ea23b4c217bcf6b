/**
 * Template (operator side). The agents download a Template into each zone's secondary storage
 * and cache it on primary storage, and report those copies in status.zones and status.pools
 * (lib/agent-contract.ts). This controller sums them up: state Active (Inactive once deleted),
 * isReady when the template is downloaded in some zone, Ready when it is downloaded in every
 * zone it belongs to, Synced False while a zone's download failed, and InUse while a VM or a
 * Volume refers to it. A deleted Template is held by a finalizer until its last user is gone
 * (admission refuses new users meanwhile) and the agents have removed its copies.
 */
import { Template, type TemplateObject, type VirtualMachineObject, type VolumeObject } from '../crds/index.ts';
import { TEMPLATE_IN_USE, templateInZone } from '../lib/agent-contract.ts';
import type { ConditionUpdate } from '../lib/conditions.ts';
import type { Informer } from '../lib/informer.ts';
import { resourceTypeOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { listNames, type InfraContext } from './infra-context.ts';
import { registerKindReconciler, type Outcome } from './reconciler.ts';

/** Holds a deleted Template until no VM or Volume uses it and its copies are gone. */
export const TEMPLATE_FINALIZER = 'compute.kumulus.io/template';
/** Index of VMs and Volumes by the `namespace/name` of the Template they use. */
export const TEMPLATE_USERS_INDEX = 'template.users';

type ZoneEntry = NonNullable<NonNullable<TemplateObject['status']>['zones']>[number];

/** `namespace/name` of the Templates a VM uses (its template, or its ISO, and the ISO in its drive). */
export function templatesOfVm(vm: VirtualMachineObject): string[] {
  const ns = vm.metadata.namespace ?? '';
  return [...new Set([vm.spec.templateRef, vm.spec.isoRef, vm.spec.attachedIsoRef].flatMap((ref) => (ref ? [`${ref.namespace ?? ns}/${ref.name}`] : [])))];
}

export function templatesOfVolume(volume: VolumeObject): string[] {
  const ref = volume.spec.templateRef;
  return ref ? [`${ref.namespace ?? volume.metadata.namespace ?? ''}/${ref.name}`] : [];
}

function describeZone(zone: string, entry: ZoneEntry | undefined): string {
  if (!entry) return `zone ${zone}: not downloaded yet (no agent of the zone has started: is a host of the zone Up, with a SecondaryStorage of the zone?)`;
  switch (entry.downloadState) {
    case 'DOWNLOAD_IN_PROGRESS':
      return `zone ${zone}: downloading, ${entry.downloadPercent}%`;
    case 'DOWNLOAD_ERROR':
      return `zone ${zone}: download failed: ${entry.message ?? 'no reason given'}`;
    default:
      return `zone ${zone}: ${entry.downloadState}${entry.message ? `: ${entry.message}` : ''}`;
  }
}

/** The status the operator derives from the agents' per-zone entries and the template's users. */
export function templateOutcome(template: TemplateObject, zones: readonly string[], users: readonly string[]): Outcome {
  const entries = template.status?.zones ?? [];
  const downloaded = entries.filter((e) => e.downloadState === 'DOWNLOADED' && zones.includes(e.zone));
  const missing = zones.filter((z) => !downloaded.some((e) => e.zone === z));
  const failed = entries.filter((e) => e.downloadState === 'DOWNLOAD_ERROR' && zones.includes(e.zone));
  const conditions: ConditionUpdate[] = [];
  if (zones.length === 0) {
    conditions.push({ type: 'Ready', status: 'False', reason: 'NoZone', message: 'the template belongs to no existing zone: fix spec.zoneRefs, or create the zone' });
  } else if (missing.length === 0) {
    conditions.push({ type: 'Ready', status: 'True', reason: 'Downloaded', message: `downloaded in ${listNames(zones)}` });
  } else {
    const reason = failed.length > 0 ? 'DownloadError' : entries.some((e) => e.downloadState === 'DOWNLOAD_IN_PROGRESS') ? 'Downloading' : 'NotDownloaded';
    conditions.push({ type: 'Ready', status: 'False', reason, message: missing.slice(0, 5).map((z) => describeZone(z, entries.find((e) => e.zone === z))).join('; ') });
  }
  if (failed.length > 0) {
    conditions.push({ type: 'Synced', status: 'False', reason: 'DownloadError', message: failed.map((e) => describeZone(e.zone, e)).join('; ') });
  }
  conditions.push(
    users.length > 0
      ? { type: TEMPLATE_IN_USE, status: 'True', reason: 'InUse', message: `used by ${listNames(users)}` }
      : { type: TEMPLATE_IN_USE, status: 'False', reason: 'NotInUse', message: '' },
  );
  return {
    state: template.metadata.deletionTimestamp !== undefined ? 'Inactive' : 'Active',
    fields: { isReady: downloaded.length > 0 },
    conditions,
  };
}

export function registerTemplateController(manager: Manager, ctx: InfraContext): void {
  const templates: Informer<TemplateObject> = manager.informer<TemplateObject>(resourceTypeOf(Template));
  const { vms, volumes, zones } = ctx.informers;
  vms.addIndex(TEMPLATE_USERS_INDEX, templatesOfVm);
  volumes.addIndex(TEMPLATE_USERS_INDEX, templatesOfVolume);

  const zonesOf = (template: TemplateObject): string[] =>
    zones
      .list()
      .map((z) => z.metadata.name ?? '')
      .filter((zone) => templateInZone(template, zone))
      .sort();
  const usersOf = (template: TemplateObject): string[] => {
    const key = `${template.metadata.namespace ?? ''}/${template.metadata.name ?? ''}`;
    return [
      ...vms.byIndex(TEMPLATE_USERS_INDEX, key).map((vm) => `VirtualMachine ${vm.metadata.namespace ?? ''}/${vm.metadata.name ?? ''}`),
      ...volumes.byIndex(TEMPLATE_USERS_INDEX, key).map((v) => `Volume ${v.metadata.namespace ?? ''}/${v.metadata.name ?? ''}`),
    ].sort();
  };
  const toTemplates = (keys: string[]) =>
    keys.map((key) => {
      const [namespace = '', name = ''] = key.split('/');
      return { namespace, name };
    });

  registerKindReconciler<TemplateObject>(manager, ctx, {
    name: 'template',
    kind: Template,
    informer: templates,
    ownership: { fields: ['isReady'], conditions: ['Ready', TEMPLATE_IN_USE] },
    finalizer: TEMPLATE_FINALIZER,
    remaining: (template) => [
      ...usersOf(template),
      ...(template.status?.zones ?? []).map((z) => `the copy in zone ${z.zone}'s secondary storage`),
      ...(template.status?.pools ?? []).map((p) => `the copy cached on PrimaryStorage ${p.pool}`),
    ],
    observe: (template) => templateOutcome(template, zonesOf(template), usersOf(template)),
    stateEvents: (_from, to) => (to === 'Inactive' ? [{ reason: 'TEMPLATE.DELETE', note: 'deleted: hidden from new deployments until its last user is gone' }] : []),
    deletedEvent: () => ({ reason: 'TEMPLATE.DELETE', note: 'the last user is gone and the copies are removed' }),
    watches: [
      { informer: vms, map: (vm) => toTemplates(templatesOfVm(vm as VirtualMachineObject)) },
      { informer: volumes, map: (v) => toTemplates(templatesOfVolume(v as VolumeObject)) },
      { informer: zones, map: () => templates.list().map((t) => ({ namespace: t.metadata.namespace, name: t.metadata.name ?? '' })) },
    ],
  });
}
