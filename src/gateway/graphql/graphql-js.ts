// graphql-js, loaded the way mercurius loads it (require), so schema objects, errors and
// `instanceof` checks are shared with it. An `import` may resolve to the package's ES module
// build instead (vitest does), and graphql-js refuses objects from a second copy of itself.
import { createRequire } from 'node:module';

export const graphqlJs = createRequire(import.meta.url)('graphql') as typeof import('graphql');
