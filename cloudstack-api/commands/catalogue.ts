import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import Type from 'typebox';
import { CatalogueEntrySchema, type CatalogueEntry } from './catalogue-entry.ts';
import { SUPPLEMENT } from './catalogue-supplement.ts';

export type { CatalogueEntry, CatalogueParamType, FieldType } from './catalogue-entry.ts';

/**
 * The CloudStack command catalogue (PROTOCOL.md §8): names, parameters and their listApis
 * types, response kinds, object names, envelopes and the JSON types of response fields.
 * `catalogue.json` beside this folder is a verbatim copy of shared/cloudstack-api/catalogue.json,
 * shipped with the API so the image needs nothing outside the repository.
 */

const catalogueFile = new URL('../catalogue.json', import.meta.url);

function loadCatalogue(): ReadonlyMap<string, CatalogueEntry> {
  const data: unknown = JSON.parse(readFileSync(catalogueFile, 'utf8'));
  const validate = new Ajv({ allErrors: false, strict: false }).compile(Type.Array(CatalogueEntrySchema));
  if (!validate(data)) {
    throw new Error(`${catalogueFile.pathname} does not have the catalogue's shape: ${JSON.stringify(validate.errors?.[0])}`);
  }
  return new Map((data as CatalogueEntry[]).map((entry) => [entry.name, entry]));
}

let catalogue: ReadonlyMap<string, CatalogueEntry> | undefined;

export function catalogueEntries(): ReadonlyMap<string, CatalogueEntry> {
  catalogue ??= loadCatalogue();
  return catalogue;
}

/** A command's entry: the catalogue's, else the supplement's (commands the web UI calls that the catalogue lacks). */
export function catalogueEntry(name: string): CatalogueEntry | undefined {
  return catalogueEntries().get(name) ?? SUPPLEMENT.get(name);
}

/** The envelope a command answers under: the legacy name where CloudStack kept one (§4). */
export function envelopeOf(entry: CatalogueEntry): string {
  return entry.response.legacyEnvelope ?? entry.response.envelope;
}
