// Node's flags for a server cannot be set from our code (V8 sizes its heap first): the
// benchmarks measure with SERVER_NODE_FLAGS, so `npm start` must pass the same, or the figures in
// bench/README.md would not be what a user runs. (The Docker image: test/deploy/manifests.test.ts.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from '../../src/platform/node-flags.js';
import { REPO_ROOT } from '../support/process.js';

describe("node's flags for a server", () => {
  it('npm start passes them', () => {
    const scripts = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    expect(scripts.start).toBe(['node', ...SERVER_NODE_FLAGS, 'bin/gavel.js', 'start'].join(' '));
  });
});
