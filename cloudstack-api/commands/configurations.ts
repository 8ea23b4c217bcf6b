import { Configuration, type ConfigurationObject } from '../../crds/index.ts';
import { isNotFound } from '../../lib/kube-client.ts';
import { GLOBAL_CONFIGURATION, resolveSettings, type SettingEntry, type SettingName, SETTINGS } from '../../lib/settings.ts';
import { equalsIgnoringCase, keywordMatches } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { invalidParameterValue } from '../protocol/errors.ts';
import { type Command, defineCommand } from './define.ts';
import type { Infra } from './context.ts';
import { failure } from './errors.ts';

/**
 * Global settings: listConfigurations and updateConfiguration (step 1 of the bring-up), over
 * the `global` Configuration, resolved against the settings catalogue of lib/settings.ts (the
 * one the controllers use), so every known setting is listed with its effective value and
 * default, also before the global Configuration exists or its controller has run.
 */


function settingItem(setting: SettingEntry): Fields {
  const known = Object.hasOwn(SETTINGS, setting.name) ? SETTINGS[setting.name as SettingName] : undefined;
  return {
    name: setting.name,
    value: setting.value,
    defaultvalue: setting.defaultValue,
    category: setting.category,
    description: known?.description ?? setting.name,
    displaytext: setting.name,
    scope: 'global',
    component: 'management-server',
    isdynamic: true,
  };
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
      return resolveSettings(cache.configurations.byName(GLOBAL_CONFIGURATION)?.spec.settings).entries.filter(
        (s) => equalsIgnoringCase(p.name, s.name) && equalsIgnoringCase(p.category, s.category) && keywordMatches(p.keyword, s.name),
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
      if (!Object.hasOwn(SETTINGS, p.name)) throw invalidParameterValue(`Config parameter with name ${p.name} doesn't exist`);
      const setting = SETTINGS[p.name as SettingName];
      const resource = infra.resource<ConfigurationObject>(ctx, Configuration);
      const params = { [`spec.settings[${p.name}]`]: 'value', 'spec.settings': 'name' };
      const patch = { spec: { settings: { [p.name]: p.value ?? null } } };
      await resource.patch({ name: GLOBAL_CONFIGURATION }, patch, 'merge').catch(async (err: unknown) => {
        if (!isNotFound(err)) return failure(err, ctx, { label, params });
        return resource
          .create({ apiVersion: Configuration.apiVersion, kind: Configuration.kind, metadata: { name: GLOBAL_CONFIGURATION }, spec: { settings: p.value === undefined ? {} : { [p.name]: p.value } } })
          .catch((createErr: unknown) => failure(createErr, ctx, { label, params }));
      });
      return { name: p.name, value: p.value ?? setting.defaultValue, defaultValue: setting.defaultValue, category: setting.category };
    },
    map: settingItem,
  });

  return [listConfigurations, updateConfiguration];
}
