import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPTIONS } from '../../src/platform/config.js';
import { PROBLEM_CODES } from '../../src/platform/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const errorsDoc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('documentation', () => {
  it('the README configuration table lists every option with its flag and environment variable', () => {
    for (const option of OPTIONS) {
      const row = readme.split('\n').find((line) => line.startsWith('|') && line.includes(`\`${option.env}\``));
      expect(row, `README row for ${option.env}`).toBeDefined();
      if (option.flag) expect(row).toContain(`\`${option.flag}\``);
    }
  });

  it('docs/errors.md lists every problem code a caller can receive', () => {
    const undocumented = Object.keys(PROBLEM_CODES).filter((code) => !errorsDoc.includes(`\`${code}\``));
    expect(undocumented).toEqual([]);
  });
});
