/**
 * The local cloud's public template: `kumulus local` registers the guest template it built
 * (build.ts) as Template kumulus-public/kumulus-guest, served from its cached file and usable
 * in every zone, so examples/vm boots with no internet.
 */
import { Template } from '../../crds/index.ts';
import { PUBLIC_NAMESPACE } from '../../lib/identity.ts';
import { isAlreadyExists, resourceTypeOf, type KubeClient, type KubeObject } from '../../lib/kube-client.ts';
import type { GuestTemplate } from './build.ts';

export const GUEST_TEMPLATE_NAME = 'kumulus-guest';

/** The Template object for a built guest template. */
export function guestTemplateObject(template: Pick<GuestTemplate, 'path' | 'sha256' | 'packages'>): KubeObject & { spec: Record<string, unknown> } {
  const kernel = template.packages.find((p) => p.startsWith('linux-image-'))?.split('=')[0] ?? 'a Debian kernel';
  return {
    apiVersion: Template.apiVersion,
    kind: 'Template',
    metadata: { name: GUEST_TEMPLATE_NAME, namespace: PUBLIC_NAMESPACE },
    spec: {
      displayName: 'Kumulus guest',
      displayText: `Built from Debian packages: ${kernel}, busybox, syslinux; DHCP on every NIC, SSH key and hostname from the config drive`,
      url: `file://${template.path}`,
      format: 'QCOW2',
      checksum: `{SHA-256}${template.sha256}`,
      osType: 'Other Linux (64-bit)',
      hypervisor: 'KVM',
      crossZones: true,
      isPublic: true,
      isFeatured: true,
      sshKeyEnabled: true,
    },
  };
}

/** Creates the namespace if need be and applies the Template (server-side, so a restart is a no-op). */
export async function registerGuestTemplate(client: KubeClient, template: GuestTemplate): Promise<void> {
  await client
    .resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false })
    .create({ metadata: { name: PUBLIC_NAMESPACE } })
    .catch((err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
    });
  await client.resource(resourceTypeOf(Template)).apply(guestTemplateObject(template), { fieldManager: 'kumulus-local', force: true });
}
