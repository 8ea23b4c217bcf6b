import js from '@eslint/js';
import { importX } from 'eslint-plugin-import-x';
import type { Linter } from 'eslint';
import tseslint from 'typescript-eslint';

/**
 * The layering (DESIGN.md): crds/ ← lib/ ← {controllers/, webhooks/, node-daemon/,
 * cloudstack-api/} ← bin/. The four components never import each other, lib/ imports only
 * crds/ of ours, crds/ nothing of ours; and no import cycle anywhere.
 */
const FOLDERS = ['crds', 'lib', 'controllers', 'webhooks', 'node-daemon', 'cloudstack-api', 'bin', 'test', 'bench'] as const;
const COMPONENTS = ['controllers', 'webhooks', 'node-daemon', 'cloudstack-api'] as const;

/** no-restricted-imports for the files of `folder`: none of `forbidden` (relative imports, at any depth). */
function layer(folder: string, forbidden: readonly string[], why: string): Linter.Config {
  return {
    files: [`${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: forbidden.map((f) => ({
            regex: `^(\\.{1,2}/)+${f}/`,
            message: `${folder}/ must not import ${f}/: ${why}`,
          })),
        },
      ],
    },
  };
}

const others = (me: string) => FOLDERS.filter((f) => f !== me && f !== 'crds' && f !== 'lib');

export default tseslint.config(
  { ignores: ['node_modules/', '.kumulus/', 'charts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
    rules: {
      // import-x skips type-only imports; /work/shared/tools/import-cycles.py counts those too.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  ...COMPONENTS.map((c) => layer(c, others(c), 'the components talk only through Kubernetes objects and lib/')),
  layer('lib', FOLDERS.filter((f) => f !== 'lib' && f !== 'crds'), 'lib/ is what the components share and may import only crds/'),
  layer('crds', FOLDERS.filter((f) => f !== 'crds'), 'crds/ is the bottom layer and imports nothing of ours'),
);
