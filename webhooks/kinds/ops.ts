import { Configuration, type ConfigurationObject } from '../../crds/index.ts';
import type { FieldError, KindAdmission } from '../admission.ts';
import type { Lookup } from '../lookup.ts';
import { kindAdmission, type Admitted } from './rules.ts';

/**
 * Admission of ops.kumulus.io/Configuration: a known CloudStack setting must hold a value of its
 * type, so a typo such as `cpu.overprovisioning.factor: "two"` is refused instead of silently
 * ignored by the controllers. Unknown names pass (status.unknownSettings lists them).
 */

interface SettingType {
  expected: string;
  valid(value: string): boolean;
}

const number = (min: number, max = Infinity, inclusiveMin = true): SettingType => ({
  expected: `a number ${inclusiveMin ? 'from' : 'above'} ${min}${max === Infinity ? '' : ` to ${max}`}`,
  valid: (v) => /^\d+(\.\d+)?$/.test(v) && (inclusiveMin ? Number(v) >= min : Number(v) > min) && Number(v) <= max,
});
const integer = (min: number): SettingType => ({ expected: `a whole number, ${min} or more`, valid: (v) => /^-?\d+$/.test(v) && Number(v) >= min });
const oneOf = (...values: string[]): SettingType => ({ expected: `one of ${values.join(', ')}`, valid: (v) => values.includes(v) });
const fraction: SettingType = { expected: 'a fraction from 0 to 1, such as 0.85', valid: (v) => /^(0(\.\d+)?|1(\.0+)?)$/.test(v) };
const domainName: SettingType = { expected: 'a DNS domain such as cloud.internal', valid: (v) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(v) };

/** CloudStack's names and value types (shared/reference), for the settings Kumulus acts on. */
export const SETTING_TYPES: Record<string, SettingType> = {
  'cpu.overprovisioning.factor': number(0, Infinity, false),
  'mem.overprovisioning.factor': number(0, Infinity, false),
  'storage.overprovisioning.factor': number(0, Infinity, false),
  'vm.allocation.algorithm': oneOf('random', 'firstfit', 'userdispersing', 'userconcentratedpod_random', 'userconcentratedpod_firstfit'),
  'host.capacityType.to.order.clusters': oneOf('CPU', 'RAM', 'COMBINED'),
  'cluster.cpu.allocated.capacity.disablethreshold': fraction,
  'cluster.memory.allocated.capacity.disablethreshold': fraction,
  'cluster.storage.allocated.capacity.disablethreshold': fraction,
  'cluster.storage.capacity.disablethreshold': fraction,
  'cluster.cpu.allocated.capacity.notificationthreshold': fraction,
  'cluster.memory.allocated.capacity.notificationthreshold': fraction,
  'cluster.storage.allocated.capacity.notificationthreshold': fraction,
  'cluster.storage.capacity.notificationthreshold': fraction,
  'ping.interval': integer(1),
  'ping.timeout': number(0, Infinity, false),
  'expunge.delay': integer(0),
  'expunge.interval': integer(1),
  'default.page.size': integer(1),
  'guest.domain.suffix': domainName,
};

/** `max.account.*` resource limits: a count, or -1 for unlimited. */
const ACCOUNT_LIMIT: SettingType = { expected: 'a whole number, or -1 for unlimited', valid: (v) => /^(-1|\d+)$/.test(v) };

/** Checks the settings that are new or changed against `before`, so a stale value never blocks editing another. */
export function settingErrors(settings: Record<string, string> | undefined, before: Record<string, string> = {}): FieldError[] {
  const errors: FieldError[] = [];
  for (const [name, value] of Object.entries(settings ?? {})) {
    if (before[name] === value) continue;
    const type = SETTING_TYPES[name] ?? (name.startsWith('max.account.') ? ACCOUNT_LIMIT : undefined);
    if (type && !type.valid(value.trim())) errors.push({ field: `spec.settings[${name}]`, message: `"${value}" is not valid for ${name}; give ${type.expected}` });
  }
  return errors;
}

export function configurationAdmission(lookup: Lookup): KindAdmission<Admitted<ConfigurationObject>> {
  return kindAdmission<Admitted<ConfigurationObject>>(Configuration, lookup, { rules: [({ object, oldObject }) => settingErrors(object.spec.settings, oldObject?.spec.settings)] });
}

export const opsAdmissions = (lookup: Lookup): KindAdmission[] => [configurationAdmission(lookup)] as unknown as KindAdmission[];
