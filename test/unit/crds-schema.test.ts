import { expect } from 'chai';
import { kinds } from '../../crds/index.ts';
import { crdFor } from '../../crds/render.ts';

interface Node {
  type?: string;
  description?: string;
  properties?: Record<string, Node>;
  items?: Node;
  additionalProperties?: Node | boolean;
  required?: string[];
  enum?: unknown[];
  format?: string;
  maxLength?: number;
  maxItems?: number;
  anyOf?: Node[];
  default?: unknown;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
  [key: string]: unknown;
}

interface Crd {
  spec: {
    names: { shortNames: string[]; categories: string[]; plural: string; kind: string };
    versions: {
      name: string;
      subresources: { status: object };
      additionalPrinterColumns: { name: string; jsonPath: string; priority: number }[];
      schema: { openAPIV3Schema: Node };
    }[];
  };
}

/** Visits every schema node below `node` with its field path. */
function walk(node: Node, path: string, visit: (node: Node, path: string) => void): void {
  visit(node, path);
  for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${name}`, visit);
  if (node.items) walk(node.items, `${path}[]`, visit);
  if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`, visit);
}

const crds = kinds.map((kind) => ({ kind, crd: crdFor(kind) as unknown as Crd }));
const schemaOf = (crd: Crd) => crd.spec.versions[0]?.schema.openAPIV3Schema as Node;

describe('crds: schemas', () => {
  it('defines the 24 phase-one kinds of DESIGN.md, plus instance groups and registered user data', () => {
    expect(kinds.map((k) => `${k.group.split('.')[0]}/${k.kind}`)).to.deep.equal([
      'infra/Zone',
      'infra/Pod',
      'infra/Cluster',
      'infra/Host',
      'infra/PrimaryStorage',
      'infra/SecondaryStorage',
      'infra/PhysicalNetwork',
      'infra/IPRange',
      'infra/ServiceOffering',
      'infra/DiskOffering',
      'infra/NetworkOffering',
      'compute/VirtualMachine',
      'compute/Volume',
      'compute/Template',
      'compute/SSHKeyPair',
      'compute/AffinityGroup',
      'compute/InstanceGroup',
      'compute/UserData',
      'network/Network',
      'network/IPAddress',
      'network/VlanAllocation',
      'iam/Domain',
      'iam/Account',
      'iam/User',
      'ops/AsyncJob',
      'ops/Configuration',
    ]);
    const namespaced = kinds.filter((k) => k.scope === 'Namespaced').map((k) => k.kind);
    expect(namespaced).to.deep.equal(['VirtualMachine', 'Volume', 'Template', 'SSHKeyPair', 'AffinityGroup', 'InstanceGroup', 'UserData', 'Network', 'AsyncJob']);
  });

  it('describes every field, so kubectl explain is the manual', () => {
    const missing: string[] = [];
    for (const { kind, crd } of crds) {
      const root = schemaOf(crd);
      if (!root.description) missing.push(kind.kind);
      walk(root, kind.kind, (node, path) => {
        for (const [name, child] of Object.entries(node.properties ?? {})) {
          if (path === kind.kind && name === 'metadata') continue;
          if (!child.description?.trim()) missing.push(`${path}.${name}`);
        }
      });
    }
    expect(missing).to.deep.equal([]);
  });

  it('is structural: every node typed, no const, $ref, patternProperties or free-form anyOf', () => {
    const problems: string[] = [];
    for (const { kind, crd } of crds) {
      walk(schemaOf(crd), kind.kind, (node, path) => {
        const intOrString = node['x-kubernetes-int-or-string'] === true;
        if (!node.type && !intOrString) problems.push(`${path}: no type`);
        for (const forbidden of ['const', '$ref', 'patternProperties', 'oneOf', 'not', '$schema', '$id']) {
          if (forbidden in node) problems.push(`${path}: ${forbidden}`);
        }
        if (node.anyOf && !intOrString) problems.push(`${path}: anyOf outside int-or-string`);
        if (node.additionalProperties !== undefined && node.properties) problems.push(`${path}: properties and additionalProperties`);
        if (Object.keys(node).some((k) => k.startsWith('~'))) problems.push(`${path}: TypeBox internals leaked`);
      });
    }
    expect(problems).to.deep.equal([]);
  });

  it('bounds every string and list so the apiserver can cost the CEL rules', () => {
    const unbounded: string[] = [];
    for (const { kind, crd } of crds) {
      walk(schemaOf(crd), kind.kind, (node, path) => {
        if (path === kind.kind) return;
        if (node.type === 'string' && node.maxLength === undefined && !node.enum && !/\.(apiVersion|kind)$/.test(path)) unbounded.push(path);
        if (node.type === 'array' && node.maxItems === undefined) unbounded.push(path);
      });
    }
    expect(unbounded).to.deep.equal([]);
  });

  it('makes every defaulted field optional, so kubectl explain does not call it required', () => {
    const wrong: string[] = [];
    for (const { kind, crd } of crds) {
      walk(schemaOf(crd), kind.kind, (node, path) => {
        for (const name of node.required ?? []) if (node.properties?.[name]?.default !== undefined) wrong.push(`${path}.${name}`);
      });
    }
    expect(wrong).to.deep.equal([]);
  });

  it('gives every CEL rule a message that names a field or the fix', () => {
    let count = 0;
    for (const { kind, crd } of crds) {
      walk(schemaOf(crd), kind.kind, (node, path) => {
        for (const v of node['x-kubernetes-validations'] ?? []) {
          count++;
          expect(v.message, `${path}: ${v.rule}`).to.match(/(spec|metadata\.|must|cannot)/);
          expect(v.message.length, `${path}: ${v.rule}`).to.be.greaterThan(20);
        }
      });
    }
    expect(count).to.be.greaterThan(60);
  });

  it('carries the status contract on every kind: observedGeneration, conditions with observedGeneration, state', () => {
    for (const { kind, crd } of crds) {
      const status = schemaOf(crd).properties?.status;
      expect(crd.spec.versions[0]?.subresources.status, kind.kind).to.deep.equal({});
      expect(status?.properties, kind.kind).to.include.keys('observedGeneration', 'conditions', 'state');
      const condition = status?.properties?.conditions?.items;
      expect(condition?.properties, kind.kind).to.have.keys('type', 'status', 'reason', 'message', 'lastTransitionTime', 'observedGeneration');
      expect(status?.properties?.conditions?.['x-kubernetes-list-map-keys'], kind.kind).to.deep.equal(['type']);
      expect(status?.properties?.state?.enum?.length, `${kind.kind} status.state enum`).to.be.greaterThan(1);
    }
  });

  it('uses cs-prefixed, unique short names and the kumulus category', () => {
    const all = crds.flatMap(({ crd }) => crd.spec.names.shortNames);
    expect(all.every((s) => s.startsWith('cs')), all.join(',')).to.equal(true);
    expect(new Set(all).size).to.equal(all.length);
    for (const { crd } of crds) expect(crd.spec.names.categories).to.deep.equal(['kumulus']);
  });

  it('shows at most 6 printer columns by default, State among them, more with -o wide', () => {
    for (const { kind, crd } of crds) {
      const columns = crd.spec.versions[0]?.additionalPrinterColumns ?? [];
      const defaults = columns.filter((c) => c.priority === 0);
      expect(defaults.length, kind.kind).to.be.within(2, 6);
      expect(defaults.some((c) => c.name === 'State' && c.jsonPath === '.status.state'), kind.kind).to.equal(true);
    }
  });

  it('enumerates CloudStack state names', () => {
    const stateOf = (name: string) => crds.find((c) => c.kind.kind === name)?.crd;
    const states = (name: string, field = 'state') => schemaOf(stateOf(name) as Crd).properties?.status?.properties?.[field]?.enum;
    expect(states('VirtualMachine')).to.include.members(['Starting', 'Running', 'Stopping', 'Stopped', 'Destroyed', 'Expunging', 'Migrating', 'Error']);
    expect(states('Host')).to.include.members(['Up', 'Down', 'Disconnected', 'Alert', 'Connecting']);
    expect(states('Host', 'resourceState')).to.include.members(['Enabled', 'Disabled', 'PrepareForMaintenance', 'Maintenance', 'ErrorInMaintenance']);
    expect(states('Volume')).to.include.members(['Allocated', 'Ready']);
    expect(states('Network')).to.include.members(['Allocated', 'Implemented', 'Shutdown']);
    expect(states('Account')).to.deep.equal(['enabled', 'disabled', 'locked']);
  });
});
