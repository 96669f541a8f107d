// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'bin/**',
      '.cluster/**',
      'charts/**',
      'hack/tools/**',
      '.bench-dist*/**',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The pure core: the planner and everything it imports, the daemon-pod contract, and the
    // webhook's decision. They take plain objects and the clock and return decisions; I/O
    // (the API client, informers, queues, events, sockets, files, logging, metrics) stays out.
    files: [
      'src/controller/plan.ts',
      'src/controller/claims.ts',
      'src/controller/history.ts',
      'src/controller/hash.ts',
      'src/controller/go-json.ts',
      'src/controller/manage.ts',
      'src/controller/rolling-update.ts',
      'src/controller/placement.ts',
      'src/controller/status.ts',
      'src/controller/sync-context.ts',
      'src/controller/daemon-pods.ts',
      'src/controller/pods.ts',
      'src/controller/pod-template.ts',
      'src/controller/backoff.ts',
      'src/controller/reserved-labels.ts',
      'src/controller/rollout-control.ts',
      'src/controller/rollout-settings.ts',
      'src/controller/in-place.ts',
      'src/controller/types.ts',
      'src/contract/*.ts',
      'src/machinery/label-selector.ts',
      'src/machinery/time.ts',
      'src/webhook/mutate.ts',
      'src/webhook/review.ts',
    ],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...[
              'http',
              'https',
              'fs',
              'fs/promises',
              'net',
              'tls',
              'dgram',
              'dns',
              'child_process',
              'worker_threads',
            ]
              .flatMap((m) => [m, `node:${m}`])
              .map((name) => ({ name, message: 'The pure core does no I/O.' })),
            ...['undici', 'express', 'pino', 'prom-client'].map((name) => ({
              name,
              message: 'The pure core does no I/O (no HTTP, logging or metrics).',
            })),
            {
              name: '@kubernetes/client-node',
              allowTypeImports: true,
              message: 'The pure core uses client-node for its types only (import type).',
            },
          ],
          patterns: [
            {
              group: ['**/machinery/*', '!**/machinery/label-selector.ts', '!**/machinery/time.ts'],
              message: 'The pure core must not use the client, informers, queues or events.',
            },
            {
              group: ['**/lib/*', '**/tls/*'],
              message:
                'The pure core must not use process plumbing (logging, metrics, servers, certificates).',
            },
            {
              group: [
                './executor.ts',
                './sync.ts',
                './caches.ts',
                './handlers.ts',
                './main.ts',
                './app.ts',
                './server.ts',
                './cert-watcher.ts',
                './metrics.ts',
              ],
              message: 'The pure core must not import the I/O shell around it.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
