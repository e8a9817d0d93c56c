/**
 * `npm run schema`: writes the configuration's JSON Schema, generated from the zod schema in
 * src/config/schema.ts, to schema/gateway.schema.json. Run it after changing a config key;
 * test/unit/json-schema.test.ts fails while the committed file is out of step.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configJsonSchemaText, JSON_SCHEMA_FILE } from '../src/config/json-schema';

// Run from the build: dist/scripts/schema.js, two levels below the repository root.
const file = path.join(__dirname, '..', '..', JSON_SCHEMA_FILE);
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, configJsonSchemaText());
console.log(`wrote ${JSON_SCHEMA_FILE}`);
