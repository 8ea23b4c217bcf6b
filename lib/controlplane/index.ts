export { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './controlplane.ts';
export { resolveBinaries, resolveNodeBinaries, resolveHelm, cacheRoot, type ControlPlaneBinaries, type NodeBinaries } from './binaries.ts';
export { KUBERNETES_VERSION, ETCD_VERSION, HELM_VERSION } from './versions.ts';
