import type * as k8s from '@kubernetes/client-node';
import { durationOption, managerRuntime, parseConfig, runtimeOptions, validateRuntimeConfig, type ConfigOf } from '../lib/config.ts';
import { isAlreadyExists, isNotFound, retryWhileAdmissionUnavailable, type KubeClient } from '../lib/kube-client.ts';
import { log, setLogLevel } from '../lib/log.ts';
import { createManager, stopOnSignals, type Manager, type ManagerExit } from '../lib/manager.ts';
import { registerAsyncJobController } from './async-job.ts';
import { registerComputeControllers } from './compute.ts';
import { DEFAULT_ORPHAN_GRACE_MS } from './infra-context.ts';
import { prepareInfrastructure, registerInfrastructureControllers } from './infrastructure.ts';
import { nicAllocator } from './nics.ts';
import { registerTenancyControllers } from './tenancy.ts';
import { errorMessage } from '../lib/error-message.ts';

/**
 * The registration point: each reconciler module exports `register<Kind>Controller(manager)`
 * and is added here (issues #8 onwards). Nothing else in the operator changes when one is added.
 */
export function registerControllers(manager: Manager, config: Pick<OperatorConfig, 'orphanGracePeriod'> = { orphanGracePeriod: DEFAULT_ORPHAN_GRACE_MS }): void {
  const infra = registerInfrastructureControllers(manager, { orphanGraceMs: config.orphanGracePeriod });
  registerComputeControllers(manager, infra, nicAllocator);
  registerTenancyControllers(manager);
  registerAsyncJobController(manager);
}

/** The runtime's options and the operator's own. */
export const operatorOptions = {
  ...runtimeOptions,
  orphanGracePeriod: durationOption('orphan-grace-period', 'how long an IPAddress or VlanAllocation may lack its consumer (VM, network) before it is freed', DEFAULT_ORPHAN_GRACE_MS),
};

export type OperatorConfig = ConfigOf<typeof operatorOptions>;

export interface OperatorOptions {
  /** Command-line flags (`operatorOptions`); the environment fills the rest. */
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Use this instead of --kubeconfig / KUBECONFIG / in-cluster configuration. */
  kubeConfig?: k8s.KubeConfig;
  /** Stop gracefully on SIGTERM and SIGINT (default true). */
  handleSignals?: boolean;
}

export interface RunningOperator {
  readonly config: OperatorConfig;
  readonly manager: Manager;
  /** e.g. http://127.0.0.1:8080/metrics: what `kumulus local` writes as KUMULUS_METRICS_URL. */
  readonly metricsUrl: string;
  /** Graceful stop: stop taking work, finish in-flight reconciles (bounded), release the lease. */
  stop(): Promise<void>;
  /** Resolves when the operator stops: 'stopped', or 'leadership-lost' (exit non-zero then, as controller-runtime does). */
  readonly done: Promise<ManagerExit>;
}

async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  const namespaces = client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false });
  await namespaces.create({ metadata: { name } }).catch((err: unknown) => {
    if (!isAlreadyExists(err)) log.warn('could not create the leader-election namespace', { namespace: name, error: errorMessage(err) });
  });
}

/** `kumulus operator`: the leader-elected controllers, with /healthz, /readyz and /metrics. */
export async function runOperator(options: OperatorOptions = {}): Promise<RunningOperator> {
  const config = parseConfig(operatorOptions, options.args ?? [], options.env ?? process.env, validateRuntimeConfig);
  setLogLevel(config.logLevel);
  const manager = createManager({
    ...managerRuntime(config, options.kubeConfig),
    eventSource: 'kumulus.io/operator',
    leaderElection: config.leaderElect
      ? {
          namespace: config.leaderElectionNamespace,
          name: config.leaderElectionId,
          identity: config.leaderElectionIdentity,
          leaseDurationMs: config.leaseDuration,
          renewDeadlineMs: config.renewDeadline,
          retryPeriodMs: config.retryPeriod,
        }
      : undefined,
    logger: log.child({ component: 'operator' }),
  });
  registerControllers(manager, config);
  if (config.leaderElect) await ensureNamespace(manager.client, config.leaderElectionNamespace);
  // Every replica may do this: each step is a create that tolerates AlreadyExists.
  await retryWhileAdmissionUnavailable('creating the global Configuration', () => prepareInfrastructure(manager.client), log.child({ component: 'operator' })).catch((err: unknown) => {
    if (isNotFound(err)) throw new Error('the Kumulus CRDs are not installed in this cluster: run `kubectl apply --server-side -f crds/` first', { cause: err });
    throw err;
  });
  await manager.start();
  const uninstall = options.handleSignals === false ? () => undefined : stopOnSignals(() => manager.stop());
  void manager.done.then(uninstall);
  log.info('operator started', { metrics: manager.metricsUrl, leaderElection: config.leaderElect });
  return { config, manager, metricsUrl: manager.metricsUrl, stop: () => manager.stop(), done: manager.done };
}
