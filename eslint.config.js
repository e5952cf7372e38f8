import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

/**
 * Imports point one way: shared types and errors (machines/shared) ← machines ← drivers ← the app
 * (controller/, webui/), as the architecture notes' Conventions say. The patterns match
 * the import text, so a relative path that reaches into a forbidden folder is caught at any depth.
 * Type-only imports are caught too, unless a path below allows them. Dynamic import() is not checked.
 */
const reaching = (folders) => `(^|/)(${folders.join('|')})(/|$)`;

function layerRule({ folders, why, pure = false, pinoTypes = false }) {
  const patterns = [{ regex: reaching(folders), message: why }];
  const paths = [];
  if (pure) {
    const message = 'Machines are pure: no Node built-ins (a driver or the controller does the I/O).';
    patterns.push({ regex: '^node:', message });
    for (const name of builtinModules.filter((m) => !m.startsWith('_'))) paths.push({ name, message });
    paths.push({
      name: 'pino',
      allowTypeImports: pinoTypes,
      message: pinoTypes
        ? 'Only the Logger type; the controller makes the logger.'
        : 'Take the Logger type from machines/shared/logger.ts; the controller makes the logger.',
    });
  }
  return ['error', { paths, patterns }];
}

const machines = {
  folders: ['controller', 'drivers', 'webui'],
  why: 'Machines import only machines/ (shared types and errors in machines/shared), never the drivers or the app.',
  pure: true,
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'coverage/**', 'dist/**', 'webui/dist/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['machines/**/*.ts'],
    rules: { 'no-restricted-imports': layerRule(machines) },
  },
  {
    // The shared module re-exports pino's Logger type for the machines and drivers.
    files: ['machines/shared/**/*.ts'],
    rules: { 'no-restricted-imports': layerRule({ ...machines, pinoTypes: true }) },
  },
  {
    files: ['drivers/**/*.ts'],
    rules: {
      'no-restricted-imports': layerRule({
        folders: ['controller', 'webui'],
        why: 'Drivers import machines/shared and drivers/ only, never the app: config types come from drivers/driverConfig.ts.',
      }),
    },
  },
  {
    // Tests read JSON answers whose shape is what they assert.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
