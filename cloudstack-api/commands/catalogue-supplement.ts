import type { CatalogueEntry, CatalogueParamType, FieldType } from './catalogue-entry.ts';

/**
 * Commands the shared catalogue lacks that the official web UI calls before or right after it
 * logs in (ui/src/views/auth/Login.vue, ui/src/store/modules/user.js, the theme loader), with
 * the shapes of the CloudStack classes that answer them (ListIdpsCmd, ListOAuthProvidersCmd,
 * ListGuiThemesCmd, ForgotPasswordCmd, LdapListConfigurationCmd, ListResourceIconCmd). Used only where the
 * catalogue has no entry of that name; the catalogue itself stays a verbatim copy.
 */

const job = { jobid: 'string', jobstatus: 'number' } as const;
const paging = { page: 'integer', pagesize: 'integer', keyword: 'string' } as const;

interface Supplement {
  readonly async: boolean;
  readonly required: string[];
  readonly paramTypes: Record<string, CatalogueParamType>;
  readonly group: string;
  readonly response: {
    readonly kind: 'list' | 'object' | 'success' | 'flat';
    readonly name: string | null;
    readonly fieldTypes?: Record<string, FieldType>;
    readonly envelope?: string;
    readonly legacyEnvelope?: string;
  };
}

function entry(name: string, parts: Supplement): CatalogueEntry {
  const optional = Object.keys(parts.paramTypes).filter((p) => !parts.required.includes(p));
  // CatalogueEntry's static type comes from the catalogue's schema, whose unions of literals TypeBox cannot narrow.
  return { name, since: null, optional, ...parts, response: { envelope: `${name.toLowerCase()}response`, ...parts.response } } as unknown as CatalogueEntry;
}

export const SUPPLEMENT: ReadonlyMap<string, CatalogueEntry> = new Map(
  [
    entry('listIdps', {
      async: false,
      required: [],
      paramTypes: {},
      group: 'capabilities-discovery-auth',
      response: { kind: 'list', name: 'idp', fieldTypes: { id: 'string', orgName: 'string', orgUrl: 'string', ...job } },
    }),
    entry('listOauthProvider', {
      async: false,
      required: [],
      paramTypes: { id: 'string', provider: 'string' },
      group: 'capabilities-discovery-auth',
      response: {
        kind: 'list',
        name: 'oauthprovider',
        fieldTypes: { id: 'string', provider: 'string', description: 'string', clientid: 'string', secretkey: 'string', redirecturi: 'string', enabled: 'boolean', ...job },
      },
    }),
    entry('listGuiThemes', {
      async: false,
      required: [],
      paramTypes: {
        id: 'uuid',
        name: 'string',
        commonname: 'string',
        domainid: 'string',
        accountid: 'string',
        listall: 'boolean',
        listremoved: 'boolean',
        ispublic: 'boolean',
        listonlydefaulttheme: 'boolean',
        ...paging,
      },
      group: 'capabilities-discovery-auth',
      response: {
        kind: 'list',
        name: 'guiThemes',
        fieldTypes: {
          id: 'string',
          name: 'string',
          description: 'string',
          css: 'string',
          jsonconfiguration: 'string',
          commonnames: 'string',
          domainids: 'string',
          accountids: 'string',
          recursivedomains: 'boolean',
          ispublic: 'boolean',
          created: 'string',
          removed: 'string',
          ...job,
        },
      },
    }),
    entry('forgotPassword', {
      async: false,
      required: ['username'],
      paramTypes: { username: 'string', domain: 'string' },
      group: 'capabilities-discovery-auth',
      response: { kind: 'success', name: null },
    }),
    entry('listLdapConfigurations', {
      async: false,
      required: [],
      paramTypes: { hostname: 'string', port: 'integer', domainid: 'uuid', listall: 'boolean', ...paging },
      group: 'accounts-domains-users',
      response: { kind: 'list', name: 'LdapConfiguration', envelope: 'listldapconfigurationsresponse', legacyEnvelope: 'ldapconfigurationresponse', fieldTypes: { hostname: 'string', port: 'number', domainid: 'string', domainname: 'string', ...job } },
    }),
    entry('listResourceIcon', {
      async: false,
      required: ['resourceids', 'resourcetype'],
      paramTypes: { resourceids: 'list', resourcetype: 'string' },
      group: 'tags-details',
      response: { kind: 'list', name: 'icon', fieldTypes: { resourcetype: 'string', resourceid: 'string', base64image: 'string', ...job } },
    }),
  ].map((e) => [e.name, e]),
);
