/**
 * `npm run gen`: writes crds/<group>.yaml from the TypeBox definitions and removes YAML
 * files no group produces any more.
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderCrdFiles } from './render.ts';

const dir = import.meta.dirname;
const files = renderCrdFiles();
for (const [name, content] of files) await writeFile(join(dir, name), content);
for (const name of await readdir(dir)) {
  if (name.endsWith('.yaml') && !files.has(name)) await rm(join(dir, name));
}
const bytes = [...files.values()].reduce((sum, c) => sum + Buffer.byteLength(c), 0);
console.log(`wrote ${files.size} files, ${bytes} bytes: ${[...files.keys()].join(', ')}`);
