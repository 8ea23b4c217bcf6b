/** `npm run gen` (second step): writes the chart's generated files and removes stale CRD files. */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { renderChartFiles } from './chart.ts';

const chartDir = join(import.meta.dirname, '..', 'charts', 'kumulus');
const files = renderChartFiles();
for (const [path, content] of files) {
  await mkdir(dirname(join(chartDir, path)), { recursive: true });
  await writeFile(join(chartDir, path), content);
}
for (const name of await readdir(join(chartDir, 'crds'))) {
  if (!files.has(`crds/${name}`)) await rm(join(chartDir, 'crds', name));
}
console.log(`wrote ${files.size} chart files: ${[...files.keys()].join(', ')}`);
