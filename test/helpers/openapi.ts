/**
 * Holds responses to the contract in openapi.yaml: loads the document once and validates a
 * JSON value against a named component schema or against what an operation declares for a
 * status and content type. No validator library is installed, so this is a compact one for
 * the JSON Schema subset the document uses: type (also as a list, with 'null'), nullable,
 * required, properties, additionalProperties, enum, const, items, minItems, minimum,
 * maximum, exclusiveMinimum/exclusiveMaximum (draft-06+ numbers), minLength, pattern,
 * minProperties, propertyNames, allOf/anyOf/oneOf/not, $ref (local) and format date-time; the
 * configuration's JSON Schema (schema/gateway.schema.json) is held to it the same way.
 * Keywords it does not know are ignored, as JSON Schema says annotations are.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

export type Schema = Record<string, unknown>;
type Doc = Record<string, unknown>;

const OPENAPI_FILE = path.join(__dirname, '..', '..', 'openapi.yaml');
let cached: Doc | undefined;

/** The parsed openapi.yaml of the repository (read once per test file). */
export function openapi(): Doc {
  cached ??= parse(readFileSync(OPENAPI_FILE, 'utf8')) as Doc;
  return cached;
}

/** Errors of `value` against `#/components/schemas/<name>`; empty when it conforms. */
export function validateComponent(name: string, value: unknown, doc: Doc = openapi()): string[] {
  return validate({ $ref: `#/components/schemas/${name}` }, value, doc);
}

/**
 * Errors of a response body against the schema `paths[apiPath][method].responses[status]`
 * declares for `contentType` (falling back to `5XX`-style ranges, then `default`).
 */
export function validateResponse(apiPath: string, method: string, status: number, contentType: string, body: unknown, doc: Doc = openapi()): string[] {
  const schema = responseSchema(apiPath, method, status, contentType, doc);
  return validate(schema, body, doc);
}

/** Jest-friendly: throws with every error when `body` does not match the operation's response schema. */
export function expectResponseToMatch(apiPath: string, method: string, reply: { status: number; headers: Record<string, unknown>; body: string }): void {
  const contentType = String(reply.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  const errors = validateResponse(apiPath, method, reply.status, contentType, JSON.parse(reply.body) as unknown);
  if (errors.length > 0) throw new Error(`${method.toUpperCase()} ${apiPath} ${reply.status} does not match openapi.yaml:\n  ${errors.join('\n  ')}\nbody: ${reply.body}`);
}

/** Jest-friendly: throws with every error when `value` does not match the component schema. */
export function expectToMatchComponent(name: string, value: unknown): void {
  const errors = validateComponent(name, value);
  if (errors.length > 0) throw new Error(`value does not match #/components/schemas/${name}:\n  ${errors.join('\n  ')}\nvalue: ${JSON.stringify(value)}`);
}

export function responseSchema(apiPath: string, method: string, status: number, contentType: string, doc: Doc = openapi()): Schema {
  const item = (doc.paths as Record<string, Doc> | undefined)?.[apiPath];
  if (!item) throw new Error(`openapi.yaml has no path ${apiPath}`);
  const op = item[method.toLowerCase()] as Doc | undefined;
  if (!op) throw new Error(`openapi.yaml has no ${method.toUpperCase()} ${apiPath}`);
  const responses = (op.responses ?? {}) as Record<string, Schema>;
  const key = [String(status), `${String(status)[0]}XX`, `${String(status)[0]}xx`, 'default'].find((k) => k in responses);
  if (!key) throw new Error(`openapi.yaml: ${method.toUpperCase()} ${apiPath} declares no response for ${status}`);
  const response = deref(responses[key] as Schema, doc);
  const media = (response.content as Record<string, Schema> | undefined)?.[contentType];
  if (!media?.schema) throw new Error(`openapi.yaml: ${method.toUpperCase()} ${apiPath} ${key} declares no ${contentType} body`);
  return media.schema as Schema;
}

/** Errors of `value` against `schema`, each prefixed with the JSON path where it occurs. */
export function validate(schema: Schema, value: unknown, doc: Doc = openapi(), at = '$'): string[] {
  if (typeof schema.$ref === 'string') return validate(resolveRef(schema.$ref, doc), value, doc, at);
  const errors: string[] = [];
  const fail = (msg: string): void => void errors.push(`${at}: ${msg}`);

  if (value === null && schema.nullable === true) return errors;
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => hasType(value, t))) {
      fail(`expected ${types.join(' or ')}, got ${describe(value)}`);
      return errors;
    }
  }
  if ('const' in schema && !deepEqual(schema.const, value)) fail(`expected ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => deepEqual(e, value))) fail(`expected one of ${JSON.stringify(schema.enum)}, got ${JSON.stringify(value)}`);

  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) fail(`shorter than ${schema.minLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) fail(`does not match ${schema.pattern}`);
    if (schema.format === 'date-time' && !isDateTime(value)) fail(`not an RFC 3339 date-time: ${value}`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) fail(`below the minimum ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) fail(`above the maximum ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) fail(`not above ${schema.exclusiveMinimum}`);
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) fail(`not below ${schema.exclusiveMaximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) fail(`fewer than ${schema.minItems} items`);
    if (schema.items && typeof schema.items === 'object') value.forEach((v, i) => errors.push(...validate(schema.items as Schema, v, doc, `${at}[${i}]`)));
  }
  if (isObject(value)) {
    for (const name of (schema.required as string[] | undefined) ?? []) if (!(name in value)) fail(`missing required member ${name}`);
    if (typeof schema.minProperties === 'number' && Object.keys(value).length < schema.minProperties) fail(`fewer than ${schema.minProperties} members`);
    if (isObject(schema.propertyNames)) for (const name of Object.keys(value)) errors.push(...validate(schema.propertyNames, name, doc, `${at}[${JSON.stringify(name)}] (name)`));
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [name, v] of Object.entries(value)) {
      const sub = props[name];
      if (sub) errors.push(...validate(sub, v, doc, `${at}.${name}`));
      else if (schema.additionalProperties === false) fail(`unexpected member ${name}`);
      else if (isObject(schema.additionalProperties)) errors.push(...validate(schema.additionalProperties, v, doc, `${at}.${name}`));
    }
  }

  if (Array.isArray(schema.allOf)) for (const sub of schema.allOf as Schema[]) errors.push(...validate(sub, value, doc, at));
  if (Array.isArray(schema.anyOf) && !(schema.anyOf as Schema[]).some((sub) => validate(sub, value, doc, at).length === 0)) {
    fail('matches none of anyOf');
  }
  if (isObject(schema.not) && validate(schema.not, value, doc, at).length === 0) fail(`must not match ${JSON.stringify(schema.not)}`);
  if (Array.isArray(schema.oneOf)) {
    const matching = (schema.oneOf as Schema[]).filter((sub) => validate(sub, value, doc, at).length === 0).length;
    if (matching !== 1) fail(`matches ${matching} of oneOf, expected exactly 1`);
  }
  return errors;
}

function resolveRef(ref: string, doc: Doc): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) ? node[key] : undefined;
    if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  }
  return node as Schema;
}

function deref(node: Schema, doc: Doc): Schema {
  return typeof node.$ref === 'string' ? deref(resolveRef(node.$ref, doc), doc) : node;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'null': return value === null;
    case 'string': return typeof value === 'string';
    case 'boolean': return typeof value === 'boolean';
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'integer': return typeof value === 'number' && Number.isInteger(value);
    case 'array': return Array.isArray(value);
    case 'object': return isObject(value);
    default: throw new Error(`unknown schema type ${type}`);
  }
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function isDateTime(s: string): boolean {
  return DATE_TIME.test(s) && !Number.isNaN(Date.parse(s));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
