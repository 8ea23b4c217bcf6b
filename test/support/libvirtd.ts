import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log } from '../../lib/log.ts';
import { libvirtAnswers, startLocalLibvirtd } from '../../node-daemon/local-libvirtd.ts';

export interface TestLibvirt {
  uri: string;
  /** Why this libvirt is not real KVM, when it is not. */
  limitation?: string;
  release(): Promise<void>;
}

let shared: Promise<{ uri: string; limitation?: string; stop: () => Promise<void> }> | undefined;
let users = 0;

/**
 * The libvirt the e2e tests use: the host's own (qemu:///system) when a libvirtd answers,
 * otherwise a private libvirtd started for this test run and stopped when the last user
 * releases it. Without /dev/kvm, libvirt's test:///default driver stands in, and says so.
 */
export async function useLibvirt(): Promise<TestLibvirt> {
  users++;
  shared ??= (async () => {
    if (!existsSync('/dev/kvm')) {
      return { uri: 'test:///default', limitation: '/dev/kvm is absent: using libvirt test:///default, no real guests', stop: async () => {} };
    }
    if (await libvirtAnswers('qemu:///system')) return { uri: 'qemu:///system', stop: async () => {} };
    const dir = await mkdtemp(join(tmpdir(), 'kumulus-libvirtd-'));
    const daemon = await startLocalLibvirtd(dir, log.child({ test: 'libvirtd' }));
    return {
      uri: daemon.uri,
      stop: async () => {
        await daemon.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  })();
  const current = await shared;
  return {
    uri: current.uri,
    ...(current.limitation !== undefined ? { limitation: current.limitation } : {}),
    release: async () => {
      users--;
      if (users > 0 || !shared) return;
      shared = undefined;
      await current.stop();
    },
  };
}
