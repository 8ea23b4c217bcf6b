export { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './controlplane.ts';
export { resolveBinaries, cacheRoot, type ControlPlaneBinaries } from './binaries.ts';
export { KUBERNETES_VERSION, ETCD_VERSION } from './versions.ts';
