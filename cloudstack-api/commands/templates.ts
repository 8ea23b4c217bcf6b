import { Template, type TemplateObject, type VirtualMachineObject, type ZoneObject } from '../../crds/index.ts';
import { PUBLIC_NAMESPACE } from '../../lib/identity.ts';
import { resourceTypeOf } from '../../lib/kube-client.ts';
import { byCreation, findOptional, inIds, keywordMatches, mustFind } from '../lists/filters.ts';
import { INDEX } from '../lists/indexes.ts';
import { SCOPE_PARAMS } from '../lists/scope.ts';
import { isRootAdmin } from '../protocol/auth.ts';
import type { Fields } from '../protocol/envelope.ts';
import { entityNotFound, invalidParameterValue, permissionDenied } from '../protocol/errors.ts';
import { ownerNamespace, visibleById } from './compute-support.ts';
import { accountOfNamespace, DETAILS_ANNOTATION, detailsOf, hasTags, osTypeId, ownerFields, tagFields } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import { apiDate } from './infra-views.ts';
import { createNamed, displayName, objectName } from './names.ts';
import { osTypeById } from './os-types.ts';
import { mergedDetails } from './vm-support.ts';

/**
 * Templates and ISOs (PROTOCOL.md §11, templates and isos; compute.md §1.5): Template objects
 * (an ISO is one of format ISO) in the account's namespace, public or not, or in kumulus-public
 * for the platform's own public ones. A public template is listed and usable by every account
 * wherever it lives; only its owner changes it. registerTemplate answers at once with the
 * template's rows (one per zone) while the download goes on; listTemplates shows one row per
 * template and zone, with `isready` and `status` from that zone's download state.
 */

const TEMPLATES = resourceTypeOf(Template);
const FORMATS = ['QCOW2', 'RAW', 'ISO'] as const;
const TEMPLATE_TYPES = ['USER', 'BUILTIN', 'SYSTEM', 'ROUTING'];
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

  /** What registerTemplate and registerIso share: the checks, and the Template written as the caller. */
  interface Registration {
    readonly name: string;
    readonly displaytext: string;
    readonly url: string;
    readonly format: (typeof FORMATS)[number];
    readonly zoneids: readonly string[];
    readonly zoneParam: string;
    readonly ostypeid?: string;
    readonly checksum?: string;
    readonly ispublic?: boolean;
    readonly isfeatured?: boolean;
    readonly isextractable?: boolean;
    readonly passwordenabled?: boolean;
    readonly sshkeyenabled?: boolean;
    readonly isdynamicallyscalable?: boolean;
    readonly requireshvm?: boolean;
    readonly directdownload?: boolean;
    readonly bootable?: boolean;
    readonly templatetype?: string;
    readonly arch?: string;
    readonly account?: string;
    readonly domainid?: string;
  }

  async function register(ctx: CommandContext, label: string, p: Registration): Promise<TemplateRow[]> {
    await cache.synced();
    const crossZones = p.zoneids.length === 0 || p.zoneids.includes('-1');
    const zones = crossZones ? [] : p.zoneids.map((id) => mustFind(cache.zones, id, label, p.zoneParam));
    const osType = p.ostypeid === undefined ? undefined : osTypeById(p.ostypeid);
    if (p.ostypeid !== undefined && !osType) throw entityNotFound(label, 'ostypeid', p.ostypeid);
    const checksum = p.checksum === undefined || p.checksum === '' ? undefined : p.checksum.startsWith('{') ? p.checksum : `{MD5}${p.checksum}`;
    // The platform's public templates live in kumulus-public; an account's stay in its namespace, public or not (usable by all when public).
    const namespace = p.ispublic === true && isRootAdmin(ctx.caller) && p.account === undefined ? PUBLIC_NAMESPACE : ownerNamespace(infra, ctx, label, p);
    const template = await createNamed(infra.resource<TemplateObject>(ctx, Template), objectName(p.name), (name) => ({
      apiVersion: Template.apiVersion,
      kind: Template.kind,
      metadata: { namespace, name },
      spec: {
        displayName: p.name,
        displayText: p.displaytext,
        url: p.url,
        format: p.format,
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
        ...(p.bootable !== undefined ? { bootable: p.bootable } : {}),
        ...(p.templatetype !== undefined ? { templateType: p.templatetype.toUpperCase() as 'USER' } : {}),
        ...(p.arch !== undefined ? { arch: p.arch as 'x86_64' } : {}),
      },
    })).catch((err: unknown) => failure(err, ctx, { label, params: { 'spec.url': 'url', 'spec.checksum': 'checksum', 'spec.format': 'format', 'spec.zoneRefs': p.zoneParam, 'spec.templateType': 'templatetype', 'spec.displayName': 'name', 'spec.displayText': 'displaytext' } }));
    return rowsOf(template);
  }

  const ownership = {
    account: { type: 'string', description: 'an optional accountName. Must be used with domainId.' },
    domainid: { type: 'uuid', description: 'an optional domainId. If the account parameter is used, domainId must also be used.', entity: 'domain' },
  } as const;

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
      ...ownership,
    },
    async handle(p, ctx) {
      const label = 'registertemplate';
      const format = p.format.toUpperCase();
      if (!(FORMATS as readonly string[]).includes(format)) throw invalidParameterValue(`Format ${p.format} is not supported by KVM here: use QCOW2, RAW or ISO`);
      if (p.hypervisor.toLowerCase() !== 'kvm') throw invalidParameterValue(`Hypervisor ${p.hypervisor} is not supported: Kumulus runs KVM`);
      if (p.zoneid !== undefined && p.zoneids !== undefined) throw invalidParameterValue('Both zoneid and zoneids cannot be specified at the same time');
      const zoneids = p.zoneids ?? (p.zoneid !== undefined ? [p.zoneid] : []);
      return register(ctx, label, { ...p, format: format as (typeof FORMATS)[number], zoneids, zoneParam: p.zoneids ? 'zoneids' : 'zoneid' });
    },
    mapItem: (row) => templateRowFields(infra, row),
  });

  const registerIso = defineCommand({
    name: 'registerIso',
    kind: 'list',
    description: 'Registers an existing ISO into the CloudStack Cloud.',
    params: {
      name: { type: 'string', description: 'the name of the ISO', required: true },
      displaytext: { type: 'string', description: 'the display text of the ISO, defaults to the \'name\'', required: true, length: 4096 },
      url: { type: 'string', description: 'the URL to where the ISO is currently being hosted', required: true, length: 2048 },
      zoneid: { type: 'uuid', description: 'the ID of the zone you wish to register the ISO to (-1: every zone)', required: true, entity: 'zone' },
      bootable: { type: 'boolean', description: 'true if this ISO is bootable. If not passed explicitly its assumed to be true' },
      ostypeid: { type: 'uuid', description: 'the ID of the OS type that best represents the OS of this ISO. If the ISO is bootable this parameter needs to be passed', entity: 'ostype' },
      checksum: { type: 'string', description: 'the checksum value of this ISO. {SHA-256}<hex> and the like, or plain MD5 hex' },
      ispublic: { type: 'boolean', description: 'true if you want to register the ISO to be publicly available to all users, false otherwise.' },
      isfeatured: { type: 'boolean', description: 'true if you want this ISO to be featured' },
      isextractable: { type: 'boolean', description: 'true if the ISO or its derivatives are extractable; default is false' },
      passwordenabled: { type: 'boolean', description: 'true if password reset feature is supported; default is false' },
      isdynamicallyscalable: { type: 'boolean', description: 'true if ISO contains XS/VMWare tools inorder to support dynamic scaling of VM CPU/memory' },
      directdownload: { type: 'boolean', description: 'Boolean flag indicating if the ISO should be directly downloaded to primary storage, bypassing secondary storage' },
      arch: { type: 'string', description: 'the CPU arch of the ISO. Valid options are: x86_64, aarch64', oneOf: ['x86_64', 'aarch64'] },
      ...ownership,
    },
    async handle(p, ctx) {
      const label = 'registeriso';
      return register(ctx, label, { ...p, format: 'ISO', zoneids: [p.zoneid], zoneParam: 'zoneid' });
    },
    mapItem: (row) => templateRowFields(infra, row),
  });

  interface Listing {
    readonly filter: (typeof FILTERS)[number];
    readonly id?: string;
    readonly ids?: readonly string[];
    readonly name?: string;
    readonly keyword?: string;
    readonly zoneid?: string;
    readonly hypervisor?: string;
    readonly isready?: boolean;
    readonly ispublic?: boolean;
    readonly bootable?: boolean;
    readonly templatetype?: string;
    readonly arch?: string;
    readonly tags?: Record<string, string>[];
  }

  /** listTemplates and listIsos: the rows (template × zone) a filter picks among templates or ISOs the caller may read. */
  async function listed(ctx: CommandContext, label: string, iso: boolean, p: Listing): Promise<TemplateRow[]> {
    await cache.synced();
    const one = findOptional(cache.templates, p.id, label, 'id');
    const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
    const own = cache.accounts.byUid(ctx.caller.accountId)?.spec.namespace;
    const filter = p.filter;
    if (filter === 'all' && !isRootAdmin(ctx.caller)) throw invalidParameterValue(`${iso ? 'isofilter' : 'templatefilter'} all is for root administrators only`);
    const mayRead = new Map<string, boolean>();
    const readable = async (ns: string | undefined) => {
      if (ns === undefined) return false;
      if (!mayRead.has(ns)) mayRead.set(ns, await infra.deps.mayList(ctx.caller, TEMPLATES, ns));
      return mayRead.get(ns) === true;
    };
    const picked: TemplateObject[] = [];
    for (const t of one ? [one] : cache.templates.sorted()) {
      if ((t.spec.format === 'ISO') !== iso) continue;
      const ns = t.metadata.namespace;
      const isPublic = t.spec.isPublic ?? false;
      const mine = ns === own;
      const wanted =
        filter === 'all' ? true
        : filter === 'self' || filter === 'selfexecutable' ? mine
        : filter === 'featured' ? isPublic && (t.spec.isFeatured ?? false)
        : filter === 'community' ? isPublic && !(t.spec.isFeatured ?? false)
        : filter === 'executable' ? mine || isPublic
        : false;
      // A public template is usable, and listed, by every account, wherever it lives.
      if (!wanted || !(isPublic || (await readable(ns)))) continue;
      if (!inIds(p.ids, t.metadata.uid) || (p.name !== undefined && displayName(t) !== p.name) || !keywordMatches(p.keyword, displayName(t), t.spec.displayText)) continue;
      if (p.hypervisor !== undefined && p.hypervisor.toLowerCase() !== 'kvm' && !iso) continue;
      if (p.templatetype !== undefined && p.templatetype.toUpperCase() !== (t.spec.templateType ?? 'USER')) continue;
      if (p.ispublic !== undefined && p.ispublic !== isPublic) continue;
      if (p.bootable !== undefined && p.bootable !== (t.spec.bootable ?? true)) continue;
      if (p.arch !== undefined && p.arch !== (t.spec.arch ?? 'x86_64')) continue;
      if (!hasTags(t, p.tags)) continue;
      picked.push(t);
    }
    // featured, selfexecutable and community show only ready rows (compute.md §1.5); isready asks for them explicitly.
    const readyOnly = p.isready === true || filter === 'featured' || filter === 'selfexecutable' || filter === 'community';
    return picked
      .sort(byCreation)
      .flatMap((t) => rowsOf(t, zone))
      .filter((row) => !readyOnly || row.template.status?.zones?.some((z) => z.zone === row.zone?.metadata.name && z.downloadState === 'DOWNLOADED'));
  }

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
      arch: { type: 'string', description: 'the CPU arch of the template. Valid options are: x86_64, aarch64' },
      tags: { type: 'map', description: 'List resources by tags (key/value pairs)' },
      ...SCOPE_PARAMS,
    },
    handle: (p, ctx) => listed(ctx, 'listtemplates', false, { ...p, filter: p.templatefilter as Listing['filter'] }),
    mapItem: (row) => templateRowFields(infra, row),
  });

  const listIsos = defineCommand({
    name: 'listIsos',
    kind: 'list',
    description: 'Lists all available ISO files.',
    params: {
      isofilter: {
        type: 'string',
        description:
          'possible values are "featured", "self", "selfexecutable","sharedexecutable","executable", and "community". * featured : ISOs that have been marked as featured and public. * self : ISOs that have been registered or created by the calling user. * selfexecutable : same as self, but only returns ISOs that are ready to be deployed with. * sharedexecutable : ready ISOs that have been granted to the calling user by another user. * executable : ISOs that are owned by the calling user, or public ISOs, that can be used to deploy a new VM. * community : ISOs that have been marked as public but not featured. * all : all ISOs (only usable by admins).',
        oneOf: FILTERS,
      },
      id: { type: 'uuid', description: 'list ISO by ID', entity: 'iso' },
      name: { type: 'string', description: 'list all ISOs by name' },
      keyword: { type: 'string', description: 'List by keyword' },
      zoneid: { type: 'uuid', description: 'the ID of the zone', entity: 'zone' },
      bootable: { type: 'boolean', description: 'true if the ISO is bootable, false otherwise' },
      ispublic: { type: 'boolean', description: 'true if the ISO is publicly available to all users, false otherwise.' },
      isready: { type: 'boolean', description: 'true if this ISO is ready to be deployed' },
      hypervisor: { type: 'string', description: 'the hypervisor for which to restrict the search' },
      arch: { type: 'string', description: 'the CPU arch of the ISO. Valid options are: x86_64, aarch64' },
      tags: { type: 'map', description: 'List resources by tags (key/value pairs)' },
      ...SCOPE_PARAMS,
    },
    // selfexecutable when absent, as ListIsosCmd defaults it.
    handle: (p, ctx) => listed(ctx, 'listisos', true, { ...p, filter: (p.isofilter ?? 'selfexecutable') as Listing['filter'] }),
    mapItem: (row) => templateRowFields(infra, row),
  });

  /** A template (iso false) or ISO (iso true) the caller may see, by id; the other kind is not found, as CloudStack's lookups by type. */
  async function visible(ctx: CommandContext, label: string, id: string, iso: boolean, param = 'id'): Promise<TemplateObject> {
    const template = await visibleById(infra, ctx, cache.templates, TEMPLATES, label, id, param);
    if ((template.spec.format === 'ISO') !== iso) throw entityNotFound(label, param, id);
    return template;
  }

  const deleter = (name: 'deleteTemplate' | 'deleteIso', description: string, iso: boolean) =>
    defineCommand({
      name,
      kind: 'async',
      description,
      params: {
        id: { type: 'uuid', description: `the ID of the ${iso ? 'ISO' : 'template'}`, required: true, entity: iso ? 'iso' : 'template' },
        zoneid: { type: 'uuid', description: `the ID of zone of the ${iso ? 'ISO' : 'template'} (every zone when absent)`, entity: 'zone' },
        ...(iso ? {} : { forced: { type: 'boolean', description: 'Force delete a template.' } }),
      },
      async handle(p, ctx: CommandContext) {
        const label = name.toLowerCase();
        const template = await visible(ctx, label, p.id, iso);
        // TemplateManagerImpl.templateIsDeleteable: an ISO in a VM's drive stays until detached.
        const inDrive = (vm: VirtualMachineObject) => {
          const ref = vm.spec.attachedIsoRef;
          return ref !== undefined && ref.name === template.metadata.name && (ref.namespace ?? vm.metadata.namespace) === template.metadata.namespace;
        };
        if (iso && cache.virtualMachines.list().some(inDrive)) {
          throw invalidParameterValue('Unable to delete ISO, as it\'s used by other instances');
        }
        await infra
          .resource(ctx, Template)
          .delete({ namespace: template.metadata.namespace, name: template.metadata.name ?? '' }, { preconditions: { uid: template.metadata.uid } })
          .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
        return { jobid: await infra.submitJob(ctx, { target: template, kind: Template, deleted: true }) };
      },
    });
  const deleteTemplate = deleter('deleteTemplate', 'Deletes a template from the system. All virtual machines using the deleted template will not be affected.', false);
  const deleteIso = deleter('deleteIso', 'Deletes an ISO file.', true);

  /** updateTemplate and updateIso: names, texts, OS type, flags and details, written to the Template as the caller. */
  const updater = (name: 'updateTemplate' | 'updateIso', iso: boolean) =>
    defineCommand({
      name,
      kind: 'object',
      description: `Updates attributes of ${iso ? 'an ISO' : 'a template'}.`,
      params: {
        id: { type: 'uuid', description: `the ID of the image file`, required: true, entity: iso ? 'iso' : 'template' },
        name: { type: 'string', description: 'the name of the image file' },
        displaytext: { type: 'string', description: 'the display text of the image', length: 4096 },
        ostypeid: { type: 'uuid', description: 'the ID of the OS type that best represents the OS of this image.', entity: 'ostype' },
        format: { type: 'string', description: 'the format for the image (it cannot change: a new format is a new registration)' },
        bootable: { type: 'boolean', description: 'true if image is bootable, false otherwise; available only for updateIso API' },
        passwordenabled: { type: 'boolean', description: 'true if the image supports the password reset feature; default is false' },
        sshkeyenabled: { type: 'boolean', description: 'true if the template supports the sshkey upload feature; default is false' },
        isdynamicallyscalable: { type: 'boolean', description: 'true if template/ISO contains XS/VMWare tools inorder to support dynamic scaling of VM cpu/memory' },
        requireshvm: { type: 'boolean', description: 'true if the template requires HVM, false otherwise; available only for updateTemplate API' },
        arch: { type: 'string', description: 'the CPU arch of the template/ISO. Valid options are: x86_64, aarch64', oneOf: ['x86_64', 'aarch64'] },
        details: { type: 'map', description: 'Details in key/value pairs using format details[i].keyname=keyvalue. Example: details[0].hypervisortoolsversion=xenserver61' },
        cleanupdetails: { type: 'boolean', description: 'optional boolean field, which indicates if details should be cleaned up or not (if set to true, details removed for this resource, details field ignored; if false or not set, no action)' },
        ...(iso ? {} : { templatetype: { type: 'string', description: 'the type of the template. Valid options are: USER/VNF (for all users) and SYSTEM/ROUTING/BUILTIN (for admins only).' } }),
      },
      async handle(p, ctx) {
        const label = name.toLowerCase();
        const template = await visible(ctx, label, p.id, iso);
        if (p.format !== undefined && p.format.toUpperCase() !== template.spec.format) throw invalidParameterValue(`The format of ${displayName(template)} is ${template.spec.format} and cannot change: register the image again in format ${p.format.toUpperCase()}`);
        const osType = p.ostypeid === undefined ? undefined : osTypeById(p.ostypeid);
        if (p.ostypeid !== undefined && !osType) throw entityNotFound(label, 'ostypeid', p.ostypeid);
        const templateType = 'templatetype' in p && typeof p.templatetype === 'string' ? p.templatetype.toUpperCase() : undefined;
        if (templateType !== undefined && !TEMPLATE_TYPES.includes(templateType)) throw invalidParameterValue(`Invalid template type ${templateType}: use one of ${TEMPLATE_TYPES.join(', ')}`);
        if (templateType !== undefined && templateType !== 'USER' && !isRootAdmin(ctx.caller)) throw permissionDenied(`Only root admins can set template type ${templateType}`);
        const details = p.cleanupdetails === true ? {} : p.details !== undefined ? { ...detailsOf(template), ...mergedDetails(p.details) } : undefined;
        const spec = {
          displayName: p.name,
          displayText: p.displaytext,
          osType: osType?.name,
          bootable: iso ? p.bootable : undefined,
          passwordEnabled: p.passwordenabled,
          sshKeyEnabled: p.sshkeyenabled,
          isDynamicallyScalable: p.isdynamicallyscalable,
          requiresHvm: p.requireshvm,
          arch: p.arch,
          templateType,
        };
        const metadata = details === undefined ? undefined : { annotations: { [DETAILS_ANNOTATION]: Object.keys(details).length > 0 ? JSON.stringify(details) : null } };
        return infra
          .resource<TemplateObject>(ctx, Template)
          .patch({ namespace: template.metadata.namespace, name: template.metadata.name ?? '' }, { ...(metadata ? { metadata } : {}), spec }, 'merge')
          .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: { 'spec.displayName': 'name', 'spec.displayText': 'displaytext', 'spec.templateType': 'templatetype' } }));
      },
      // The image in its first zone, as CloudStack's update answers one row.
      map: (template) => templateRowFields(infra, rowsOf(template)[0] ?? { template, zone: undefined }),
    });
  const updateTemplate = updater('updateTemplate', false);
  const updateIso = updater('updateIso', true);

  /**
   * Permissions: Kumulus shares an image with everyone (public) or no one; CloudStack's per-account
   * launch permissions would need RBAC on single objects of another namespace, so `accounts` and
   * `projectids` are refused with the way to share instead.
   */
  const permissionLister = (name: 'listTemplatePermissions' | 'listIsoPermissions', iso: boolean) =>
    defineCommand({
      name,
      kind: 'list',
      description: `List ${iso ? 'ISO' : 'template'} visibility and all accounts that have permissions to view this ${iso ? 'ISO' : 'template'}.`,
      params: { id: { type: 'uuid', description: `the ${iso ? 'ISO' : 'template'} ID`, required: true, entity: iso ? 'iso' : 'template' } },
      async handle(p, ctx) {
        return [await visible(ctx, name.toLowerCase(), p.id, iso)];
      },
      mapItem: (template): Fields => ({
        id: template.metadata.uid,
        ispublic: template.spec.isPublic ?? false,
        domainid: ownerFields(infra, template.metadata.namespace)['domainid'],
        account: [],
        projectids: [],
      }),
    });

  const permissionUpdater = (name: 'updateTemplatePermissions' | 'updateIsoPermissions', iso: boolean) =>
    defineCommand({
      name,
      kind: 'success',
      description: `Updates a ${iso ? 'ISO' : 'template'} visibility permissions. A public ${iso ? 'ISO' : 'template'} is visible to all accounts within the same domain. A private one is visible only to the owner.`,
      params: {
        id: { type: 'uuid', description: `the ${iso ? 'ISO' : 'template'} ID`, required: true, entity: iso ? 'iso' : 'template' },
        ispublic: { type: 'boolean', description: `true for a public ${iso ? 'ISO' : 'template'}, false for a private one` },
        isfeatured: { type: 'boolean', description: `true for a featured ${iso ? 'ISO' : 'template'}, false otherwise` },
        isextractable: { type: 'boolean', description: `true if the ${iso ? 'ISO' : 'template'} is extractable, false otherwise` },
        accounts: { type: 'list', description: 'a comma delimited list of accounts within caller\'s domain (not supported: share by making the image public)' },
        projectids: { type: 'list', items: 'uuid', description: 'a comma delimited list of projects (not supported: Kumulus has no projects)' },
        op: { type: 'string', description: 'permission operator (add, remove, reset); only with accounts, which are not supported' },
      },
      async handle(p, ctx) {
        const label = name.toLowerCase();
        const template = await visible(ctx, label, p.id, iso);
        if (p.accounts !== undefined || p.projectids !== undefined || p.op !== undefined) {
          throw invalidParameterValue(`Sharing ${displayName(template)} with chosen accounts or projects is not supported: make it public (ispublic=true), which lets every account use it, or keep it private`);
        }
        if (p.isfeatured !== undefined && !isRootAdmin(ctx.caller)) throw permissionDenied('Only admins can update template/iso featured flag');
        const spec = { isPublic: p.ispublic, isFeatured: p.isfeatured, isExtractable: p.isextractable };
        await infra
          .resource<TemplateObject>(ctx, Template)
          .patch({ namespace: template.metadata.namespace, name: template.metadata.name ?? '' }, { spec }, 'merge')
          .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
        return undefined;
      },
    });

  /**
   * prepareTemplate (admin): caches the template on the zone's primary storage pools (or the one
   * storageid names) before a VM needs it, by adding them to spec.preparePools; the agents that
   * mount them fill them from the zone's secondary copy and report each in status.pools.
   * Synchronous and list-shaped, as CloudStack answers it: the filling goes on.
   */
  const prepareTemplate = defineCommand({
    name: 'prepareTemplate',
    kind: 'list',
    description: 'load template into primary storage',
    params: {
      templateid: { type: 'uuid', description: 'template ID of the template to be prepared in primary storage(s).', required: true, entity: 'template' },
      zoneid: { type: 'uuid', description: 'zone ID of the template to be prepared in primary storage(s).', required: true, entity: 'zone' },
      storageid: { type: 'uuid', description: 'storage pool ID of the primary storage pool to which the template should be prepared. If it is not provided the template is prepared on all the available primary storage pools.', entity: 'storagepool' },
    },
    async handle(p, ctx) {
      const label = 'preparetemplate';
      await cache.synced();
      const template = mustFind(cache.templates, p.templateid, label, 'templateid');
      const zone = mustFind(cache.zones, p.zoneid, label, 'zoneid');
      const pool = findOptional(cache.primaryStorages, p.storageid, label, 'storageid');
      if (template.spec.format === 'ISO') throw invalidParameterValue(`${displayName(template)} (${p.templateid}) is an ISO: only templates are prepared on primary storage`);
      if (!zonesOf(template).some((z) => z?.metadata.name === zone.metadata.name)) throw invalidParameterValue(`The template ${p.templateid} is not available for use in zone ${p.zoneid}: register it there first`);
      if (pool && pool.spec.zoneRef.name !== zone.metadata.name) throw invalidParameterValue(`Storage pool ${p.storageid} is not in zone ${p.zoneid}: name a pool of that zone, or leave storageid out`);
      const pools = pool ? [pool] : cache.primaryStorages.byIndex(INDEX.zone, zone.metadata.name ?? '');
      if (pools.length === 0) throw invalidParameterValue(`Zone ${p.zoneid} has no primary storage to prepare the template on: add a storage pool first`);
      const listed = new Set((template.spec.preparePools ?? []).map((ref) => ref.name));
      const wanted = pools.map((p) => p.metadata.name ?? '').filter((name) => !listed.has(name));
      const prepared =
        wanted.length === 0
          ? template
          : await infra
              .resource<TemplateObject>(ctx, Template)
              .patch(
                { namespace: template.metadata.namespace, name: template.metadata.name ?? '' },
                { metadata: { resourceVersion: template.metadata.resourceVersion }, spec: { preparePools: [...(template.spec.preparePools ?? []), ...wanted.map((name) => ({ name }))] } },
                'merge',
              )
              .catch((err: unknown) => failure(err, ctx, { label, id: p.templateid, params: { 'spec.preparePools': 'storageid' } }));
      return rowsOf(prepared, zone);
    },
    mapItem: (row) => templateRowFields(infra, row),
  });

  return [
    registerTemplate,
    prepareTemplate,
    listTemplates,
    updateTemplate,
    deleteTemplate,
    permissionLister('listTemplatePermissions', false),
    permissionUpdater('updateTemplatePermissions', false),
    registerIso,
    listIsos,
    updateIso,
    deleteIso,
    permissionLister('listIsoPermissions', true),
    permissionUpdater('updateIsoPermissions', true),
  ];
}
