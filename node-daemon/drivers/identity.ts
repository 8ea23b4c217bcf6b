/**
 * Everything the agent creates on a host is named after object uids, so a restart finds the
 * same domain, disk and NIC by the same name and never creates a second one.
 */

const uidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function assertUid(field: string, value: string): void {
  if (!uidPattern.test(value)) {
    throw new Error(`${field}: "${value}" is not a Kubernetes uid (lower-case RFC 4122 UUID); pass metadata.uid`);
  }
}

/** The libvirt domain name of a VM; the domain UUID is the uid itself. */
export function domainName(vmUid: string): string {
  return `kumulus-${vmUid}`;
}

/** The inverse of domainName, or undefined for domains Kumulus does not own. */
export function vmUidOfDomain(name: string): string | undefined {
  const uid = name.startsWith('kumulus-') ? name.slice('kumulus-'.length) : '';
  return uidPattern.test(uid) ? uid : undefined;
}

/** The file name of a volume in its pool. */
export function volumeFileName(volumeUid: string): string {
  return `${volumeUid}.qcow2`;
}
