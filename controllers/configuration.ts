/**
 * Configuration `global`: resolves CloudStack's global settings against their defaults and
 * lists every known one in status with its effective value, so `listConfigurations` and
 * `kubectl get csconfig global -o yaml` show unset settings too. An invalid value keeps the
 * default, makes the object not Ready and names the setting and the fix.
 */
import { Configuration, type ConfigurationObject } from '../crds/index.ts';
import type { EventInput } from '../lib/events.ts';
import type { Manager } from '../lib/manager.ts';
import type { InfraContext } from './infra-context.ts';
import { registerKindReconciler } from './reconciler.ts';
import { resolveSettings } from '../lib/settings.ts';

export function registerConfigurationController(manager: Manager, ctx: InfraContext): void {
  registerKindReconciler<ConfigurationObject>(manager, ctx, {
    name: 'configuration',
    kind: Configuration,
    informer: ctx.informers.configurations,
    ownership: { fields: ['settings', 'unknownSettings'], conditions: ['Ready'] },
    observe(config) {
      const resolved = resolveSettings(config.spec.settings);
      const before = new Map((config.status?.settings ?? []).map((s) => [s.name, s.value]));
      const events: EventInput[] = config.status?.settings
        ? resolved.entries.filter((e) => before.get(e.name) !== e.value).map((e) => ({ reason: 'CONFIGURATION.VALUE.EDIT', note: `${e.name}: ${before.get(e.name) ?? '(unset)'} → ${e.value}` }))
        : [];
      const ok = resolved.problems.length === 0;
      const unknown = resolved.unknown.length ? ` Ignored unknown settings: ${resolved.unknown.join(', ')}.` : '';
      return {
        state: ok ? 'Ready' : 'Error',
        fields: { settings: resolved.entries, unknownSettings: resolved.unknown.length ? resolved.unknown : undefined },
        conditions: [
          ok
            ? { type: 'Ready', status: 'True', reason: 'SettingsResolved', message: unknown.trim() }
            : { type: 'Ready', status: 'False', reason: 'InvalidSetting', message: `${resolved.problems.join('; ')}.${unknown}` },
        ],
        events,
      };
    },
  });
}
