import { Configuration } from '../../crds/index.ts';
import { isNotFound } from '../../lib/kube-client.ts';
import type { ConfigurationLive } from '../lists/cache.ts';
import { equalsIgnoringCase, keywordMatches } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { invalidParameterValue } from '../protocol/errors.ts';
import { type Command, defineCommand } from './define.ts';
import { failure, type Infra } from './infra-support.ts';

/**
 * Global settings: listConfigurations and updateConfiguration (step 1 of the bring-up), over
 * the `global` Configuration. Its status lists every setting Kumulus knows with its effective
 * value and default (the controller resolves them), so unset settings are listed too.
 */

const GLOBAL = 'global';

interface Setting {
  name: string;
  value: string;
  defaultValue: string;
  category?: string;
}

function settingItem(setting: Setting): Fields {
  return {
    name: setting.name,
    value: setting.value,
    defaultvalue: setting.defaultValue,
    category: setting.category ?? 'Advanced',
    description: setting.name,
    displaytext: setting.name,
    scope: 'global',
    component: 'management-server',
    isdynamic: true,
  };
}

/** Every known setting, with values the spec sets but the controller has not resolved yet shown as set. */
function settingsOf(config: ConfigurationLive | undefined): Setting[] {
  const wanted = config?.spec.settings ?? {};
  const known = config?.status?.settings ?? [];
  const listed = known.map((s) => ({ ...s, value: wanted[s.name] ?? s.value }));
  const unresolved = Object.entries(wanted)
    .filter(([name]) => !known.some((s) => s.name === name) && !(config?.status?.unknownSettings ?? []).includes(name))
    .map(([name, value]) => ({ name, value, defaultValue: '' }));
  return [...listed, ...unresolved].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function configurationCommands(infra: Infra): Command[] {
  const { cache } = infra;

  const listConfigurations = defineCommand({
    name: 'listConfigurations',
    kind: 'list',
    description: 'Lists all configurations.',
    params: {
      name: { type: 'string', description: 'lists configuration by name' },
      category: { type: 'string', description: 'lists configurations by category' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      await infra.mayRead(ctx, Configuration);
      return settingsOf(cache.configurations.byName(GLOBAL)).filter(
        (s) => equalsIgnoringCase(p.name, s.name) && equalsIgnoringCase(p.category, s.category ?? 'Advanced') && keywordMatches(p.keyword, s.name),
      );
    },
    mapItem: settingItem,
  });

  const updateConfiguration = defineCommand({
    name: 'updateConfiguration',
    kind: 'object',
    description: 'Updates a configuration.',
    params: {
      name: { type: 'string', description: 'the name of the configuration', required: true },
      value: { type: 'string', description: 'the value of the configuration; absent resets it to its default', length: 4096 },
    },
    async handle(p, ctx) {
      const label = 'updateconfiguration';
      await infra.mayRead(ctx, Configuration);
      const config = cache.configurations.byName(GLOBAL);
      const known = config?.status?.settings;
      const setting = known?.find((s) => s.name === p.name);
      if (known !== undefined && setting === undefined) throw invalidParameterValue(`Config parameter with name ${p.name} doesn't exist`);
      const resource = infra.resource<ConfigurationLive>(ctx, Configuration);
      const params = { [`spec.settings[${p.name}]`]: 'value', 'spec.settings': 'name' };
      const patch = { spec: { settings: { [p.name]: p.value ?? null } } };
      await resource.patch({ name: GLOBAL }, patch, 'merge').catch(async (err: unknown) => {
        if (!isNotFound(err)) return failure(err, ctx, { label, params });
        return resource
          .create({ apiVersion: Configuration.apiVersion, kind: Configuration.kind, metadata: { name: GLOBAL }, spec: { settings: p.value === undefined ? {} : { [p.name]: p.value } } })
          .catch((createErr: unknown) => failure(createErr, ctx, { label, params }));
      });
      return { name: p.name, value: p.value ?? setting?.defaultValue ?? '', defaultValue: setting?.defaultValue ?? '', category: setting?.category };
    },
    map: settingItem,
  });

  return [listConfigurations, updateConfiguration];
}
