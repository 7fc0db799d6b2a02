import { inject } from 'vitest';

/** the Redis URL from globalSetup, or a clear failure (never a skip) when there is none */
export function requireRedisUrl(): string {
  const url = inject('redisUrl');
  if (url) return url;
  const why = inject('redisError');
  throw new Error(
    `Redis is required for this test: install redis-server (apt-get install -y redis-server) or set REDIS_URL${why ? ` (${why})` : ''}`,
  );
}
