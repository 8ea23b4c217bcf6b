import { existsSync } from 'node:fs';

/**
 * The libvirt domain type of the e2e tests whose VMs boot the guest template. It boots under
 * KVM where KVM runs a stock kernel. Where /dev/kvm is PVM (kvm_pvm: KVM without hardware
 * virtualization, as on the machines this project is built on), a stock guest kernel's
 * privileged code goes through KVM's instruction emulator, about 200 times slower than QEMU's
 * TCG, and the kernel dies with "KVM internal error ... emulation failure" at its int3
 * self-test (measured: xz decompression still running after 300 s; the uncompressed kernel
 * stopped on lock cmpxchg16b, then xrstor, then int3), which pauses the domain. There the
 * guest boots with domain type qemu on the same libvirtd. KUMULUS_E2E_GUEST_DOMAIN_TYPE
 * overrides either way.
 */
export const pvmHost = existsSync('/sys/module/kvm_pvm');
const requested = process.env['KUMULUS_E2E_GUEST_DOMAIN_TYPE'];
export const guestDomainType: 'kvm' | 'qemu' = requested === 'kvm' || requested === 'qemu' ? requested : pvmHost ? 'qemu' : 'kvm';

/** The line a test prints to say which it chose, and why. */
export function guestDomainTypeNote(): string {
  return `the guest boots with domain type ${guestDomainType}${guestDomainType === 'qemu' && pvmHost ? ': KVM here is PVM (kvm_pvm), which cannot run a stock guest kernel' : ''}`;
}
