// Lint: typescript-eslint's recommended type-aware rules, plus the project's own rule that
// machines and the supervisor never read the wall clock or arm raw timers.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const rawTime = [
  { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'Read time from the injected clock.' },
  { selector: "CallExpression[callee.name='setTimeout']", message: 'Arm timers through the injected clock.' },
  { selector: "CallExpression[callee.name='setInterval']", message: 'Arm timers through the injected clock.' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.leasehold/**', 'coverage/**', '.scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['machines/**/*.ts', 'src/supervisor/**/*.ts', 'src/store/**/*.ts'],
    rules: { 'no-restricted-syntax': ['error', ...rawTime] },
  },
);
