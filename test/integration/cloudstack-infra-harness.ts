import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import winston from 'winston';
import { createApiApp } from '../../cloudstack-api/app.ts';
import { computeCommands } from '../../cloudstack-api/commands/compute.ts';
import { createCommandTable } from '../../cloudstack-api/commands/define.ts';
import type { Caller } from '../../cloudstack-api/protocol/auth.ts';
import { infrastructureCommands } from '../../cloudstack-api/commands/infrastructure.ts';
import { tenancyCommands } from '../../cloudstack-api/commands/tenancy.ts';
import { defaultCapabilities, discoveryCommands } from '../../cloudstack-api/commands/discovery.ts';
import { webUiCommands } from '../../cloudstack-api/commands/web-ui.ts';
import { createTenancy } from '../../cloudstack-api/tenancy/index.ts';
import { agentFieldManager, HOST_LEASE_NAMESPACE, hostLeaseName } from '../../lib/agent-contract.ts';
import { registerAsyncJobController } from '../../controllers/async-job.ts';
import { registerInfrastructureControllers } from '../../controllers/infrastructure.ts';
import { registerTenancyControllers } from '../../controllers/tenancy.ts';
import { Account, Domain, Host, User, VirtualMachine, kindByName } from '../../crds/index.ts';
import { bootstrapAdmin, type AdminCredentials } from '../../lib/bootstrap-admin.ts';
import { credentialsSecret, newApiKey } from '../../lib/credentials.ts';
import { createInformerFactory, type InformerFactory } from '../../lib/informer.ts';
import { installCrds, readCrdManifests } from '../../lib/install-crds.ts';
import { createKubeClient, isNotFound, type KubeClient, type KubeObject, type ResourceClient, type ResourceType, resourceTypeOf } from '../../lib/kube-client.ts';
import { LEASES } from '../../lib/leader-election.ts';
import { log } from '../../lib/log.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { ownerReference } from '../../lib/ownership.ts';
import { runWebhooks, type RunningWebhooks } from '../../webhooks/main.ts';
import { createCloudStackClient, type CloudStackClient } from '../support/cloudstack-client.ts';
import { sharedKubeConfig, uniqueName } from '../support/cluster.ts';

/**
 * The whole stack the infrastructure commands run on, against the real control plane: CRDs,
 * the admission webhooks (called by the apiserver over TLS), the tenancy, infrastructure and
 * AsyncJob controllers, the bootstrap admin, and the API on loopback with the real
 * Kubernetes-backed authenticator, impersonation and access reviews. Shared by the
 * cloudstack-infra-* integration tests.
 */

export type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> & { state?: string } };

export interface Tenant {
  client: CloudStackClient;
  namespace: string;
  /** The names of its Account, User and Domain objects. */
  account: string;
  domain: string;
  keys: { apiKey: string; secretKey: string };
}

export interface InfraCloud {
  readonly endpoint: string;
  readonly admin: CloudStackClient;
  readonly credentials: AdminCredentials;
  readonly kube: KubeClient;
  readonly manager: Manager;
  resource(kind: string): ResourceClient<Obj>;
  /**
   * An account (User unless `accountType` says otherwise) with one user and its API keys, in a
   * fresh domain under `parent` (the root domain unless given): its client and its namespace.
   */
  tenant(prefix: string, options?: { parent?: string; accountType?: 'User' | 'DomainAdmin' }): Promise<Tenant>;
  /** Another API replica with caches of its own (as after a restart), and the admin's client for it. */
  replica(): Promise<{ admin: CloudStackClient; stop(): Promise<void> }>;
  /** Plays the agent of a node: heartbeat Lease and facts, as node-daemon does. */
  playAgent(host: string, node: string, bridges: string[]): Promise<{ stop(): void }>;
  stop(): Promise<void>;
}

export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/**
 * Plays the operator and the agent for a VM the harness does not run them for: the VM reaches
 * `state`, Ready and Synced at its current generation (lib/agent-contract.ts), with `status`'s
 * placement, NICs and anything else given.
 */
export async function settleVm(kube: KubeClient, vm: Obj & { metadata: { generation?: number } }, state: string, status: Record<string, unknown> = {}): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const generation = vm.metadata.generation ?? 1;
  await kube.resource<Obj>(resourceTypeOf(VirtualMachine)).patchStatus(
    { namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' },
    {
      status: {
        state,
        observedGeneration: generation,
        powerState: state === 'Running' ? 'PowerOn' : 'PowerOff',
        instanceName: `i-${(vm.metadata.uid ?? '').slice(0, 8)}`,
        conditions: [
          { type: 'Ready', status: 'True', reason: state, message: '', lastTransitionTime: now, observedGeneration: generation },
          { type: 'Synced', status: 'True', reason: 'Reconciled', message: '', lastTransitionTime: now, observedGeneration: generation },
        ],
        ...status,
      },
    },
  );
}

function microTime(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export async function startInfraCloud(name: string): Promise<InfraCloud> {
  const kc = await sharedKubeConfig();
  const kube = createKubeClient(kc);
  await installCrds(kc, await readCrdManifests(resolve(import.meta.dirname, '../../crds')), log);
  const s = uniqueName(name).slice(name.length + 1);
  const webhooks: RunningWebhooks = await runWebhooks({
    kubeConfig: kc,
    env: {},
    args: ['--webhook-bind-address', '127.0.0.1:0', '--webhook-name', `${name}-${s}`, '--webhook-namespace', `${name}-tls-${s}`, '--log-level', 'warn'],
  });
  const quiet = log.child({ test: name });
  const manager = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: quiet });
  registerTenancyControllers(manager);
  registerInfrastructureControllers(manager);
  registerAsyncJobController(manager);
  await manager.start();

  const credentials = await bootstrapAdmin(kube, quiet);
  const resource = (kind: string) => {
    const info = kindByName(kind);
    if (!info) throw new Error(`unknown kind ${kind}`);
    return kube.resource<Obj>(resourceTypeOf(info));
  };
  await waitUntil('the admin Account to be Ready', async () => {
    const account = await resource('Account').get({ name: 'admin' });
    const ready = (account.status?.['conditions'] as { type: string; status: string }[] | undefined)?.some((c) => c.type === 'Ready' && c.status === 'True');
    return ready ? true : undefined;
  });

  /** One API replica: its own informers, tenancy and command table, on its own port. */
  const startApi = async (): Promise<{ endpoint: string; stop(): Promise<void> }> => {
    const informers: InformerFactory = createInformerFactory(kube, quiet);
    const tenancy = createTenancy({ client: kube, informers, accessTtlMs: 1000 });
    const deps = { clientFor: (caller: Caller) => tenancy.clientFor(caller), mayList: (caller: Caller, type: ResourceType, ns?: string) => tenancy.mayList(caller, type, ns), informers };
    const compute = computeCommands(deps);
    const tenancyTable = tenancyCommands(tenancy);
    const discovery = discoveryCommands({ capabilities: () => defaultCapabilities, hypervisors: () => ['KVM'], zoneHypervisors: () => Promise.resolve(['KVM']) });
    const commands = createCommandTable([...discovery, ...webUiCommands(), ...tenancyTable.commands, ...compute.commands, ...infrastructureCommands({ ...deps, jobResults: new Map([...tenancyTable.jobResults, ...compute.jobResults]) })]);
    informers.start();
    await waitUntil('the API caches to sync', () => Promise.resolve(informers.hasSynced() ? true : undefined));
    await tenancy.directory.synced();
    const app = createApiApp({ auth: tenancy.auth, sessions: tenancy.sessions, commands, log: winston.createLogger({ silent: true }) });
    const server = await new Promise<Server>((ready) => {
      const listening = app.listen(0, '127.0.0.1', () => ready(listening));
    });
    return {
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/api`,
      async stop() {
        await new Promise((done) => server.close(done));
        informers.stop();
      },
    };
  };
  const api = await startApi();
  const endpoint = api.endpoint;
  const admin = createCloudStackClient({ endpoint, apiKey: credentials.apiKey, secretKey: credentials.secretKey });
  await waitUntil('the admin key to be known to the API', async () => ((await admin.request('listZones')).status === 200 ? true : undefined));

  const made: { kind: string; name: string }[] = [];
  return {
    endpoint,
    admin,
    credentials,
    kube,
    manager,
    resource,
    async replica() {
      const other = await startApi();
      return { admin: createCloudStackClient({ endpoint: other.endpoint, apiKey: credentials.apiKey, secretKey: credentials.secretKey }), stop: () => other.stop() };
    },
    async tenant(prefix, options = {}) {
      const id = uniqueName(prefix);
      const namespace = `cs-${id}`;
      const domains = kube.resource<Obj>(resourceTypeOf(Domain));
      const accounts = kube.resource<Obj>(resourceTypeOf(Account));
      const users = kube.resource<Obj>(resourceTypeOf(User));
      await domains.create({ metadata: { name: id }, spec: { displayName: id, parentRef: { name: options.parent ?? 'root' } } });
      const account = await accounts.create({ metadata: { name: id }, spec: { domainRef: { name: id }, accountType: options.accountType ?? 'User', namespace } });
      const user = await users.create({
        metadata: { name: id, ownerReferences: [ownerReference(account)] },
        spec: { accountRef: { name: id }, username: id, firstName: 'Test', lastName: 'Tenant', email: `${id}@example.com` },
      });
      made.push({ kind: 'Account', name: id }, { kind: 'Domain', name: id });
      const keys = { apiKey: newApiKey(), secretKey: newApiKey() };
      const secret = credentialsSecret({ userName: id, userUid: user.metadata.uid ?? '', accountName: id, owner: ownerReference(user) }, { keys });
      await kube.resource({ group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true }).create(secret);
      await users.patch({ name: id }, { spec: { secretRef: { name: secret.metadata.name ?? '', namespace: secret.metadata.namespace ?? '' } } }, 'merge');
      const client = createCloudStackClient({ endpoint, ...keys });
      await waitUntil(`tenant ${id} to be able to call the API`, async () => ((await client.request('listZones')).status === 200 ? true : undefined));
      await waitUntil(`namespace ${namespace}`, async () =>
        kube
          .resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false })
          .get({ name: namespace })
          .then(
            () => true,
            () => undefined,
          ),
      );
      return { client, namespace, account: id, domain: id, keys };
    },
    async playAgent(host, node, bridges) {
      const leases = kube.resource<KubeObject & { spec?: Record<string, unknown> }>(LEASES);
      const key = { namespace: HOST_LEASE_NAMESPACE, name: hostLeaseName(host) };
      await kube
        .resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false })
        .create({ metadata: { name: HOST_LEASE_NAMESPACE } })
        .catch(() => undefined);
      const renew = async () => {
        try {
          await leases.patch(key, { spec: { renewTime: microTime() } });
        } catch (err) {
          if (!isNotFound(err)) throw err;
          await leases.create({ metadata: key, spec: { holderIdentity: node, leaseDurationSeconds: 40, renewTime: microTime() } });
        }
      };
      await renew();
      const timer = setInterval(() => void renew().catch(() => undefined), 500);
      await kube.resource<Obj>(resourceTypeOf(Host)).applyStatus(
        {
          apiVersion: Host.apiVersion,
          kind: 'Host',
          metadata: { name: host },
          status: {
            ipAddress: '10.255.0.10',
            hypervisorVersion: 'libvirt 10.0.0, QEMU 8.2.0',
            agentVersion: '0.1.0',
            cpuModel: 'test CPU',
            arch: 'x86_64',
            capacity: { cpuSockets: 1, cpuNumber: 8, cpuSpeed: 2000, memoryBytes: 16 * 2 ** 30 },
            bridges,
          },
        },
        { fieldManager: agentFieldManager(host), force: true },
      );
      return { stop: () => clearInterval(timer) };
    },
    async stop() {
      for (const { kind, name: objectName } of made.reverse()) await resource(kind).delete({ name: objectName }).catch(() => undefined);
      await api.stop();
      await manager.stop();
      await webhooks.stop({ unregister: true });
      await kube
        .resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false })
        .delete({ name: `${name}-tls-${s}` })
        .catch(() => undefined);
    },
  };
}
