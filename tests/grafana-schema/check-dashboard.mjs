// Type-checks Grafana dashboard JSON files against Grafana's published schema types
// (@grafana/schema's Dashboard), with the TypeScript compiler, so a field of the wrong type or
// an unknown field fails here instead of when Grafana imports the file.
//
//   node tests/grafana-schema/check-dashboard.mjs deploy/grafana/crdb-certwatch.json
//
// Exit status 0 when every file type-checks, 1 with the compiler's messages otherwise, 2 on a
// usage or read error. Needs `npm ci` in this directory first.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ts = createRequire(import.meta.url)('typescript');

// Keys Grafana's import dialog reads and drops; they are not part of the dashboard model.
const importOnlyKeys = ['__inputs', '__elements', '__requires'];

// The schema types describe the model as the frontend holds it: enums where the JSON holds their
// values. JsonOf<T> is the same shape with each string enum replaced by the union of its values
// (numeric enums already accept their numbers), so the JSON literal checks against it as
// Grafana reads it, excess-property checks included.
const prelude = `import type { Dashboard } from '@grafana/schema';
type JsonOf<T> = T extends string ? \`\${T}\`
  : T extends number | boolean | null | undefined ? T
  : T extends ReadonlyArray<infer E> ? Array<JsonOf<E>>
  : T extends object ? { [K in keyof T]: JsonOf<T[K]> }
  : T;
export const dashboard: JsonOf<Dashboard> = `;

function check(path) {
  let model;
  try {
    model = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    console.error(`${path}: ${error.message}`);
    return 2;
  }
  for (const key of importOnlyKeys) delete model[key];
  // Inside this directory so that '@grafana/schema' resolves from its node_modules.
  const dir = mkdtempSync(join(here, '.check-'));
  try {
    const file = join(dir, 'dashboard.ts');
    writeFileSync(file, `${prelude}${JSON.stringify(model, null, 2)};\n`);
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      skipLibCheck: true,
      types: [],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program);
    for (const d of diagnostics) {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (d.file) {
        const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
        const source = d.file.text.split('\n')[line].trim();
        console.error(`${path}: ${text}\n    at: ${source}`);
      } else {
        console.error(`${path}: ${text}`);
      }
    }
    if (diagnostics.length > 0) return 1;
    console.log(`${path}: matches @grafana/schema Dashboard (schemaVersion ${model.schemaVersion})`);
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node check-dashboard.mjs DASHBOARD.json...');
  process.exit(2);
}
process.exit(Math.max(...files.map(check)));
