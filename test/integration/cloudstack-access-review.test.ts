import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAccessReviewer } from '../../cloudstack-api/tenancy/access.ts';
import { createKubeClient, type KubeClient, type KubeObject } from '../../lib/kube-client.ts';
import { uniqueName, useTestNamespace } from '../support/cluster.ts';

/**
 * The API's cached RBAC answers (tenancy/access.ts) against the apiserver's own authorizer:
 * a grant past half its life is asked again in the background (the caller is answered from
 * the cache meanwhile), and the refreshed answer replaces it, so a revoked binding is seen
 * before the grant's TTL ends. The clock the reviewer reads is the test's; the reviews are real.
 */

const ROLES = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', kind: 'Role', namespaced: true };
const ROLE_BINDINGS = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true };
const CONFIG_MAPS = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };

describe('cloudstack-api access reviews (real apiserver)', function () {
  this.timeout(60_000);
  const ns = useTestNamespace('access');

  it('refreshes a grant in the background past half its life, and the refresh replaces it: a revoked binding is seen before the TTL ends', async () => {
    let reviews = 0;
    const admin: KubeClient = createKubeClient(ns.kc, { observe: (method) => void (method === 'POST' && reviews++) });
    const user = { user: uniqueName('kumulus:user:reviewed'), groups: ['system:authenticated'] };
    const check = { verb: 'list' as const, resource: CONFIG_MAPS, namespace: ns.name };
    await admin.resource<KubeObject>(ROLES).create({ metadata: { name: 'read', namespace: ns.name }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }] } as KubeObject);
    const bindings = admin.resource<KubeObject>(ROLE_BINDINGS);
    await bindings.create({ metadata: { name: 'read', namespace: ns.name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read' }, subjects: [{ kind: 'User', name: user.user }] } as KubeObject);

    // The apiserver's authorizer learns of bindings from its own informer: wait until it grants.
    const probe = createAccessReviewer(admin);
    for (let i = 0; !(await probe.allowed(user, check, { fresh: true })); i++) {
      if (i > 100) throw new Error('the apiserver never granted the new binding');
      await sleep(100);
    }

    let clock = 0;
    const reviewer = createAccessReviewer(admin, { ttlMs: 10_000, now: () => clock });
    reviews = 0;
    expect(await reviewer.allowed(user, check)).to.equal(true);
    expect(reviews).to.equal(1);
    clock = 4_000;
    expect(await reviewer.allowed(user, check)).to.equal(true);
    expect(reviews, 'before half its life, a grant is served from the cache alone').to.equal(1);

    await bindings.delete({ name: 'read', namespace: ns.name });
    for (let i = 0; await probe.allowed(user, check, { fresh: true }); i++) {
      if (i > 100) throw new Error('the apiserver never revoked the deleted binding');
      await sleep(100);
    }

    // Past half its life: the cached grant is answered, and one review goes out behind it.
    clock = 6_000;
    reviews = 0;
    expect(await reviewer.allowed(user, check)).to.equal(true);
    expect(await reviewer.allowed(user, check)).to.equal(true);
    for (let i = 0; reviews < 1; i++) {
      if (i > 100) throw new Error('no review was asked in the background');
      await sleep(50);
    }
    // The refusal it brings back replaces the grant at once, 4 s before the grant's TTL would have ended.
    clock = 6_100;
    for (let i = 0; await reviewer.allowed(user, check); i++) {
      if (i > 100) throw new Error('the background review never replaced the grant');
      await sleep(50);
    }
    expect(reviews, 'one background review for the two requests past half-life').to.equal(1);
  });

  it('a background review answered after clear() brings no old answer back: the next request is reviewed anew', async () => {
    let reviews = 0;
    const admin = createKubeClient(ns.kc, { observe: (method) => void (method === 'POST' && reviews++) });
    const user = { user: uniqueName('kumulus:user:cleared'), groups: ['system:authenticated'] };
    const check = { verb: 'list' as const, resource: CONFIG_MAPS, namespace: ns.name };
    await admin.resource<KubeObject>(ROLES).create({ metadata: { name: 'read', namespace: ns.name }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }] } as KubeObject);
    await admin.resource<KubeObject>(ROLE_BINDINGS).create({ metadata: { name: 'read', namespace: ns.name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read' }, subjects: [{ kind: 'User', name: user.user }] } as KubeObject);
    let clock = 0;
    const reviewer = createAccessReviewer(admin, { ttlMs: 10_000, now: () => clock });
    for (let i = 0; !(await reviewer.allowed(user, check, { fresh: true })); i++) {
      if (i > 100) throw new Error('the apiserver never granted the new binding');
      await sleep(100);
    }
    clock = 6_000;
    reviews = 0;
    expect(await reviewer.allowed(user, check)).to.equal(true);
    reviewer.clear();
    // observe counts a review when its reply arrives; the reviewer reads the reply right after.
    for (let i = 0; reviews < 1; i++) {
      if (i > 100) throw new Error('no review was asked in the background');
      await sleep(50);
    }
    await sleep(200);
    clock = 6_100;
    reviews = 0;
    expect(await reviewer.allowed(user, check)).to.equal(true);
    expect(reviews, 'the request after clear() is reviewed, not answered by the refresh asked before it').to.equal(1);
  });
});
