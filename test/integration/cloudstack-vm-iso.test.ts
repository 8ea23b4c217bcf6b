import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EVENTS } from '../../lib/events.ts';
import type { RunningAgent } from '../../node-daemon/main.ts';
import { condition, createAgentWorld, waitFor, type AgentWorld, type Obj } from '../support/agent-world.ts';
import type { CloudStackClient } from '../support/cloudstack-client.ts';
import { until } from '../support/until.ts';
import { type InfraCloud, startInfraCloud } from './cloudstack-infra-harness.ts';

const exec = promisify(execFile);

/**
 * attachIso and detachIso complete on the agent's word, as CloudStack's do once the media is
 * really changed: the real API and AsyncJob controller, and the real agent on the simulator
 * hypervisor (its domains are files, its change-media refuses a file that is not there), over
 * the real control plane. The test plays the operator: placement (agent-world), and state and
 * Ready at the generation the agent has acted on (controllers/vm-state.ts). A job stays pending
 * while no agent acts, succeeds with isoid once status.attachedIso shows the ISO (the running
 * domain's drive, or a stopped one's definition), and fails with 530 and the agent's cause when
 * change-media fails.
 */
describe('cloudstack-api: attachIso and detachIso jobs follow the agent (simulated hypervisor, real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  let tenant: { client: CloudStackClient; namespace: string };
  let world: AgentWorld;
  let agent: RunningAgent | undefined;
  let isoId = '';
  let isoCopy = '';

  const vms = () => world.res('vms');
  const startAgent = async () => {
    agent = await world.runSimulatedAgent();
  };
  /** Plays the operator once the agent has acted on the VM's current generation: state, and Ready at that generation. */
  const operatorSettles = async (name: string, state: 'Running' | 'Stopped'): Promise<Obj> => {
    const vm = await waitFor(vms(), name, `acted on by the agent (${state})`, (o) => {
      const running = condition(o, 'Running');
      return (running?.observedGeneration ?? 0) >= (o.metadata.generation ?? 1) && (running?.status === 'True') === (state === 'Running');
    }, 60_000, world.ns);
    const generation = vm.metadata.generation ?? 1;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await vms().applyStatus(
      {
        apiVersion: vm.apiVersion ?? '',
        kind: 'VirtualMachine',
        metadata: { name, namespace: world.ns },
        status: { state, observedGeneration: generation, conditions: [{ type: 'Ready', status: 'True', reason: state, message: '', lastTransitionTime: now, observedGeneration: generation }] },
      },
      { fieldManager: 'test-operator', force: true },
    );
    return vm;
  };
  const inApi = (vm: Obj, state: string) =>
    until(`VM ${vm.metadata.name ?? ''} ${state} in the API`, 30_000, async () => {
      const row = ((await tenant.client.request('listVirtualMachines', { id: vm.metadata.uid ?? '' })).body['virtualmachine'] as Record<string, unknown>[] | undefined)?.[0];
      return row?.['state'] === state ? row : undefined;
    });
  const submitted = async (command: string, params: Record<string, string>): Promise<string> => {
    const reply = await tenant.client.request(command, params);
    expect(reply.status, reply.text).to.equal(200);
    return reply.body['jobid'] as string;
  };
  const jobStatus = async (jobid: string) => (await tenant.client.request('queryAsyncJobResult', { jobid })).body['jobstatus'];
  const finished = (jobid: string) => tenant.client.waitForJob(jobid, { intervalMs: 250, timeoutMs: 60_000 });

  before(async function () {
    this.timeout(240_000);
    cloud = await startInfraCloud('csvmiso');
    tenant = await cloud.tenant('vmiso');
    world = await createAgentWorld('vmiso', { namespace: tenant.namespace, hostAhead: true });
    // A small template and an ISO: the simulator boots nothing.
    const template = join(world.workDir, 'template.qcow2');
    await exec('qemu-img', ['create', '-q', '-f', 'qcow2', template, '64M']);
    const sha = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');
    await world.res('templates').create({
      metadata: { name: 'tiny', namespace: world.ns },
      spec: { url: `file://${template}`, format: 'QCOW2', checksum: `{SHA-256}${await sha(template)}`, zoneRefs: [{ name: world.names.zone }] },
    });
    const content = join(world.workDir, 'iso-content');
    await mkdir(content, { recursive: true });
    await writeFile(join(content, 'README.TXT'), 'installer\n');
    const iso = join(world.workDir, 'installer.iso');
    await exec('genisoimage', ['-quiet', '-V', 'INSTALLER', '-o', iso, content]);
    const made = await world.res('templates').create({
      metadata: { name: 'installer', namespace: world.ns },
      spec: { displayText: 'installer disc', url: `file://${iso}`, format: 'ISO', checksum: `{SHA-256}${await sha(iso)}`, zoneRefs: [{ name: world.names.zone }] },
    });
    isoId = made.metadata.uid ?? '';
    isoCopy = join(world.workDir, 'secondary', 'template', 'tmpl', isoId, `${isoId}.iso`);
    await startAgent();
    await until('the ISO ready in the API', 60_000, async () => ((await tenant.client.request('listIsos', { isofilter: 'self', id: isoId, isready: 'true' })).body['count'] === 1 ? true : undefined));
  });

  after(async function () {
    await agent?.stop();
    await world?.cleanup([]);
    await cloud?.stop();
  });

  it('keeps an attach pending while no agent acts, then succeeds with isoid once status.attachedIso shows the ISO in the running domain; a detach once the drive is empty', async function () {
    const vm = await world.placeVm('cd');
    await operatorSettles('cd', 'Running');
    await inApi(vm, 'Running');

    await agent?.stop();
    agent = undefined;
    const jobid = await submitted('attachIso', { id: isoId, virtualmachineid: vm.metadata.uid ?? '' });
    // Nothing has changed the media: the job says so for as long as that lasts.
    for (let i = 0; i < 6; i++) {
      expect(await jobStatus(jobid), 'pending while no agent has changed the media').to.equal(0);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect((await vms().get({ name: 'cd', namespace: world.ns })).status?.attachedIso).to.equal(undefined);

    await startAgent();
    const job = await finished(jobid);
    expect(job['jobstatus'], JSON.stringify(job)).to.equal(1);
    const now = await vms().get({ name: 'cd', namespace: world.ns });
    expect(now.status?.attachedIso, 'the job ended on the agent\'s report').to.deep.equal({ name: 'installer', namespace: world.ns });
    expect(condition(now, 'MediaSynced')).to.include({ status: 'True', reason: 'Inserted', observedGeneration: now.metadata.generation });
    expect((job['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine).to.include({ id: vm.metadata.uid, isoid: isoId, isoname: 'installer', isodisplaytext: 'installer disc' });

    const detached = await finished(await submitted('detachIso', { virtualmachineid: vm.metadata.uid ?? '' }));
    expect(detached['jobstatus'], JSON.stringify(detached)).to.equal(1);
    expect((await vms().get({ name: 'cd', namespace: world.ns })).status).to.not.have.property('attachedIso');
    expect((detached['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine).to.not.have.any.keys('isoid', 'isoname', 'isodisplaytext');
  });

  it('completes an attach to a Stopped VM once the agent has put the ISO in the domain\'s definition', async function () {
    const vm = await world.placeVm('off');
    await operatorSettles('off', 'Running');
    await vms().patch({ name: 'off', namespace: world.ns }, { spec: { state: 'Stopped' } });
    await operatorSettles('off', 'Stopped');
    await inApi(vm, 'Stopped');

    const job = await finished(await submitted('attachIso', { id: isoId, virtualmachineid: vm.metadata.uid ?? '' }));
    expect(job['jobstatus'], JSON.stringify(job)).to.equal(1);
    expect((job['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine).to.include({ state: 'Stopped', isoid: isoId });
    const now = await vms().get({ name: 'off', namespace: world.ns });
    expect(now.status?.attachedIso).to.deep.equal({ name: 'installer', namespace: world.ns });
    expect(condition(now, 'MediaSynced')).to.include({ status: 'True', reason: 'Inserted' });
    const domain = JSON.parse(await readFile(join(world.agentStateDir, 'simulator', `${vm.metadata.uid}.json`), 'utf8')) as { state: string; definedIso?: string };
    expect(domain).to.include({ state: 'shutoff', definedIso: isoCopy });
  });

  it('fails the attach with 530 and the agent\'s cause when the media cannot be changed, though the domain runs on', async function () {
    const vm = await world.placeVm('broken');
    await operatorSettles('broken', 'Running');
    await inApi(vm, 'Running');
    // The zone's copy goes missing under the agent: change-media refuses a file that is not there.
    await rename(isoCopy, `${isoCopy}.away`);
    try {
      const jobid = await submitted('attachIso', { id: isoId, virtualmachineid: vm.metadata.uid ?? '' });
      // The operator sees the domain run on at the new generation: Ready alone would have said success.
      await operatorSettles('broken', 'Running');
      const job = await finished(jobid);
      expect(job['jobstatus'], JSON.stringify(job)).to.equal(2);
      const result = job['jobresult'] as { errorcode: number; errortext: string };
      expect(result.errorcode).to.equal(530);
      expect(result.errortext).to.equal(`VirtualMachine broken: host ${world.node} could not insert ISO ${world.ns}/installer into the running domain's CD-ROM drive: simulator: domain kumulus-${vm.metadata.uid ?? ''}: cannot insert ${isoCopy}: no such file`);
      const now = await vms().get({ name: 'broken', namespace: world.ns });
      expect(now.status).to.not.have.property('attachedIso');
      expect(condition(now, 'Running')?.status, 'the domain runs on').to.equal('True');
      // The agent keeps trying, and says so in a Warning event on the VM.
      await until('an ISO.ATTACH Warning event', 30_000, async () => {
        const events = await world.client.resource<Obj & { reason?: string; type?: string; note?: string; regarding?: { uid?: string } }>(EVENTS).list({ namespace: world.ns });
        return events.items.some((e) => e.regarding?.uid === vm.metadata.uid && e.reason === 'ISO.ATTACH' && e.type === 'Warning' && e.note?.includes('no such file') === true) ? true : undefined;
      });
    } finally {
      await rename(`${isoCopy}.away`, isoCopy);
    }
    // Once the copy is back, the retried change-media puts it in: MediaSynced turns True.
    await waitFor(vms(), 'broken', 'with the ISO in the drive at last', (o) => condition(o, 'MediaSynced')?.status === 'True', 60_000, world.ns);
  });
});
