import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: {
    conditions: ['@normgrad/source'],
    // @normgrad/testing depends on @normgrad/core, so core cannot list it as a dependency (a cycle);
    // core's own tests reach its source directly.
    alias: [
      { find: /^@normgrad\/testing$/, replacement: fileURLToPath(new URL('../testing/src/index.ts', import.meta.url)) },
      { find: /^@normgrad\/testing\/vitest$/, replacement: fileURLToPath(new URL('../testing/src/vitest.ts', import.meta.url)) },
    ],
  },
  ssr: { resolve: { conditions: ['@normgrad/source'] } },
  test: { name: 'core', include: ['test/**/*.test.ts'], testTimeout: 60_000 },
});
