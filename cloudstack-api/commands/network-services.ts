import { ISOLATION_METHODS } from '../../crds/common.ts';
import { keywordMatches } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { invalidParameterValue } from '../protocol/errors.ts';
import { type Command, defineCommand } from './define.ts';
import { PROVIDERS, SERVICES } from './physical-networks.ts';

/**
 * What a guest network can be given, for the clients that build offerings and physical
 * networks: the services and the providers of each (the table physical-networks.ts enables
 * providers from), and the isolation methods a physical network takes.
 */

/** Every service some provider offers, in the order CloudStack lists them (Network.Service). */
const ALL_SERVICES = [...new Set(PROVIDERS.flatMap((provider) => SERVICES[provider]))];

export function networkServiceCommands(): Command[] {
  const listSupportedNetworkServices = defineCommand({
    name: 'listSupportedNetworkServices',
    kind: 'list',
    description: 'Lists all network services provided by CloudStack or for the given Provider.',
    params: {
      service: { type: 'string', description: 'network service name to list providers and capabilities of' },
      provider: { type: 'string', description: 'network service provider name' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    handle(p) {
      if (p.provider !== undefined && !(PROVIDERS as readonly string[]).includes(p.provider)) throw invalidParameterValue(`Invalid Network Service Provider=${p.provider}`);
      if (p.service !== undefined && !ALL_SERVICES.includes(p.service)) throw invalidParameterValue(`Invalid Network Service=${p.service}`);
      const offered = p.provider === undefined ? ALL_SERVICES : SERVICES[p.provider as (typeof PROVIDERS)[number]];
      return Promise.resolve(offered.filter((service) => (p.service === undefined || service === p.service) && keywordMatches(p.keyword, service)));
    },
    mapItem: (service): Fields => ({
      name: service,
      provider: PROVIDERS.filter((provider) => SERVICES[provider].includes(service)).map((name) => ({ name })),
      // Kumulus's services have no capabilities to choose between (CloudStack's SupportedLBIsolation and the like).
      capability: [],
    }),
  });

  const listNetworkIsolationMethods = defineCommand({
    name: 'listNetworkIsolationMethods',
    kind: 'list',
    description: 'Lists supported methods of network isolation',
    params: { keyword: { type: 'string', description: 'List by keyword' } },
    handle: (p) => Promise.resolve(ISOLATION_METHODS.filter((method) => keywordMatches(p.keyword, method))),
    mapItem: (method): Fields => ({ name: method }),
  });

  return [listSupportedNetworkServices, listNetworkIsolationMethods];
}
