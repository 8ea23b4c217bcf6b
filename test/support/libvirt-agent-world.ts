import { log } from '../../lib/log.ts';
import { libvirtDriver, type LibvirtDriver } from '../../node-daemon/drivers/hypervisor/libvirt.ts';
import { ensureGuestTemplate, type GuestTemplate } from '../../node-daemon/guest-template/build.ts';
import type { RunningAgent } from '../../node-daemon/main.ts';
import { createAgentWorld, type AgentWorld } from './agent-world.ts';
import { guestDomainType } from './guest-domain-type.ts';
import { useLibvirt, type TestLibvirt } from './libvirtd.ts';

/**
 * What the agent e2e tests on real libvirt stand on, as mocha hooks of the calling describe: a
 * libvirtd (the describe is skipped, saying why, where none can run), an agent world
 * (agent-world.ts), the guest template and a libvirt driver to read the domains back. The
 * after hook undefines the domain of `vmUid` and stops `agent` (what the tests set) before
 * the world and its `vnis` links go.
 */
export interface LibvirtAgentWorld {
  world: AgentWorld;
  libvirt: TestLibvirt;
  guest: GuestTemplate;
  hypervisor: LibvirtDriver;
  /** The agent the tests run, if any: stopped by the after hook. */
  agent: RunningAgent | undefined;
  /** The uid of the tests' VM, if its domain may be left: undefined by the after hook. */
  vmUid: string;
}

export function useLibvirtAgentWorld(prefix: string, options: { test: string; vnis?: readonly number[] }): LibvirtAgentWorld {
  const fx = { agent: undefined, vmUid: '' } as LibvirtAgentWorld;
  before(async function () {
    this.timeout(600_000);
    fx.libvirt = await useLibvirt();
    if (fx.libvirt.limitation !== undefined) {
      console.log(`      SKIP: ${fx.libvirt.limitation}`);
      this.skip();
    }
    fx.world = await createAgentWorld(prefix);
    fx.guest = await ensureGuestTemplate({ logger: log.child({ test: options.test }) });
    fx.hypervisor = libvirtDriver({ uri: fx.libvirt.uri, domainType: guestDomainType, logger: log.child({ test: options.test }) });
  });

  after(async function () {
    this.timeout(120_000);
    if (fx.vmUid) await fx.hypervisor?.undefine(fx.vmUid).catch(() => undefined);
    await fx.agent?.stop();
    await fx.world?.cleanup([...(options.vnis ?? [])]);
    await fx.libvirt?.release();
  });

  return fx;
}
