// The demo's two options, parsed as `gavel start` parses them: demo data on by default on
// SQLite (off on PostgreSQL unless asked), bots off; --no-demo and --demo-bots are switches;
// the variables take 1/0 (true/false, yes/no, on/off).
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, flagOptions, flagsToKeys, loadConfig, startHelp } from '../../src/platform/config.js';
import { demoWanted } from '../../src/demo/start.js';

function configOf(args: string[], env: Record<string, string> = {}) {
  const { values } = parseArgs({ args, options: flagOptions(), strict: true, allowPositionals: false });
  return loadConfig(flagsToKeys(values), env);
}

describe('demo options', () => {
  it('seed demo data on embedded SQLite, not on PostgreSQL, and run no bots by default', () => {
    expect(configOf([])).toMatchObject({ demo: undefined, demoBots: false });
    expect(demoWanted(configOf([]))).toBe(true);
    expect(demoWanted(configOf([], { DATABASE_URL: 'postgres://localhost/gavel' }))).toBe(false);
    expect(demoWanted(configOf([], { DATABASE_URL: 'postgres://localhost/gavel', GAVEL_DEMO: '1' }))).toBe(true);
    expect(demoWanted(configOf(['--no-demo']))).toBe(false);
  });

  it('are switched by the flags, which win over the variables', () => {
    expect(configOf(['--no-demo'])).toMatchObject({ demo: false });
    expect(configOf(['--no-demo'], { GAVEL_DEMO: '1' })).toMatchObject({ demo: false });
    expect(configOf(['--demo-bots'])).toMatchObject({ demoBots: true });
    expect(configOf(['--demo-bots'], { GAVEL_DEMO_BOTS: '0' })).toMatchObject({ demoBots: true });
  });

  it.each([
    ['0', false],
    ['false', false],
    ['No', false],
    ['off', false],
    ['1', true],
    ['TRUE', true],
    ['yes', true],
    [' on ', true],
  ])('read GAVEL_DEMO=%j as %s', (text, value) => {
    expect(configOf([], { GAVEL_DEMO: text, GAVEL_DEMO_BOTS: text })).toMatchObject({ demo: value, demoBots: value });
  });

  it('refuse a value that is not a yes or a no, naming the variable', () => {
    expect(() => configOf([], { GAVEL_DEMO: 'maybe' })).toThrow(ConfigError);
    expect(() => configOf([], { GAVEL_DEMO_BOTS: '2' })).toThrow(/GAVEL_DEMO_BOTS must be 1 or 0.*"2"/);
  });

  it('take no value on the command line', () => {
    expect(() => configOf(['--demo-bots=yes'])).toThrow();
    expect(() => configOf(['--no-demo', 'now'])).toThrow();
  });

  it('are listed by gavel start --help', () => {
    const help = startHelp();
    expect(help).toMatch(/--no-demo +GAVEL_DEMO /);
    expect(help).toMatch(/--demo-bots +GAVEL_DEMO_BOTS /);
  });
});
