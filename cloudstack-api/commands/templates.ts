import { Template, type TemplateObject, type ZoneObject } from '../../crds/index.ts';
import { PUBLIC_NAMESPACE } from '../../lib/identity.ts';
import { resourceTypeOf } from '../../lib/kube-client.ts';
import { byCreation, findOptional, inIds, keywordMatches, mustFind } from '../lists/filters.ts';
import { isRootAdmin } from '../protocol/auth.ts';
import type { Fields } from '../protocol/envelope.ts';
import { entityNotFound, invalidParameterValue } from '../protocol/errors.ts';
import { ownerNamespace, visibleById } from './compute-support.ts';
import { accountOfNamespace, detailsOf, hasTags, osTypeId, ownerFields, tagFields } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import { apiDate } from './infra-views.ts';
import { createNamed, displayName, objectName } from './names.ts';
import { osTypeById } from './os-types.ts';

/**
 * Templates (PROTOCOL.md §11, templates; compute.md §1.5): Template objects, in the account's
 * namespace or, public, in kumulus-public. registerTemplate answers at once with the template's
 * rows (one per zone) while the download goes on; listTemplates shows one row per template and
 * zone, with `isready` and `status` from that zone's download state.
 */

const TEMPLATES = resourceTypeOf(Template);
const FORMATS = ['QCOW2', 'RAW', 'ISO'] as const;
const FILTERS = ['featured', 'self', 'selfexecutable', 'sharedexecutable', 'executable', 'community', 'all'] as const;

/** One row: a template in one zone. */
export interface TemplateRow {
  readonly template: TemplateObject;
  readonly zone: ZoneObject | undefined;
}

/** CloudStack's status text for a zone's download. */
function statusText(state: string | undefined, percent: number | undefined, message: string | undefined): string {
  switch (state) {
    case 'DOWNLOADED':
      return 'Download Complete';
    case 'DOWNLOAD_IN_PROGRESS':
      return `${percent ?? 0}% Downloaded`;
    case 'DOWNLOAD_ERROR':
      return message ?? 'Download Failed';
    case 'ABANDONED':
      return 'Download Abandoned';
    default:
      return 'Not Downloaded';
  }
}

export function templateRowFields(infra: Infra, { template, zone }: TemplateRow): Fields {
  const spec = template.spec;
  const inZone = zone ? template.status?.zones?.find((z) => z.zone === zone.metadata.name) : undefined;
  const osType = spec.osType ?? 'Other Linux (64-bit)';
  const iso = spec.format === 'ISO';
  return {
    id: template.metadata.uid,
    name: displayName(template),
    displaytext: spec.displayText ?? displayName(template),
    ...ownerFields(infra, template.metadata.namespace),
    accountid: accountOfNamespace(infra, template.metadata.namespace)?.metadata.uid,
    created: apiDate(template.metadata.creationTimestamp),
    zoneid: zone?.metadata.uid,
    zonename: zone ? displayName(zone) : undefined,
    isready: inZone?.downloadState === 'DOWNLOADED',
    status: statusText(inZone?.downloadState, inZone?.downloadPercent, inZone?.message),
    size: inZone?.sizeBytes,
    physicalsize: inZone?.physicalSizeBytes,
    format: spec.format,
    hypervisor: iso ? undefined : (spec.hypervisor ?? 'KVM'),
    ostypeid: osTypeId(osType),
    ostypename: osType,
    ispublic: spec.isPublic ?? false,
    isfeatured: spec.isFeatured ?? false,
    isextractable: spec.isExtractable ?? false,
    passwordenabled: spec.passwordEnabled ?? false,
    sshkeyenabled: spec.sshKeyEnabled ?? true,
    isdynamicallyscalable: spec.isDynamicallyScalable ?? false,
    requireshvm: spec.requiresHvm ?? true,
    bootable: iso ? (spec.bootable ?? true) : undefined,
    directdownload: spec.directDownload ?? false,
    crossZones: spec.crossZones ?? false,
    templatetype: spec.templateType ?? 'USER',
    arch: spec.arch ?? 'x86_64',
    checksum: spec.checksum,
    url: spec.url,
    deployasis: false,
    details: detailsOf(template),
    downloaddetails: [],
    hasannotations: false,
    tags: tagFields(infra, template, iso ? 'ISO' : 'Template'),
  };
}

export function templateCommands(infra: Infra): Command[] {
  const { cache } = infra;

  /** The zones a template is downloaded to: its zoneRefs, or every zone for crossZones. */
  function zonesOf(template: TemplateObject): (ZoneObject | undefined)[] {
    if (template.spec.crossZones) return cache.zones.sorted().slice();
    return (template.spec.zoneRefs ?? []).map((ref) => cache.zones.byName(ref.name));
  }

  const rowsOf = (template: TemplateObject, zone?: ZoneObject): TemplateRow[] =>
    zonesOf(template)
      .filter((z) => zone === undefined || z?.metadata.name === zone.metadata.name)
      .map((z) => ({ template, zone: z }));

  const registerTemplate = defineCommand({
    name: 'registerTemplate',
    kind: 'list',
    description: 'Registers an existing template into the CloudStack cloud.',
    params: {
      name: { type: 'string', description: 'the name of the template', required: true },
      displaytext: { type: 'string', description: 'The display text of the template, defaults to \'name\'.', required: true, length: 4096 },
      format: { type: 'string', description: 'the format for the template. Possible values include QCOW2, RAW, and ISO.', required: true },
      hypervisor: { type: 'string', description: 'the target hypervisor for the template', required: true },
      url: { type: 'string', description: 'the URL of where the template is hosted. Possible URL include http:// and https://', required: true, length: 2048 },
      zoneid: { type: 'uuid', description: 'the ID of the zone the template is to be hosted on', entity: 'zone' },
      zoneids: { type: 'list', items: 'uuid', description: 'A list of zone ids where the template will be hosted. Use this parameter if the template needs to be registered to multiple zones in one go. Use zoneid if the template needs to be registered to only one zone.Passing only -1 to this will cause the template to be registered as a cross zone template and will be copied to all zones. ' },
      ostypeid: { type: 'uuid', description: 'the ID of the OS Type that best represents the OS of this template.', entity: 'ostype' },
      checksum: { type: 'string', description: 'the checksum value of this template. {SHA-256}<hex> and the like, or plain MD5 hex' },
      ispublic: { type: 'boolean', description: 'true if the template is available to all accounts; default is true' },
      isfeatured: { type: 'boolean', description: 'true if this template is a featured template, false otherwise' },
      isextractable: { type: 'boolean', description: 'true if the template or its derivatives are extractable; default is false' },
      passwordenabled: { type: 'boolean', description: 'true if the template supports the password reset feature; default is false' },
      sshkeyenabled: { type: 'boolean', description: 'true if the template supports the sshkey upload feature; default is false' },
      isdynamicallyscalable: { type: 'boolean', description: 'true if template contains XS/VMWare tools inorder to support dynamic scaling of VM cpu/memory' },
      requireshvm: { type: 'boolean', description: 'true if this template requires HVM' },
      directdownload: { type: 'boolean', description: 'Boolean flag indicating if the template should be directly downloaded to primary storage, bypassing secondary storage' },
      templatetype: { type: 'string', description: 'the type of the template. Valid options are: USER/VNF (for all users) and SYSTEM/ROUTING/BUILTIN (for admins only).' },
      arch: { type: 'string', description: 'the CPU arch of the template. Valid options are: x86_64, aarch64', oneOf: ['x86_64', 'aarch64'] },
      account: { type: 'string', description: 'an optional accountName. Must be used with domainId.' },
      domainid: { type: 'uuid', description: 'an optional domainId. If the account parameter is used, domainId must also be used.', entity: 'domain' },
    },
    async handle(p, ctx) {
      const label = 'registertemplate';
      await cache.synced();
      const format = p.format.toUpperCase();
      if (!(FORMATS as readonly string[]).includes(format)) throw invalidParameterValue(`Format ${p.format} is not supported by KVM here: use QCOW2, RAW or ISO`);
      if (p.hypervisor.toLowerCase() !== 'kvm') throw invalidParameterValue(`Hypervisor ${p.hypervisor} is not supported: Kumulus runs KVM`);
      if (p.zoneid !== undefined && p.zoneids !== undefined) throw invalidParameterValue('Both zoneid and zoneids cannot be specified at the same time');
      const ids = p.zoneids ?? (p.zoneid !== undefined ? [p.zoneid] : []);
      const crossZones = ids.length === 0 || ids.includes('-1');
      const zones = crossZones ? [] : ids.map((id) => mustFind(cache.zones, id, label, p.zoneids ? 'zoneids' : 'zoneid'));
      const osType = p.ostypeid === undefined ? undefined : osTypeById(p.ostypeid);
      if (p.ostypeid !== undefined && !osType) throw entityNotFound(label, 'ostypeid', p.ostypeid);
      const checksum = p.checksum === undefined || p.checksum === '' ? undefined : p.checksum.startsWith('{') ? p.checksum : `{MD5}${p.checksum}`;
      // A public template lives in kumulus-public, where every account reads it; RBAC decides who may put one there.
      const namespace = p.ispublic === true ? PUBLIC_NAMESPACE : ownerNamespace(infra, ctx, label, p);
      const template = await createNamed(infra.resource<TemplateObject>(ctx, Template), objectName(p.name), (name) => ({
        apiVersion: Template.apiVersion,
        kind: Template.kind,
        metadata: { namespace, name },
        spec: {
          displayName: p.name,
          displayText: p.displaytext,
          url: p.url,
          format: format as (typeof FORMATS)[number],
          hypervisor: 'KVM' as const,
          ...(checksum !== undefined ? { checksum } : {}),
          ...(osType ? { osType: osType.name } : {}),
          ...(crossZones ? { crossZones: true } : { zoneRefs: zones.map((z) => ({ name: z.metadata.name ?? '' })) }),
          isPublic: p.ispublic === true,
          ...(p.isfeatured !== undefined ? { isFeatured: p.isfeatured } : {}),
          ...(p.isextractable !== undefined ? { isExtractable: p.isextractable } : {}),
          ...(p.passwordenabled !== undefined ? { passwordEnabled: p.passwordenabled } : {}),
          ...(p.sshkeyenabled !== undefined ? { sshKeyEnabled: p.sshkeyenabled } : {}),
          ...(p.isdynamicallyscalable !== undefined ? { isDynamicallyScalable: p.isdynamicallyscalable } : {}),
          ...(p.requireshvm !== undefined ? { requiresHvm: p.requireshvm } : {}),
          ...(p.directdownload !== undefined ? { directDownload: p.directdownload } : {}),
          ...(p.templatetype !== undefined ? { templateType: p.templatetype.toUpperCase() as 'USER' } : {}),
          ...(p.arch !== undefined ? { arch: p.arch as 'x86_64' } : {}),
        },
      })).catch((err: unknown) => failure(err, ctx, { label, params: { 'spec.url': 'url', 'spec.checksum': 'checksum', 'spec.format': 'format', 'spec.zoneRefs': 'zoneids', 'spec.templateType': 'templatetype', 'spec.displayName': 'name', 'spec.displayText': 'displaytext' } }));
      return rowsOf(template);
    },
    mapItem: (row) => templateRowFields(infra, row),
  });

  const listTemplates = defineCommand({
    name: 'listTemplates',
    kind: 'list',
    description: 'List all public, private, and privileged templates.',
    params: {
      templatefilter: {
        type: 'string',
        required: true,
        description:
          'possible values are "featured", "self", "selfexecutable","sharedexecutable","executable", and "community". * featured : templates that have been marked as featured and public. * self : templates that have been registered or created by the calling user. * selfexecutable : same as self, but only returns templates that can be used to deploy a new VM. * sharedexecutable : templates ready to be deployed that have been granted to the calling user by another user. * executable : templates that are owned by the calling user, or public templates, that can be used to deploy a VM. * community : templates that have been marked as public but not featured. * all : all templates (only usable by admins).',
        oneOf: FILTERS,
      },
      id: { type: 'uuid', description: 'the template ID', entity: 'template' },
      ids: { type: 'list', items: 'uuid', description: 'the IDs of the templates, mutually exclusive with id' },
      name: { type: 'string', description: 'the template name' },
      keyword: { type: 'string', description: 'List by keyword' },
      zoneid: { type: 'uuid', description: 'list templates by zoneId', entity: 'zone' },
      hypervisor: { type: 'string', description: 'the hypervisor for which to restrict the search' },
      isready: { type: 'boolean', description: 'list templates that are ready to be deployed' },
      templatetype: { type: 'string', description: 'the type of the template' },
      tags: { type: 'map', description: 'List resources by tags (key/value pairs)' },
      account: { type: 'string', description: 'list resources by account. Must be used with the domainId parameter.' },
      domainid: { type: 'uuid', description: 'list only resources belonging to the domain specified', entity: 'domain' },
      listall: { type: 'boolean', description: 'If set to false, list only resources belonging to the command\'s caller; if set to true - list resources that the caller is authorized to see. Default value is false' },
      isrecursive: { type: 'boolean', description: 'defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.' },
    },
    async handle(p, ctx) {
      const label = 'listtemplates';
      await cache.synced();
      const one = findOptional(cache.templates, p.id, label, 'id');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const own = cache.accounts.byUid(ctx.caller.accountId)?.spec.namespace;
      const filter = p.templatefilter;
      if (filter === 'all' && !isRootAdmin(ctx.caller)) throw invalidParameterValue('templatefilter all is for root administrators only');
      const mayRead = new Map<string, boolean>();
      const readable = async (ns: string | undefined) => {
        if (ns === undefined) return false;
        if (!mayRead.has(ns)) mayRead.set(ns, await infra.deps.mayList(ctx.caller, TEMPLATES, ns));
        return mayRead.get(ns) === true;
      };
      const picked: TemplateObject[] = [];
      for (const t of one ? [one] : cache.templates.sorted()) {
        const ns = t.metadata.namespace;
        const isPublic = ns === PUBLIC_NAMESPACE && (t.spec.isPublic ?? false);
        const mine = ns === own;
        const wanted =
          filter === 'all' ? true
          : filter === 'self' || filter === 'selfexecutable' ? mine
          : filter === 'featured' ? isPublic && (t.spec.isFeatured ?? false)
          : filter === 'community' ? isPublic && !(t.spec.isFeatured ?? false)
          : filter === 'executable' ? mine || isPublic
          : false;
        if (!wanted || !(await readable(ns))) continue;
        if (!inIds(p.ids, t.metadata.uid) || (p.name !== undefined && displayName(t) !== p.name) || !keywordMatches(p.keyword, displayName(t), t.spec.displayText)) continue;
        if (p.hypervisor !== undefined && p.hypervisor.toLowerCase() !== 'kvm' && t.spec.format !== 'ISO') continue;
        if (p.templatetype !== undefined && p.templatetype.toUpperCase() !== (t.spec.templateType ?? 'USER')) continue;
        if (!hasTags(t, p.tags)) continue;
        picked.push(t);
      }
      // featured, selfexecutable and community show only ready rows (compute.md §1.5); isready asks for them explicitly.
      const readyOnly = p.isready === true || filter === 'featured' || filter === 'selfexecutable' || filter === 'community';
      return picked
        .sort(byCreation)
        .flatMap((t) => rowsOf(t, zone))
        .filter((row) => !readyOnly || row.template.status?.zones?.some((z) => z.zone === row.zone?.metadata.name && z.downloadState === 'DOWNLOADED'));
    },
    mapItem: (row) => templateRowFields(infra, row),
  });

  const deleteTemplate = defineCommand({
    name: 'deleteTemplate',
    kind: 'async',
    description: 'Deletes a template from the system. All virtual machines using the deleted template will not be affected.',
    params: {
      id: { type: 'uuid', description: 'the ID of the template', required: true, entity: 'template' },
      zoneid: { type: 'uuid', description: 'the ID of zone of the template (every zone when absent)', entity: 'zone' },
      forced: { type: 'boolean', description: 'Force delete a template.' },
    },
    async handle(p, ctx: CommandContext) {
      const label = 'deletetemplate';
      const template = await visibleById(infra, ctx, cache.templates, TEMPLATES, label, p.id);
      await infra
        .resource(ctx, Template)
        .delete({ namespace: template.metadata.namespace, name: template.metadata.name ?? '' }, { preconditions: { uid: template.metadata.uid } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return { jobid: await infra.submitJob(ctx, { target: template, kind: Template, deleted: true }) };
    },
  });

  return [registerTemplate, listTemplates, deleteTemplate];
}
