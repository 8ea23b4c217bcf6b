import { expect } from 'chai';
import { builderGoMod, stagingModules } from '../../lib/controlplane/go-build.ts';
import { stagingVersion } from '../../lib/controlplane/versions.ts';

const kubernetesGoMod = `module k8s.io/kubernetes

go 1.24.0

require (
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/kube-openapi => k8s.io/kube-openapi v0.0.0-20250710124328-f3f2b991d03b
)

replace k8s.io/cri-api => ./staging/src/k8s.io/cri-api
`;

describe('control-plane builder module', () => {
  it('derives the staging modules from the ./staging replace lines only', () => {
    expect(stagingModules(kubernetesGoMod)).to.deep.equal(['k8s.io/api', 'k8s.io/client-go', 'k8s.io/cri-api']);
  });

  it('maps each staging module to its published v0 release of the same minor and patch', () => {
    expect(stagingVersion('v1.34.4')).to.equal('v0.34.4');
    const mod = builderGoMod('v1.34.4', ['k8s.io/api', 'k8s.io/client-go']);
    expect(mod).to.include('require k8s.io/kubernetes v1.34.4');
    expect(mod).to.include('replace k8s.io/api => k8s.io/api v0.34.4');
    expect(mod).to.include('replace k8s.io/client-go => k8s.io/client-go v0.34.4');
    expect(mod).not.to.include('kube-openapi');
  });
});
