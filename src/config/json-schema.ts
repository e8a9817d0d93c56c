import { z } from 'zod';
import { REFERENCE_SOURCE } from './interpolate';
import { configSchema, UPSTREAM_NAME } from './schema';

/** A JSON Schema document (draft-07), as plain data. */
export type JsonSchema = { [key: string]: unknown };

/** Where the published schema lives, relative to the repository root. */
export const JSON_SCHEMA_FILE = 'schema/gateway.schema.json';

/** A value that is one `${VAR}` or `${VAR:-default}` and nothing else. */
const WHOLE_REFERENCE: JsonSchema = {
  type: 'string',
  pattern: `^${REFERENCE_SOURCE}$`,
  description: 'An environment variable reference, replaced before validation.',
};
const REFERENCE = { $ref: '#/definitions/reference' };

/**
 * The configuration file's JSON Schema, generated from the zod schema so that an editor
 * validates gateway.yaml as the gateway would. Draft-07 rather than zod's default 2020-12:
 * it is the draft every YAML and JSON editor plugin reads.
 *
 * It describes the file as written, before `${VAR}` references are replaced (zod's input
 * side, so keys with defaults are optional), which takes two additions zod cannot know of:
 * where the gateway reads a whole-value reference as a number, `true`/`false` or one of an
 * enum's words, the schema admits the reference too (`port: ${PORT}` is no error); and
 * upstream names, checked in load.ts rather than by the record's key schema, get their
 * pattern here. Refinements (URLs, CIDRs, cross-references between sections) have no JSON
 * Schema form: `--check-config` remains the authority.
 */
export function configJsonSchema(): JsonSchema {
  const upstreams = configSchema.shape.upstreams;
  const schema = z.toJSONSchema(configSchema, {
    target: 'draft-07',
    io: 'input',
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema === upstreams) Object.assign(jsonSchema, { propertyNames: { pattern: UPSTREAM_NAME.source }, minProperties: 1 });
    },
  }) as JsonSchema;
  return {
    $schema: schema.$schema,
    title: 'Breakwater gateway configuration',
    description: 'The gateway.yaml (or .json) of Breakwater; every key with its default: docs/configuration.md.',
    ...admitReferences(withoutKey(schema, '$schema')),
    definitions: { reference: WHOLE_REFERENCE },
  };
}

/** The schema as the committed file holds it. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

/** A copy of `node` where every scalar that a reference string would fail also admits one. */
function admitReferences(node: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'format' && !DRAFT_07_FORMATS.has(String(value))) continue;
    out[key] = transform(key, value);
  }
  return refusesReference(out) ? wrap(out) : out;
}

/** The `format`s draft-07 defines; zod adds its own (`starts_with`), which strict validators refuse. */
const DRAFT_07_FORMATS = new Set(['date-time', 'date', 'time', 'email', 'idn-email', 'hostname', 'idn-hostname', 'ipv4', 'ipv6', 'uri', 'uri-reference', 'iri', 'iri-reference', 'uri-template', 'json-pointer', 'relative-json-pointer', 'regex']);

function transform(key: string, value: unknown): unknown {
  if (key === 'default' || key === 'enum' || key === 'const') return value;
  if (Array.isArray(value)) return value.map((v) => (isSchema(v) ? admitReferences(v) : v));
  if (!isSchema(value)) return value;
  // `properties` maps names to schemas; the mapping itself is no schema.
  if (key === 'properties') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSchema(v) ? admitReferences(v) : v]));
  return key === 'propertyNames' ? value : admitReferences(value);
}

/** A leaf that a string such as `${PORT}` does not match: a number, a boolean, an enum or a pattern. */
function refusesReference(node: JsonSchema): boolean {
  const types = node.type === undefined ? [] : ([] as unknown[]).concat(node.type);
  if (types.includes('object') || types.includes('array') || node.anyOf !== undefined) return false;
  const takesString = types.length === 0 || types.includes('string');
  return !takesString || node.enum !== undefined || node.const !== undefined || node.pattern !== undefined;
}

function wrap(node: JsonSchema): JsonSchema {
  const { default: fallback, description, ...rest } = node;
  return {
    ...(description === undefined ? {} : { description }),
    ...(fallback === undefined ? {} : { default: fallback }),
    anyOf: [rest, REFERENCE],
  };
}

function withoutKey(node: JsonSchema, key: string): JsonSchema {
  return Object.fromEntries(Object.entries(node).filter(([k]) => k !== key));
}

function isSchema(v: unknown): v is JsonSchema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
