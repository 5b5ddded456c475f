import { afterEach } from 'vitest';

/**
 * A list a test pushes its clean-ups to (stop this node, close that connection); after each
 * test they run in reverse order. `ignoreFailures`: a clean-up that throws (the thing was gone
 * already) does not fail the test or stop the others.
 */
export function cleanupsAfterEach(options: { ignoreFailures?: boolean } = {}): Array<() => Promise<unknown> | void> {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      if (options.ignoreFailures) await Promise.resolve().then(cleanup).catch(() => {});
      else await cleanup();
    }
  });
  return cleanups;
}
