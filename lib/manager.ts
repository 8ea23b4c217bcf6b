import type { KubeConfig } from '@kubernetes/client-node';
import { createController, type Controller, type ControllerOptions } from './controller.ts';
import { createEventRecorder, type EventRecorder } from './events.ts';
import { startHealthServer, type HealthServer } from './http-server.ts';
import { createInformerFactory, type Informer, type InformerOptions } from './informer.ts';
import { createKubeClient, type KubeClient, type KubeObject, type ResourceType } from './kube-client.ts';
import { createLeaderElector, type LeaderElectionConfig, type LeaderElector } from './leader-election.ts';
import { log as rootLogger, type Logger } from './log.ts';
import { createRuntimeMetrics, type RuntimeMetrics } from './metrics.ts';
import { errorMessage } from './error-message.ts';

/**
 * The manager owns what a component runs: the kube client, the shared informers, the
 * controllers, leader election, the event recorder and the HTTP server. Informers run on
 * every replica (a standby's caches are warm); controllers run only on the leader, and
 * stop at once when leadership is lost.
 */
export interface ManagerOptions {
  kubeConfig: KubeConfig;
  /** reportingController of events, e.g. `kumulus.io/operator`. */
  eventSource: string;
  /** host:port of the health and metrics server (127.0.0.1:0 picks a free port). */
  httpBindAddress: string;
  /** Omit to run controllers without electing a leader (e.g. the per-host agent). */
  leaderElection?: LeaderElectionConfig;
  gracefulShutdownTimeoutMs?: number;
  /** Default for controllers that do not set their own. */
  maxConcurrentReconciles?: number;
  logger?: Logger;
  /** Observes leadership as it changes (true when controllers start, false the moment they stop). */
  onLeadershipChange?: (leading: boolean) => void;
}

export type ManagerExit = 'stopped' | 'leadership-lost';

export interface Manager {
  readonly client: KubeClient;
  readonly metrics: RuntimeMetrics;
  readonly events: EventRecorder;
  readonly logger: Logger;
  /** The shared informer for a resource (and selectors); create them before start for readiness to cover them. */
  informer<T extends KubeObject = KubeObject>(type: ResourceType, options?: InformerOptions): Informer<T>;
  addController<T extends KubeObject>(options: ControllerOptions<T>): Controller;
  /**
   * A named readiness check (controller-runtime's AddReadyzCheck): /readyz answers 503 while
   * it returns a reason, and reports the reason under `checks`.
   */
  addReadyzCheck(name: string, check: () => string | undefined): void;
  /** Starts the HTTP server, the informers and the election; resolves once serving. */
  start(): Promise<void>;
  /** Graceful: stop taking work, let in-flight reconciles finish (bounded), release the lease. */
  stop(): Promise<void>;
  isLeader(): boolean;
  /** Resolves when the manager has stopped: by stop(), or because leadership was lost. */
  readonly done: Promise<ManagerExit>;
  /** The HTTP server's base URL and /metrics URL (after start). */
  readonly url: string;
  readonly metricsUrl: string;
}

export function createManager(options: ManagerOptions): Manager {
  const logger = options.logger ?? rootLogger;
  const server = options.kubeConfig.getCurrentCluster()?.server ?? '';
  const metrics = createRuntimeMetrics({ apiHost: server ? new URL(server).host : '' });
  const client = createKubeClient(options.kubeConfig, { observe: metrics.observeRequest });
  const informers = createInformerFactory(client, logger);
  const events = createEventRecorder({ client, controller: options.eventSource, logger });
  const controllers: Controller[] = [];
  const readyzChecks = new Map<string, () => string | undefined>();
  const shutdownTimeoutMs = options.gracefulShutdownTimeoutMs ?? 30_000;
  const campaign = new AbortController();
  let elector: LeaderElector | undefined;
  let electing: Promise<void> | undefined;
  let http: HealthServer | undefined;
  let leading = false;
  let stopping: Promise<void> | undefined;
  let finish: (exit: ManagerExit) => void = () => undefined;
  const done = new Promise<ManagerExit>((resolve) => (finish = resolve));

  function startController(controller: Controller): void {
    controller.start(campaign.signal).catch((err: unknown) => {
      if (!stopping && leading) logger.error('controller failed to start', { controller: controller.name, error: errorMessage(err) });
    });
  }

  function startedLeading(): void {
    leading = true;
    options.onLeadershipChange?.(true);
    for (const controller of controllers) startController(controller);
  }

  function stoppedLeading(): void {
    leading = false;
    for (const controller of controllers) controller.stop();
    options.onLeadershipChange?.(false);
    if (!stopping) {
      logger.error('leader election lost; controllers stopped');
      void stop('leadership-lost');
    }
  }

  function readiness() {
    const all = informers.all();
    const informersSynced = all.every((i) => i.hasSynced());
    const reasons = [...readyzChecks].map(([name, check]) => [name, check()] as const);
    return {
      ready: informersSynced && reasons.every(([, reason]) => reason === undefined) && !stopping,
      informersSynced,
      checks: Object.fromEntries(reasons.map(([name, reason]) => [name, reason ?? 'ok'])),
      informers: all.map((i) => ({ resource: `${i.type.plural}${i.type.group ? `.${i.type.group}` : ''}`, namespace: i.options.namespace, synced: i.hasSynced() })),
      leader: options.leaderElection
        ? { enabled: true, leading, identity: options.leaderElection.identity, holder: elector?.holder() ?? null }
        : { enabled: false, leading },
    };
  }

  async function stop(exit: ManagerExit): Promise<void> {
    stopping ??= (async () => {
      await Promise.all(controllers.map((c) => c.shutdown(shutdownTimeoutMs)));
      campaign.abort();
      await electing;
      if (leading) stoppedLeading();
      informers.stop();
      await Promise.race([events.flush(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
      await http?.close();
      logger.info('manager stopped', { exit });
      finish(exit);
    })();
    return stopping;
  }

  return {
    client,
    metrics,
    events,
    logger,
    informer: (type, informerOptions) => informers.informer(type, informerOptions),
    addController(controllerOptions) {
      const controller = createController(
        { ...controllerOptions, maxConcurrentReconciles: controllerOptions.maxConcurrentReconciles ?? options.maxConcurrentReconciles },
        { metrics, logger },
      );
      controllers.push(controller);
      if (leading) startController(controller);
      return controller;
    },
    addReadyzCheck(name, check) {
      readyzChecks.set(name, check);
    },
    async start() {
      http = await startHealthServer(options.httpBindAddress, metrics.registry, readiness);
      informers.start();
      if (!options.leaderElection) {
        startedLeading();
        return;
      }
      elector = createLeaderElector({
        client,
        ...options.leaderElection,
        logger,
        metrics,
        onStartedLeading: startedLeading,
        onStoppedLeading: stoppedLeading,
      });
      electing = elector.run(campaign.signal).catch((err: unknown) => {
        logger.error('leader election failed', { error: String(err) });
      });
    },
    stop: () => stop('stopped'),
    isLeader: () => leading,
    done,
    get url() {
      if (!http) throw new Error('the manager has not started');
      return http.url;
    },
    get metricsUrl() {
      if (!http) throw new Error('the manager has not started');
      return http.metricsUrl;
    },
  };
}

/**
 * Stops the manager on SIGTERM or SIGINT (a second signal exits at once), as Kubernetes
 * expects of a pod during its termination grace period. Returns the uninstaller.
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger = rootLogger): () => void {
  let received = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) {
      logger.warn('second signal; exiting now', { signal });
      process.exit(1);
    }
    received = true;
    logger.info('shutting down', { signal });
    void stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}
