// The notification settings of `gavel start`: flags and variables, defaults and refusals.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/platform/config.js';

describe('notification settings', () => {
  it('default to 10 workers, 8 attempts, .eml files under the data dir, and a no-reply sender', () => {
    const config = loadConfig({}, {});
    expect(config).toMatchObject({ notifyWorkers: 100, notifyMaxAttempts: 8, smtpUrl: undefined, mailDir: undefined, mailFrom: 'Gavel <no-reply@gavel.localhost>' });
  });

  it('are read from the environment, and a flag wins', () => {
    const env = { GAVEL_NOTIFY_WORKERS: '32', GAVEL_NOTIFY_MAX_ATTEMPTS: '3', GAVEL_SMTP_URL: 'smtps://me:secret@mail.example.com:465', GAVEL_MAIL_DIR: '/var/mail/gavel', GAVEL_MAIL_FROM: 'Auctions <auctions@example.com>' };
    expect(loadConfig({}, env)).toMatchObject({ notifyWorkers: 32, notifyMaxAttempts: 3, smtpUrl: 'smtps://me:secret@mail.example.com:465', mailDir: '/var/mail/gavel', mailFrom: 'Auctions <auctions@example.com>' });
    expect(loadConfig({ notifyWorkers: '4' }, env).notifyWorkers).toBe(4);
  });

  it('refuse what cannot work, naming the setting and never echoing the SMTP URL', () => {
    const refused: Array<[Record<string, string>, RegExp]> = [
      [{ GAVEL_NOTIFY_WORKERS: '0' }, /--notify-workers .* between 1 and 256/],
      [{ GAVEL_NOTIFY_WORKERS: 'many' }, /--notify-workers .* whole number/],
      [{ GAVEL_NOTIFY_MAX_ATTEMPTS: '51' }, /--notify-max-attempts .* between 1 and 50/],
      [{ GAVEL_SMTP_URL: 'http://me:secret@mail.example.com' }, /--smtp-url .* smtp:\/\/ or smtps:\/\//],
      [{ GAVEL_MAIL_FROM: 'not an address' }, /--mail-from .* e-mail address/],
    ];
    for (const [env, message] of refused) {
      let error: unknown;
      try {
        loadConfig({}, env);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(env)).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('secret');
    }
  });
});
