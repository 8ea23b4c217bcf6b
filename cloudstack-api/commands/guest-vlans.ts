import { createHash } from 'node:crypto';
import { VlanAllocation, type PhysicalNetworkObject, type VlanAllocationObject } from '../../crds/index.ts';
import { vlanAllocationName } from '../../lib/guest-identity.ts';
import { findOptional, keywordMatches } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { ownerFields } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, defineCommand } from './define.ts';
import { apiDate, zoneFields, zoneNamed } from './infra-views.ts';
import { displayName } from './names.ts';

/**
 * listGuestVlans (4.17): every VLAN id or VNI of each physical network's guest ranges, Free or
 * Allocated, as CloudStack's op_dc_vnet_alloc rows. An id is taken by a VlanAllocation object
 * (named for the network, isolation and id, so its creation is the lock): its creation time
 * is `taken`, the guest network it names is `network` and that network's account the owner.
 */

type Isolation = 'VLAN' | 'VXLAN';
interface GuestVlanRow {
  readonly pn: PhysicalNetworkObject;
  readonly isolation: Isolation;
  readonly vnet: number;
}

/** The guest ranges of a physical network, per isolation method it offers. */
function rangesOf(pn: PhysicalNetworkObject): { isolation: Isolation; ranges: { start: number; end: number }[] }[] {
  const out: { isolation: Isolation; ranges: { start: number; end: number }[] }[] = [];
  if (pn.spec.isolationMethods.includes('VLAN')) out.push({ isolation: 'VLAN', ranges: pn.spec.vlanRanges ?? [] });
  if (pn.spec.isolationMethods.includes('VXLAN')) out.push({ isolation: 'VXLAN', ranges: pn.spec.vniRanges ?? [] });
  return out;
}

/**
 * CloudStack's row id is a database long; here a stable number from the physical network's uid
 * and the id (48 bits of a hash, exact in a JSON number), the same on every replica.
 */
export function guestVlanId(pn: PhysicalNetworkObject, isolation: Isolation, vnet: number): number {
  return createHash('sha1').update(`${pn.metadata.uid ?? ''}/${isolation}/${vnet}`).digest().readUIntBE(0, 6);
}

export function guestVlanCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const allocationOf = (row: GuestVlanRow): VlanAllocationObject | undefined => cache.vlanAllocations.byName(vlanAllocationName(row.pn.metadata.name ?? '', row.isolation, row.vnet));

  function fields(row: GuestVlanRow): Fields {
    const allocation = allocationOf(row);
    const ref = allocation?.spec.networkRef;
    const network = ref ? cache.networks.byName(ref.name, ref.namespace) : undefined;
    const owner = ref ? ownerFields(infra, ref.namespace) : {};
    return {
      id: guestVlanId(row.pn, row.isolation, row.vnet),
      vlan: String(row.vnet),
      ...owner,
      ...zoneFields(zoneNamed(infra, row.pn.spec.zoneRef.name)),
      physicalnetworkid: row.pn.metadata.uid,
      physicalnetworkname: displayName(row.pn),
      isdedicated: false,
      allocationstate: allocation ? 'Allocated' : 'Free',
      taken: allocation ? apiDate(allocation.metadata.creationTimestamp) : undefined,
      network: network && network.metadata.uid === ref?.uid ? [{ id: network.metadata.uid, name: network.spec.displayName ?? network.metadata.name }] : [],
    };
  }

  const listGuestVlans = defineCommand({
    name: 'listGuestVlans',
    kind: 'list',
    description: 'Lists all guest vlans',
    params: {
      id: { type: 'long', description: 'list guest vlan by id' },
      zoneid: { type: 'uuid', description: 'list guest vlan by zone', entity: 'zone' },
      physicalnetworkid: { type: 'uuid', description: 'list guest vlan by physical network', entity: 'physicalnetwork' },
      vnet: { type: 'string', description: 'list guest vlan by vnet' },
      allocatedonly: { type: 'boolean', description: 'limits search results to allocated guest vlan. false by default.' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      const label = 'listguestvlans';
      await infra.mayRead(ctx, VlanAllocation);
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const only = findOptional(cache.physicalNetworks, p.physicalnetworkid, label, 'physicalnetworkid');
      const pns = (only ? [only] : cache.physicalNetworks.sorted()).filter((pn) => zone === undefined || pn.spec.zoneRef.name === zone.metadata.name);
      const wanted = (row: GuestVlanRow) =>
        (p.vnet === undefined || String(row.vnet) === p.vnet) && keywordMatches(p.keyword, String(row.vnet)) && (p.id === undefined || guestVlanId(row.pn, row.isolation, row.vnet) === p.id);
      const rows: GuestVlanRow[] = [];
      for (const pn of pns) {
        for (const { isolation, ranges } of rangesOf(pn)) {
          const inRange = (vnet: number) => ranges.some((r) => r.start <= vnet && vnet <= r.end);
          if (p.allocatedonly === true) {
            // The allocations, not the ranges: a VNI range may hold millions of ids.
            const taken = cache.vlanAllocations.list().filter((a) => a.spec.physicalNetworkRef.name === pn.metadata.name && a.spec.isolation === isolation && inRange(a.spec.id));
            rows.push(...taken.map((a) => ({ pn, isolation, vnet: a.spec.id })).sort((a, b) => a.vnet - b.vnet).filter(wanted));
            continue;
          }
          for (const range of ranges) {
            for (let vnet = range.start; vnet <= range.end; vnet++) {
              const row = { pn, isolation, vnet };
              if (wanted(row)) rows.push(row);
            }
          }
        }
      }
      return rows;
    },
    mapItem: fields,
  });

  return [listGuestVlans];
}
