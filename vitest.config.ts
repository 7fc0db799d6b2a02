import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // one throwaway redis-server per run; tests read its URL with inject('redisUrl')
    globalSetup: ['tests/setup/redis.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // forks: sqlite3 is a native addon, which is safer in child processes than in worker threads
    pool: 'forks',
    environment: 'node',
    restoreMocks: true,
  },
});
