// Parses an AsyncAPI document with @asyncapi/parser (from web/node_modules) and prints one JSON
// line: {"errors": n, "warnings": n, "channels": n, "diagnostics": [...]}. Exit code 0 always;
// the pytest caller asserts on the report. Usage: node validate_asyncapi.mjs <document.json>
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../web');
const { Parser } = createRequire(resolve(webDir, 'package.json'))('@asyncapi/parser');

const { document, diagnostics } = await new Parser().parse(readFileSync(process.argv[2], 'utf8'));
const errors = diagnostics.filter((d) => d.severity === 0);
console.log(
  JSON.stringify({
    errors: errors.length,
    warnings: diagnostics.length - errors.length,
    channels: document ? document.channels().all().map((c) => c.address()) : [],
    operations: document ? document.operations().all().map((o) => o.id()) : [],
    diagnostics: diagnostics.map((d) => ({ severity: d.severity, code: d.code, message: d.message, path: d.path })),
  }),
);
