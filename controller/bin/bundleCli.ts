/**
 * Build step (`npm run build`, after tsc): replaces tsc's dist/controller/bin/postern.js with one
 * bundle of the command line, so that a store command loads about 20 files instead of about 500.
 * Node 20 loads ES modules one by one, and kysely (263 modules), zod (95), yaml and our own (50)
 * cost a store command most of its time before it does anything (BENCHMARKS.md, cli).
 *
 * - Each command's module is still imported only when the command runs (program.ts): esbuild
 *   splits them into chunks, written beside the bin as cli-<hash>.js, so `postern --help` loads
 *   commander and the command table only.
 * - Packages are left to node_modules (external), except the pure JavaScript ones in INLINE, which
 *   load nothing at run time by path: native modules (better-sqlite3, node-hid), packages that
 *   read their own files or start workers by name (zxing-wasm and its .wasm, pino and its
 *   transports) and everything else resolve from node_modules as before.
 * - `start` runs tsc's build as before (LEFT_TO_TSC): the controller's worker files, pages and
 *   log transports are found beside its modules in dist/. The modules whose classes are checked
 *   with instanceof on both sides (errors, cliErrors) are tsc's too, imported by both, so that an
 *   error thrown by start is still a PosternError to main.ts.
 *
 * The sources are unchanged by this: tsx runs them as they are (`npm run postern`). A build with
 * tsc alone leaves the previous bundle in place: run `npm run build`.
 */
import { readdir, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = path.join(ROOT, 'controller/bin/postern.ts');
/** Every output file is written here, so one relative path to a module of tsc's build serves them all. */
const OUT_DIR = path.join(ROOT, 'dist/controller/bin');
const CHUNK_PREFIX = 'cli-';

/** Pure JavaScript packages that every store command loads, in many modules each. */
const INLINE = new Set(['kysely', 'zod', 'yaml', 'commander']);

/** Source modules imported from tsc's build in dist/ rather than bundled. */
const LEFT_TO_TSC = new Set(['controller/cli/startCommand.ts', 'controller/cli/cliErrors.ts', 'machines/shared/errors.ts'].map((file) => path.join(ROOT, file)));

const BUILTINS = new Set(builtinModules);

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const externals: Plugin = {
  name: 'postern-externals',
  setup(bundle) {
    bundle.onResolve({ filter: /^[^./]/ }, (args) => {
      const name = packageName(args.path);
      if (INLINE.has(name) && !BUILTINS.has(name)) return undefined;
      return { path: args.path, external: true };
    });
    bundle.onResolve({ filter: /^\.\.?\// }, (args) => {
      const source = path.resolve(args.resolveDir, args.path);
      if (!LEFT_TO_TSC.has(source)) return undefined;
      const built = path.join(ROOT, 'dist', path.relative(ROOT, source)).replace(/\.ts$/, '.js');
      return { path: `./${path.relative(OUT_DIR, built)}`.replace(/^\.\/\.\./, '..'), external: true };
    });
  },
};

// Chunks of an earlier build would pile up: their names change with their contents.
for (const file of await readdir(OUT_DIR)) {
  if (file.startsWith(CHUNK_PREFIX)) await rm(path.join(OUT_DIR, file));
}

await build({
  entryPoints: [ENTRY],
  outdir: OUT_DIR,
  entryNames: '[name]',
  chunkNames: `${CHUNK_PREFIX}[hash]`,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Stack traces (POSTERN_DEBUG, unexpected errors) keep their names.
  keepNames: true,
  sourcemap: true,
  plugins: [externals],
  // An inlined CommonJS package (commander, yaml) requires Node's built-ins: give the bundle a require.
  banner: { js: "import { createRequire as __posternCreateRequire } from 'node:module';\nconst require = __posternCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
