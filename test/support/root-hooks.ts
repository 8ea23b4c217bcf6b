import { stopSharedControlPlane } from './cluster.ts';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    await stopSharedControlPlane();
  },
};
