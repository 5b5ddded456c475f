import { describe, expect, it } from 'vitest';
import { ConfigError, IMAGE_MAX_BYTES_DEFAULT, loadConfig } from '../../src/platform/config.js';

describe('GAVEL_IMAGE_MAX_BYTES', () => {
  it('defaults to 5 MiB and is set by flag or environment, the flag winning', () => {
    expect(loadConfig({}, {}).imageMaxBytes).toBe(IMAGE_MAX_BYTES_DEFAULT);
    expect(IMAGE_MAX_BYTES_DEFAULT).toBe(5 * 1024 * 1024);
    expect(loadConfig({}, { GAVEL_IMAGE_MAX_BYTES: '2048' }).imageMaxBytes).toBe(2048);
    expect(loadConfig({ imageMaxBytes: '4096' }, { GAVEL_IMAGE_MAX_BYTES: '2048' }).imageMaxBytes).toBe(4096);
  });

  it.each(['1023', '52428801', 'abc', '5MB', '-1'])('refuses %j, naming the option', (value) => {
    expect(() => loadConfig({}, { GAVEL_IMAGE_MAX_BYTES: value })).toThrow(ConfigError);
    expect(() => loadConfig({}, { GAVEL_IMAGE_MAX_BYTES: value })).toThrow(/--image-max-bytes \/ GAVEL_IMAGE_MAX_BYTES/);
  });
});
