/**
 * The repository stands alone: a clone with nothing beside it has everything its code, tests, docs
 * and scripts read or point to. Every tracked file (git ls-files) is searched for
 * - a relative path (import, readFile, new URL, Markdown link, YAML value, shell line) that leads
 *   out of the repository from the file's own folder;
 * - the project's folder of references outside the repository, by the names of its subfolders;
 * - an absolute path into the developers' machines (their work folder) or to this checkout itself;
 * - a tracked symbolic link that leads out of the repository.
 * The patterns are assembled from pieces, so that this file does not match them itself.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VECTORS_PATH } from '../support/vectors.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

/** A path that starts with ./ or ../, after a quote, a bracket, white space, `=`, `:` or `,`. */
const RELATIVE_PATH = /(?<=^|[\s'"`(=:,[])(\.{1,2}\/[\w.@~+\-/]*)/g;
const OUTSIDE_NAMES = new RegExp(`\\bshared/(?:${['spec', 'design', 'hooks'].join('|')})\\b`);
const MACHINE_PATH = new RegExp(`(?<![\\w.])/${'work'}/`);

export interface OutsideReference {
  file: string;
  line: number;
  what: string;
}

/** Where `text`, the content of `file` (relative to `root`), reads or points outside `root`. */
export function outsideReferences(root: string, file: string, text: string): OutsideReference[] {
  const found: OutsideReference[] = [];
  text.split('\n').forEach((content, index) => {
    const line = index + 1;
    for (const match of content.matchAll(RELATIVE_PATH)) {
      const target = path.resolve(root, path.dirname(file), match[1]!);
      if (!isInside(root, target)) found.push({ file, line, what: `${match[1]} leads out of the repository` });
    }
    const named = OUTSIDE_NAMES.exec(content);
    if (named) found.push({ file, line, what: `names ${named[0]}, a folder outside the repository` });
    if (MACHINE_PATH.test(content)) found.push({ file, line, what: 'an absolute path on a developer machine' });
    if (content.includes(root + '/')) found.push({ file, line, what: `the absolute path of this checkout (${root})` });
  });
  return found;
}

function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\0')
    .filter(Boolean);
}

/** Every outside reference of every tracked file; binary files are skipped, symbolic links followed by name. */
function scanRepository(): OutsideReference[] {
  const found: OutsideReference[] = [];
  for (const file of trackedFiles()) {
    const absolute = path.join(ROOT, file);
    let stat;
    try {
      stat = lstatSync(absolute);
    } catch {
      continue; // deleted in the working tree, not yet in the index
    }
    if (stat.isSymbolicLink()) {
      const target = path.resolve(path.dirname(absolute), readlinkSync(absolute));
      if (!isInside(ROOT, target)) found.push({ file, line: 0, what: `a symbolic link to ${readlinkSync(absolute)}, outside the repository` });
      continue;
    }
    if (!stat.isFile()) continue;
    const bytes = readFileSync(absolute);
    if (bytes.includes(0)) continue;
    found.push(...outsideReferences(ROOT, file, bytes.toString('utf8')));
  }
  return found;
}

describe('the repository stands alone', () => {
  it('has no tracked file that reads or links outside it', () => {
    const found = scanRepository().map((r) => `${r.file}:${r.line}: ${r.what}`);
    expect(found, `files that reach outside the repository (a clone has nothing beside it):\n${found.join('\n')}`).toEqual([]);
  });

  it('reads the credential vectors from its own fixture', () => {
    expect(path.relative(ROOT, VECTORS_PATH)).toBe(path.join('test', 'fixtures', 'credential-vectors.json'));
    expect(trackedFiles()).toContain('test/fixtures/credential-vectors.json');
    expect(trackedFiles()).toContain('docs/credential-format.md');
  });

  it('finds each kind of outside reference, and lets references inside the repository be', () => {
    const up = (n: number, rest: string) => [...Array<string>(n).fill('..'), rest].join('/');
    const root = '/srv/checkout';
    const flagged = (file: string, text: string) => outsideReferences(root, file, text).map((r) => r.what);
    expect(flagged('test/support/x.ts', `new URL('${up(3, 'elsewhere/v.json')}', import.meta.url)`)).toEqual([`${up(3, 'elsewhere/v.json')} leads out of the repository`]);
    expect(flagged('README.md', `specified in \`${up(1, 'spec.md')}\`.`)).toHaveLength(1);
    expect(flagged('docs/a.md', `[the spec](${up(2, 'x.md')})`)).toHaveLength(1);
    expect(flagged('config/site.yaml', `dataDir: ${up(2, 'data')}`)).toHaveLength(1);
    expect(flagged('x.ts', `readFileSync('/${'work'}/x/spec.md')`)).toEqual(['an absolute path on a developer machine']);
    expect(flagged('x.ts', `// see ${['shared', 'spec'].join('/')}/format.md`)).toHaveLength(1);
    expect(flagged('x.ts', `readFileSync('${root}/data/x')`)).toHaveLength(1);
    // Inside: a fixture beside the tests, the project root, a sibling module, machines/shared.
    expect(flagged('test/support/x.ts', `new URL('${up(1, 'fixtures/v.json')}', import.meta.url)`)).toEqual([]);
    expect(flagged('test/support/x.ts', `new URL('${up(2, '')}', import.meta.url)`)).toEqual([]);
    expect(flagged('controller/cli/x.ts', `import { a } from './${'siteFile.ts'}'; import e from '${up(2, 'machines/shared/errors.ts')}';`)).toEqual([]);
    expect(flagged('docs/a.md', `[vectors](${up(1, 'test/fixtures/v.json')}) and /api, http://x/../y`)).toEqual([]);
  });
});
