import type * as k8s from '@kubernetes/client-node';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AdminCredentials, bootstrapAdmin } from '../lib/bootstrap-admin.ts';
import { addressOption, type ConfigOf, loadKubeConfig, logLevelOption, optionalStringOption, parseConfig } from '../lib/config.ts';
import { Cluster, Zone, type ClusterObject, type ZoneObject } from '../crds/index.ts';
import { LABEL_ZONE } from '../lib/hierarchy-labels.ts';
import { createInformerFactory } from '../lib/informer.ts';
import { createKubeClient, type ResourceType, resourceTypeOf, retryWhileAdmissionUnavailable } from '../lib/kube-client.ts';
import { log, setLogLevel } from '../lib/log.ts';
import { createApiApp } from './app.ts';
import { computeCommands } from './commands/compute.ts';
import { createCommandTable, type CommandContext } from './commands/define.ts';
import { defaultCapabilities, discoveryCommands } from './commands/discovery.ts';
import { infrastructureCommands } from './commands/infrastructure.ts';
import { tenancyCommands } from './commands/tenancy.ts';
import { webUiCommands } from './commands/web-ui.ts';
import type { Caller } from './protocol/auth.ts';
import { createTenancy, type Tenancy } from './tenancy/index.ts';
import { errorMessage } from '../lib/error-message.ts';

/**
 * `kumulus api`: the CloudStack API over the cluster. Starts the shared informers, makes sure
 * the bootstrap admin exists, and serves /client/api with Kubernetes-backed authentication
 * and sessions, so any number of replicas answer alike.
 */

export const apiOptions = {
  kubeconfig: optionalStringOption('kubeconfig', 'path to a kubeconfig; in-cluster configuration when unset', 'KUBECONFIG'),
  logLevel: logLevelOption(),
  apiBindAddress: addressOption('api-bind-address', 'where the CloudStack API listens (host:port; port 0 picks a free one)', '0.0.0.0:8080'),
};

export type ApiConfig = ConfigOf<typeof apiOptions>;

export interface ApiOptions {
  /** Command-line flags; the environment (KUMULUS_API_BIND_ADDRESS...) fills the rest. */
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Use this instead of --kubeconfig / KUBECONFIG / in-cluster configuration. */
  kubeConfig?: k8s.KubeConfig;
  /** How often idle sessions are swept (default 60 s). */
  sessionSweepMs?: number;
}

export interface RunningApi {
  readonly config: ApiConfig;
  /** e.g. `http://127.0.0.1:8080/client/api`: what `kumulus local` writes as CLOUDSTACK_ENDPOINT. */
  readonly url: string;
  /** The bootstrap admin's credentials (CLOUDSTACK_KEY and CLOUDSTACK_SECRET are apiKey and secretKey). */
  readonly adminCredentials: AdminCredentials;
  readonly tenancy: Tenancy;
  stop(): Promise<void>;
}

export async function runApi(options: ApiOptions = {}): Promise<RunningApi> {
  const config = parseConfig(apiOptions, options.args ?? [], options.env ?? process.env);
  setLogLevel(config.logLevel);
  const logger = log.child({ component: 'cloudstack-api' });
  const kc = options.kubeConfig ?? loadKubeConfig(config.kubeconfig);
  const client = createKubeClient(kc, { userAgent: 'kumulus-api' });
  const informers = createInformerFactory(client, logger);
  // bootstrapAdmin converges from any step, so it can simply run again once the webhooks serve.
  const adminCredentials = await retryWhileAdmissionUnavailable('creating the bootstrap admin', () => bootstrapAdmin(client, logger), logger);
  const tenancy = createTenancy({ client, informers });
  const tenancyTable = tenancyCommands(tenancy);
  const zones = informers.informer<ZoneObject>(resourceTypeOf(Zone));
  const clusters = informers.informer<ClusterObject>(resourceTypeOf(Cluster));
  /** The hypervisors of a zone's clusters; undefined when the caller may not see that zone. */
  const zoneHypervisors = async (zoneId: string, ctx: CommandContext) => {
    if (!(await tenancy.mayList(ctx.caller, resourceTypeOf(Zone)))) return undefined;
    const zone = zones.list().find((z) => z.metadata.uid === zoneId);
    if (!zone) return undefined;
    const inZone = clusters.list().filter((c) => c.metadata.labels?.[LABEL_ZONE] === zone.metadata.name);
    return [...new Set(inZone.flatMap((c) => c.spec.hypervisor ?? []))].sort();
  };
  const deps = { clientFor: (caller: Caller) => tenancy.clientFor(caller), mayList: (caller: Caller, type: ResourceType, ns?: string) => tenancy.mayList(caller, type, ns), informers };
  const compute = computeCommands(deps);
  const commands = createCommandTable([
    ...discoveryCommands({ capabilities: () => defaultCapabilities, hypervisors: () => ['KVM'], zoneHypervisors }),
    ...webUiCommands(),
    ...tenancyTable.commands,
    ...compute.commands,
    ...infrastructureCommands({ ...deps, jobResults: new Map([...tenancyTable.jobResults, ...compute.jobResults]) }),
  ]);
  informers.start();
  await tenancy.directory.synced();

  const app = createApiApp({ auth: tenancy.auth, sessions: tenancy.sessions, commands, log: logger });
  const [host = '0.0.0.0', port = '8080'] = splitAddress(config.apiBindAddress);
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(Number(port), host, (err?: Error) => (err ? reject(err) : resolve(listening)));
  });
  const address = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${address.port}/client/api`;
  const sweep = setInterval(() => {
    tenancy.sessions.sweep(Date.now()).catch((err: unknown) => logger.warn('session sweep failed', { error: errorMessage(err) }));
  }, options.sessionSweepMs ?? 60_000);
  sweep.unref();
  logger.info('cloudstack api serving', { url, commands: commands.size });

  let stopping: Promise<void> | undefined;
  return {
    config,
    url,
    adminCredentials,
    tenancy,
    stop() {
      stopping ??= (async () => {
        clearInterval(sweep);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        informers.stop();
      })();
      return stopping;
    },
  };
}

function splitAddress(address: string): [string, string] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), address.slice(colon + 1)];
}
