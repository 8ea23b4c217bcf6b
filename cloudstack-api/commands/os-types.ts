import { findOptional, inIds, keywordMatches } from '../lists/filters.ts';
import { derivedUuid } from '../lists/cache.ts';
import type { Fields } from '../protocol/envelope.ts';
import { entityNotFound } from '../protocol/errors.ts';
import { osTypeId } from './compute-views.ts';
import { type Command, defineCommand } from './define.ts';

/**
 * Guest OS types and categories (listOsTypes, listOsCategories): a fixed catalogue, as in a
 * fresh CloudStack. A Template names its OS type by name (spec.osType); the ids are derived
 * from the names, so every replica and both doors agree.
 */

const CATEGORIES: Readonly<Record<string, readonly string[]>> = {
  CentOS: ['CentOS 7', 'CentOS 8', 'CentOS Stream 9'],
  Debian: ['Debian GNU/Linux 11 (64-bit)', 'Debian GNU/Linux 12 (64-bit)'],
  Oracle: ['Oracle Linux 8', 'Oracle Linux 9'],
  RedHat: ['Red Hat Enterprise Linux 8', 'Red Hat Enterprise Linux 9'],
  SUSE: ['SUSE Linux Enterprise Server 15 (64-bit)'],
  Ubuntu: ['Ubuntu 20.04 LTS', 'Ubuntu 22.04 LTS', 'Ubuntu 24.04 LTS'],
  Windows: ['Windows Server 2019 (64-bit)', 'Windows Server 2022 (64-bit)'],
  Unix: ['FreeBSD 13 (64-bit)'],
  Other: ['Other Linux (64-bit)', 'Other Linux (32-bit)', 'Other (64-bit)', 'Other (32-bit)'],
};

export interface OsType {
  readonly id: string;
  readonly name: string;
  readonly category: string;
  readonly categoryId: string;
}

const categoryId = (name: string) => derivedUuid('oscategory', name);

export const OS_TYPES: readonly OsType[] = Object.entries(CATEGORIES).flatMap(([category, names]) => names.map((name) => ({ id: osTypeId(name), name, category, categoryId: categoryId(category) })));

export function osTypeById(id: string): OsType | undefined {
  return OS_TYPES.find((t) => t.id === id);
}

function osTypeFields(t: OsType): Fields {
  return { id: t.id, description: t.name, name: t.name, oscategoryid: t.categoryId, oscategoryname: t.category, isuserdefined: false, fordisplay: true };
}

export function osTypeCommands(): Command[] {
  const byId = { byUid: (id: string) => OS_TYPES.find((t) => t.id === id) };
  const categories = Object.keys(CATEGORIES).map((name) => ({ id: categoryId(name), name }));
  const listOsTypes = defineCommand({
    name: 'listOsTypes',
    kind: 'list',
    description: 'Lists all supported OS types for this cloud.',
    params: {
      id: { type: 'uuid', description: 'list by Os type Id', entity: 'ostype' },
      ids: { type: 'list', items: 'uuid', description: 'list by Os type Ids' },
      oscategoryid: { type: 'uuid', description: 'list by Os Category id', entity: 'oscategory' },
      description: { type: 'string', description: 'list os by description' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    handle(p) {
      const one = p.id === undefined ? undefined : byId.byUid(p.id);
      if (p.id !== undefined && !one) throw entityNotFound('listostypes', 'id', p.id);
      if (p.oscategoryid !== undefined && !categories.some((c) => c.id === p.oscategoryid)) throw entityNotFound('listostypes', 'oscategoryid', p.oscategoryid);
      return Promise.resolve(
        OS_TYPES.filter(
          (t) =>
            (p.id === undefined || t.id === p.id) &&
            inIds(p.ids, t.id) &&
            (p.oscategoryid === undefined || t.categoryId === p.oscategoryid) &&
            (p.description === undefined || t.name === p.description) &&
            keywordMatches(p.keyword, t.name),
        ),
      );
    },
    mapItem: osTypeFields,
  });
  const listOsCategories = defineCommand({
    name: 'listOsCategories',
    kind: 'list',
    description: 'Lists all supported OS categories for this cloud.',
    params: {
      id: { type: 'uuid', description: 'list Os category by id', entity: 'oscategory' },
      name: { type: 'string', description: 'list os category by name' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    handle(p) {
      findOptional({ byUid: (id: string) => categories.find((c) => c.id === id) as never }, p.id, 'listoscategories', 'id');
      return Promise.resolve(categories.filter((c) => (p.id === undefined || c.id === p.id) && (p.name === undefined || c.name === p.name) && keywordMatches(p.keyword, c.name)));
    },
    mapItem: (c) => ({ id: c.id, name: c.name }),
  });
  return [listOsTypes, listOsCategories];
}
