import Type, { type Static } from 'typebox';

/**
 * The shape of one catalogue entry, on its own so that the catalogue and its supplement both
 * build on it without importing each other.
 */

const ParamType = Type.Union(['string', 'uuid', 'boolean', 'integer', 'long', 'short', 'list', 'map', 'date'].map((t) => Type.Literal(t)));
const FieldType = Type.Union(['string', 'number', 'boolean', 'array', 'object(map)', 'object', 'any'].map((t) => Type.Literal(t)));

export const CatalogueEntrySchema = Type.Object({
  name: Type.String(),
  async: Type.Boolean(),
  required: Type.Array(Type.String()),
  optional: Type.Array(Type.String()),
  paramTypes: Type.Record(Type.String(), ParamType),
  response: Type.Object({
    kind: Type.Union([Type.Literal('list'), Type.Literal('object'), Type.Literal('success'), Type.Literal('flat')]),
    name: Type.Union([Type.String(), Type.Null()]),
    fields: Type.Optional(Type.Array(Type.String())),
    fieldTypes: Type.Optional(Type.Record(Type.String(), FieldType)),
    envelope: Type.String(),
    legacyEnvelope: Type.Optional(Type.String()),
    asyncInitial: Type.Optional(Type.Array(Type.String())),
  }),
  group: Type.String(),
  since: Type.Union([Type.String(), Type.Null()]),
  notes: Type.Optional(Type.Array(Type.String())),
});

export type CatalogueParamType = 'string' | 'uuid' | 'boolean' | 'integer' | 'long' | 'short' | 'list' | 'map' | 'date';
export type FieldType = 'string' | 'number' | 'boolean' | 'array' | 'object(map)' | 'object' | 'any';
export type CatalogueEntry = Static<typeof CatalogueEntrySchema> & {
  paramTypes: Record<string, CatalogueParamType>;
  response: { fieldTypes?: Record<string, FieldType> };
};
