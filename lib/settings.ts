/**
 * CloudStack's global settings (`listConfigurations`) that Kumulus reads, with CloudStack's
 * defaults, and their resolution from the `global` Configuration: a value given in
 * spec.settings wins when it is valid; an invalid one is reported and the default is used,
 * so one typo never stops the cloud.
 */
import { DEPLOYMENT_PLANNERS } from '../crds/index.ts';

type SettingType =
  | { type: 'number'; min?: number; max?: number }
  | { type: 'integer'; min?: number; max?: number }
  | { type: 'string'; values?: readonly string[] };

export interface SettingDefinition {
  defaultValue: string;
  category: string;
  description: string;
  check: SettingType;
}

const ratio = { type: 'number', min: 0, max: 1 } as const;
const factor = { type: 'number', min: 1 } as const;
const limit = { type: 'integer', min: -1 } as const;

function threshold(what: string, defaultValue: string, effect: 'disable' | 'notify'): SettingDefinition {
  const verb = effect === 'disable' ? 'stops new allocations' : 'raises a capacity alert';
  return { defaultValue, category: 'Alert', description: `Fraction (0-1) of ${what} above which Kumulus ${verb}.`, check: ratio };
}

function accountLimit(what: string, defaultValue: string): SettingDefinition {
  return { defaultValue, category: 'Account Defaults', description: `Default most ${what} an account may have; -1 is unlimited.`, check: limit };
}

/** Every setting Kumulus knows, by CloudStack name. */
export const SETTINGS = {
  'cpu.overprovisioning.factor': { defaultValue: '1.0', category: 'Advanced', description: 'CPU MHz handed out per physical MHz, for clusters that set no cpuOvercommitRatio.', check: factor },
  'mem.overprovisioning.factor': { defaultValue: '1.0', category: 'Advanced', description: 'Memory handed out per physical byte, for clusters that set no memoryOvercommitRatio.', check: factor },
  'storage.overprovisioning.factor': { defaultValue: '2', category: 'Storage', description: 'Bytes allocatable per physical byte on shared primary storage, for pools that set no overprovisionFactor.', check: factor },
  'vm.allocation.algorithm': {
    defaultValue: 'random',
    category: 'Advanced',
    description: 'How the planner orders candidate clusters and hosts.',
    check: { type: 'string', values: ['random', 'firstfit', 'userdispersing', 'userconcentratedpod_random', 'userconcentratedpod_firstfit', 'firstfitleastconsumed'] },
  },
  'vm.deployment.planner': {
    defaultValue: 'FirstFitPlanner',
    category: 'Advanced',
    description: 'How the planner orders clusters: by free capacity (FirstFitPlanner), fewest of the account\'s VMs first (UserDispersingPlanner), or pods holding the account\'s VMs first (UserConcentratedPodPlanner). A service offering\'s deploymentPlanner overrides it.',
    check: { type: 'string', values: DEPLOYMENT_PLANNERS },
  },
  'vm.user.dispersion.weight': {
    defaultValue: '1',
    category: 'Advanced',
    description: 'Weight (0-1) of the account\'s VM count against used capacity when UserDispersingPlanner orders clusters; 1 disperses only.',
    check: ratio,
  },
  'capacity.skipcounting.hours': {
    defaultValue: '3600',
    category: 'Advanced',
    description: 'Seconds (despite the name, as in CloudStack) a stopped VM keeps holding its host\'s CPU and memory, so that it can start there again.',
    check: { type: 'integer', min: 0 },
  },
  'host.capacityType.to.order.clusters': {
    defaultValue: 'CPU',
    category: 'Advanced',
    description: 'Capacity the planner orders clusters by.',
    check: { type: 'string', values: ['CPU', 'RAM', 'COMBINED'] },
  },
  'cluster.cpu.allocated.capacity.disablethreshold': threshold("a cluster's allocated CPU", '0.85', 'disable'),
  'cluster.memory.allocated.capacity.disablethreshold': threshold("a cluster's allocated memory", '0.85', 'disable'),
  'cluster.cpu.allocated.capacity.notificationthreshold': threshold("a cluster's allocated CPU", '0.75', 'notify'),
  'cluster.memory.allocated.capacity.notificationthreshold': threshold("a cluster's allocated memory", '0.75', 'notify'),
  'cluster.storage.allocated.capacity.notificationthreshold': threshold("a cluster's allocated primary storage", '0.75', 'notify'),
  'cluster.storage.capacity.notificationthreshold': threshold("a cluster's used primary storage", '0.75', 'notify'),
  'pool.storage.allocated.capacity.disablethreshold': threshold("a primary storage pool's allocated bytes", '0.85', 'disable'),
  'pool.storage.capacity.disablethreshold': threshold("a primary storage pool's used bytes", '0.85', 'disable'),
  'zone.virtualnetwork.publicip.capacity.notificationthreshold': threshold("a zone's public addresses", '0.75', 'notify'),
  'zone.directnetwork.publicip.capacity.notificationthreshold': threshold("a zone's shared-network addresses", '0.75', 'notify'),
  'pod.privateip.capacity.notificationthreshold': threshold("a pod's management addresses", '0.75', 'notify'),
  'zone.vlan.capacity.notificationthreshold': threshold("a zone's VLAN ids and VNIs", '0.75', 'notify'),
  'zone.secstorage.capacity.notificationthreshold': threshold("a zone's secondary storage", '0.75', 'notify'),
  'ping.interval': { defaultValue: '60', category: 'Advanced', description: 'Seconds within which a host agent must renew its heartbeat to stay Up.', check: { type: 'integer', min: 1 } },
  'ping.timeout': {
    defaultValue: '2.5',
    category: 'Advanced',
    description: 'Multiplier of ping.interval: a host without heartbeat for ping.interval × ping.timeout seconds is Down (Disconnected before that).',
    check: { type: 'number', min: 1 },
  },
  'expunge.delay': { defaultValue: '86400', category: 'Advanced', description: 'Seconds a destroyed VM or deleted volume waits before it is expunged.', check: { type: 'integer', min: 0 } },
  'expunge.interval': { defaultValue: '86400', category: 'Advanced', description: 'Seconds between runs of the expunger.', check: { type: 'integer', min: 1 } },
  'allow.user.view.destroyed.vm': { defaultValue: 'false', category: 'Advanced', description: 'Whether users see their Destroyed VMs in listVirtualMachines.', check: { type: 'string', values: ['true', 'false'] } },
  'allow.user.expunge.recover.vm': { defaultValue: 'false', category: 'Advanced', description: 'Whether users may expunge and recover their destroyed VMs.', check: { type: 'string', values: ['true', 'false'] } },
  'allow.user.expunge.recover.volume': { defaultValue: 'true', category: 'Advanced', description: 'Whether users may expunge and recover their destroyed volumes.', check: { type: 'string', values: ['true', 'false'] } },
  'default.page.size': { defaultValue: '500', category: 'Advanced', description: 'Most items one page of a list API returns.', check: { type: 'integer', min: 1 } },
  'network.gc.wait': { defaultValue: '600', category: 'Advanced', description: 'Seconds an idle guest network (no running VM on it) stays implemented before it is shut down and its VLAN or VNI released; persistent networks are kept.', check: { type: 'integer', min: 0 } },
  'guest.domain.suffix': { defaultValue: 'cloud.internal', category: 'Network', description: 'DNS suffix of guest networks that set none themselves.', check: { type: 'string' } },
  'max.account.user.vms': accountLimit('VMs', '20'),
  'max.account.public.ips': accountLimit('public addresses', '20'),
  'max.account.templates': accountLimit('templates', '20'),
  'max.account.snapshots': accountLimit('snapshots', '20'),
  'max.account.volumes': accountLimit('volumes', '20'),
  'max.account.networks': accountLimit('guest networks', '20'),
  'max.account.vpcs': accountLimit('VPCs', '20'),
  'max.account.projects': accountLimit('projects', '10'),
  'max.account.cpus': accountLimit('CPU cores', '40'),
  'max.account.memory': accountLimit('MiB of memory', '40960'),
  'max.account.primary.storage': accountLimit('GiB of primary storage', '200'),
  'max.account.secondary.storage': accountLimit('GiB of secondary storage', '400'),
} as const satisfies Record<string, SettingDefinition>;

export type SettingName = keyof typeof SETTINGS;

export interface Settings {
  /** The effective value, as a string. */
  value(name: SettingName): string;
  /** The effective value of a numeric setting. */
  number(name: SettingName): number;
}

export interface SettingEntry {
  name: string;
  value: string;
  defaultValue: string;
  category: string;
}

export interface ResolvedSettings {
  settings: Settings;
  /** Every known setting, sorted by name, as status.settings lists them. */
  entries: SettingEntry[];
  /** Names in spec.settings Kumulus does not know (ignored), sorted. */
  unknown: string[];
  /** One message per invalid value, naming the setting, what is wrong, and the value used instead. */
  problems: string[];
}

/** Why `raw` is not a valid value of the setting, or undefined when it is. */
export function checkSetting(name: SettingName, raw: string): string | undefined {
  const check: SettingType = SETTINGS[name].check;
  const field = `spec.settings["${name}"]`;
  if (check.type === 'string') {
    if (check.values && !check.values.includes(raw)) return `${field} is "${raw}": use one of ${check.values.join(', ')}`;
    return undefined;
  }
  const trimmed = raw.trim();
  const n = trimmed === '' ? NaN : Number(trimmed);
  const what = check.type === 'integer' ? 'a whole number' : 'a number';
  if (!Number.isFinite(n) || (check.type === 'integer' && !Number.isInteger(n))) return `${field} is "${raw}": use ${what}, such as ${SETTINGS[name].defaultValue}`;
  if (check.min !== undefined && n < check.min) return `${field} is ${raw}: use ${what} of at least ${check.min}`;
  if (check.max !== undefined && n > check.max) return `${field} is ${raw}: use ${what} of at most ${check.max}`;
  return undefined;
}

function isKnown(name: string): name is SettingName {
  return Object.hasOwn(SETTINGS, name);
}

/** Resolves spec.settings of the global Configuration (absent: every default). */
export function resolveSettings(given: Record<string, string> | undefined): ResolvedSettings {
  const values = new Map<SettingName, string>();
  const problems: string[] = [];
  const unknown: string[] = [];
  for (const [name, raw] of Object.entries(given ?? {})) {
    if (!isKnown(name)) {
      unknown.push(name);
      continue;
    }
    const problem = checkSetting(name, raw);
    if (problem) problems.push(`${problem}; using the default ${SETTINGS[name].defaultValue}`);
    else values.set(name, raw.trim());
  }
  const value = (name: SettingName): string => values.get(name) ?? SETTINGS[name].defaultValue;
  const names = (Object.keys(SETTINGS) as SettingName[]).sort();
  return {
    settings: { value, number: (name) => Number(value(name)) },
    entries: names.map((name) => ({ name, value: value(name), defaultValue: SETTINGS[name].defaultValue, category: SETTINGS[name].category })),
    unknown: unknown.sort(),
    problems: problems.sort(),
  };
}

/** The defaults alone: what applies before the global Configuration exists. */
export const DEFAULT_SETTINGS: Settings = resolveSettings(undefined).settings;

/** The Configuration object whose spec.settings hold the global settings. */
export const GLOBAL_CONFIGURATION = 'global';

/**
 * A cluster's overcommit ratios: its own win; absent, the global factors apply, as CloudStack's
 * cluster-scoped settings fall back to the global ones.
 */
export function clusterOvercommit(cluster: { spec: { cpuOvercommitRatio?: number; memoryOvercommitRatio?: number } } | undefined, settings: Settings): { cpu: number; memory: number } {
  return {
    cpu: cluster?.spec.cpuOvercommitRatio ?? settings.number('cpu.overprovisioning.factor'),
    memory: cluster?.spec.memoryOvercommitRatio ?? settings.number('mem.overprovisioning.factor'),
  };
}

/** A primary storage pool's overprovisioning factor: its own, else the global setting. */
export function poolOverprovision(pool: { spec: { overprovisionFactor?: number } }, settings: Settings): number {
  return pool.spec.overprovisionFactor ?? settings.number('storage.overprovisioning.factor');
}
