import * as k8s from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { isLogLevel, type LogLevel } from './log.ts';

/**
 * Configuration: one typed object built from flags (`--name=value` or `--name value`) and
 * the environment (`KUMULUS_NAME`), flags winning, then validated as a whole. A bad value
 * fails at start with a message that names the flag and the variable and says what to use.
 * Each entry point (operator, agent, API) extends `runtimeOptions` with its own.
 */
export interface Option<T> {
  flag: string;
  env: string;
  help: string;
  default: T;
  /** What a good value looks like, for the error message. */
  expected: string;
  parse(raw: string): T | undefined;
}

export type OptionSpec = Record<string, Option<unknown>>;
export type ConfigOf<S extends OptionSpec> = { [K in keyof S]: S[K] extends Option<infer T> ? T : never };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function envName(flag: string): string {
  return `KUMULUS_${flag.toUpperCase().replace(/-/g, '_')}`;
}

function option<T>(flag: string, help: string, defaultValue: T, expected: string, parse: (raw: string) => T | undefined, env = envName(flag)): Option<T> {
  return { flag, env, help, default: defaultValue, expected, parse };
}

export function stringOption(flag: string, help: string, defaultValue: string, env?: string): Option<string> {
  return option(flag, help, defaultValue, 'a non-empty string', (raw) => (raw.trim() ? raw.trim() : undefined), env);
}

export function optionalStringOption(flag: string, help: string, env?: string): Option<string | undefined> {
  return option<string | undefined>(flag, help, undefined, 'a string', (raw) => raw, env);
}

export function booleanOption(flag: string, help: string, defaultValue: boolean, env?: string): Option<boolean> {
  const values: Record<string, boolean> = { true: true, '1': true, yes: true, false: false, '0': false, no: false };
  return option(flag, help, defaultValue, 'true or false', (raw) => values[raw.toLowerCase()], env);
}

export function integerOption(flag: string, help: string, defaultValue: number, min: number, max: number, env?: string): Option<number> {
  return option(flag, help, defaultValue, `an integer from ${min} to ${max}`, (raw) => {
    const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  }, env);
}

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses Go-style durations (`500ms`, `15s`, `2m`, `1m30s`) into milliseconds. */
export function parseDuration(raw: string): number | undefined {
  const parts = [...raw.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== raw) return undefined;
  return parts.reduce((ms, p) => ms + Number(p[1]) * units[p[2]!]!, 0);
}

/** A duration, held in milliseconds. */
export function durationOption(flag: string, help: string, defaultMs: number, env?: string): Option<number> {
  return option(flag, help, defaultMs, 'a duration like 500ms, 15s or 2m', (raw) => {
    const ms = parseDuration(raw);
    return ms !== undefined && ms > 0 ? ms : undefined;
  }, env);
}

/** `host:port`; port 0 picks a free one. */
export function addressOption(flag: string, help: string, defaultValue: string, env?: string): Option<string> {
  return option(flag, help, defaultValue, 'host:port, e.g. 0.0.0.0:8080 or 127.0.0.1:0', (raw) => {
    const match = /^(.*):(\d{1,5})$/.exec(raw);
    return match && Number(match[2]) <= 65535 ? raw : undefined;
  }, env);
}

export function logLevelOption(): Option<LogLevel> {
  return option<LogLevel>('log-level', 'log level: error, warn, info or debug', 'info', 'one of error, warn, info, debug', (raw) => (isLogLevel(raw) ? raw : undefined));
}

/** The kubeconfig the `kubeconfig` option names, else client-node's default (KUBECONFIG, ~/.kube/config or in-cluster). */
export function loadKubeConfig(path: string | undefined): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

/** What every long-running component (operator, agent, API) shares. */
export const runtimeOptions = {
  kubeconfig: optionalStringOption('kubeconfig', 'path to a kubeconfig; in-cluster configuration when unset', 'KUBECONFIG'),
  logLevel: logLevelOption(),
  httpBindAddress: addressOption('http-bind-address', 'where /healthz, /readyz and /metrics are served', '0.0.0.0:8080'),
  leaderElect: booleanOption('leader-elect', 'elect a leader before running controllers', true),
  leaderElectionNamespace: stringOption('leader-election-namespace', 'namespace of the leader-election Lease', 'kumulus-system'),
  leaderElectionId: stringOption('leader-election-id', 'name of the leader-election Lease', 'kumulus-operator'),
  leaderElectionIdentity: stringOption('leader-election-identity', 'this replica\'s identity in the Lease', `${hostname()}_${randomUUID()}`),
  leaseDuration: durationOption('leader-election-lease-duration', 'how long a lease holds without renewal', 15_000),
  renewDeadline: durationOption('leader-election-renew-deadline', 'how long the leader keeps trying to renew before giving up', 10_000),
  retryPeriod: durationOption('leader-election-retry-period', 'how often candidates and the leader try the lease', 2_000),
  gracefulShutdownTimeout: durationOption('graceful-shutdown-timeout', 'how long in-flight reconciles may run after SIGTERM', 30_000),
  maxConcurrentReconciles: integerOption('max-concurrent-reconciles', 'workers per controller', 1, 1, 1000),
} satisfies OptionSpec;

export type RuntimeConfig = ConfigOf<typeof runtimeOptions>;

/** What createManager takes from the runtime options a component shares (leader election aside, which only the operator runs). */
export function managerRuntime(
  config: Pick<RuntimeConfig, 'kubeconfig' | 'httpBindAddress' | 'gracefulShutdownTimeout' | 'maxConcurrentReconciles'>,
  kubeConfig: k8s.KubeConfig | undefined,
): { kubeConfig: k8s.KubeConfig; httpBindAddress: string; gracefulShutdownTimeoutMs: number; maxConcurrentReconciles: number } {
  return {
    kubeConfig: kubeConfig ?? loadKubeConfig(config.kubeconfig),
    httpBindAddress: config.httpBindAddress,
    gracefulShutdownTimeoutMs: config.gracefulShutdownTimeout,
    maxConcurrentReconciles: config.maxConcurrentReconciles,
  };
}

function describe(opt: Option<unknown>): string {
  return `--${opt.flag} (${opt.env})`;
}

/**
 * Builds the configuration. `validate` checks relations between values and returns
 * problems as messages; every problem is reported at once.
 */
export function parseConfig<S extends OptionSpec>(
  spec: S,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  validate?: (config: ConfigOf<S>) => string[],
): ConfigOf<S> {
  const byFlag = new Map(Object.entries(spec).map(([key, opt]) => [opt.flag, key]));
  const raw = new Map<string, { value: string; from: string }>();
  const problems: string[] = [];
  for (const [key, opt] of Object.entries(spec)) {
    const value = env[opt.env];
    if (value !== undefined && value !== '') raw.set(key, { value, from: `environment variable ${opt.env}` });
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const match = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    const key = match ? byFlag.get(match[1]!) : undefined;
    if (!match || key === undefined) {
      problems.push(`unknown argument "${arg}"; known flags: ${[...byFlag.keys()].map((f) => `--${f}`).join(', ')}`);
      continue;
    }
    let value = match[2];
    const isBoolean = typeof spec[key]!.default === 'boolean';
    if (value === undefined) value = isBoolean && (args[i + 1] === undefined || args[i + 1]!.startsWith('--')) ? 'true' : args[++i];
    if (value === undefined) {
      problems.push(`--${match[1]} needs a value (${spec[key]!.expected})`);
      continue;
    }
    raw.set(key, { value, from: `flag --${match[1]}` });
  }
  const config: Record<string, unknown> = {};
  for (const [key, opt] of Object.entries(spec)) {
    const given = raw.get(key);
    if (!given) {
      config[key] = opt.default;
      continue;
    }
    const parsed = opt.parse(given.value);
    if (parsed === undefined) problems.push(`invalid ${describe(opt)} "${given.value}" (from ${given.from}): expected ${opt.expected}`);
    else config[key] = parsed;
  }
  const typed = config as ConfigOf<S>;
  if (problems.length === 0 && validate) problems.push(...validate(typed));
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return typed;
}

/** client-go's rules: lease duration > renew deadline > 1.2 × retry period. */
export function validateRuntimeConfig(config: RuntimeConfig): string[] {
  const problems: string[] = [];
  const { leaseDuration, renewDeadline, retryPeriod } = runtimeOptions;
  if (!(config.leaseDuration > config.renewDeadline)) {
    problems.push(`${describe(leaseDuration)} (${config.leaseDuration} ms) must be longer than ${describe(renewDeadline)} (${config.renewDeadline} ms); the defaults are 15s and 10s`);
  }
  if (!(config.renewDeadline > 1.2 * config.retryPeriod)) {
    problems.push(`${describe(renewDeadline)} (${config.renewDeadline} ms) must be longer than 1.2 × ${describe(retryPeriod)} (${config.retryPeriod} ms); the defaults are 10s and 2s`);
  }
  return problems;
}

export function usage(spec: OptionSpec): string {
  return Object.values(spec)
    .map((opt) => `  --${opt.flag.padEnd(34)} ${opt.help} (env ${opt.env}; default ${JSON.stringify(opt.default) ?? 'unset'})`)
    .join('\n');
}
