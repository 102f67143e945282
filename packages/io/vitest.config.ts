import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@normgrad/source'] },
  ssr: { resolve: { conditions: ['@normgrad/source'] } },
  test: { name: 'io', include: ['test/**/*.test.ts'], testTimeout: 60_000 },
});
