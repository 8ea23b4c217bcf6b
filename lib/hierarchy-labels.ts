/**
 * The labels that put every child in its place in the hierarchy (DESIGN.md, "Ownership,
 * hierarchy and deletion"): the operator sets all of an object's ancestors, the agent selects
 * its own objects by host, and the API lists by parent, so lists by label stay cheap.
 */
export const LABEL_ZONE = 'kumulus.io/zone';
export const LABEL_POD = 'kumulus.io/pod';
export const LABEL_CLUSTER = 'kumulus.io/cluster';
/** On a Host's children, and on VMs placed on a host (with status.placement.host) and their Volumes. */
export const LABEL_HOST = 'kumulus.io/host';
