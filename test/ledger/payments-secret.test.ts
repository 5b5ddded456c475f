import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { startGavel } from '../../src/gavel.js';
import { ConfigError, loadConfig, type Config } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logging.js';
import { signatureHeader } from '../../src/ledger/payments/signature.js';
import type { GavelNode } from '../../src/gavel.js';
import { DIALECTS, scratchStorage } from '../support/databases.js';

/** A well-formed sandbox event, so verification only turns on the signature. */
const EVENT = JSON.stringify({
  id: `evt_${'a'.repeat(32)}`,
  type: 'payment.succeeded',
  created: 1,
  data: { object: 'payment', id: `sbx_pay_${'b'.repeat(32)}`, reference: 'r', amountMinor: '100', currency: 'USD' },
});

function verifies(node: GavelNode, secret: string): boolean {
  const nowMs = Date.now();
  const header = signatureHeader({ secret, rawBody: EVENT, timestampS: Math.floor(nowMs / 1000) });
  return node.ledger.payments.provider.verifyWebhook({ rawBody: Buffer.from(EVENT), headers: { 'gavel-signature': header } }, nowMs).ok;
}

async function storedSecret(node: GavelNode): Promise<string | undefined> {
  const { rows } = await sql<{ value: string }>`select value from ledger_payment_settings where name = 'webhook_secret'`.execute(node.database.kysely);
  return rows[0]?.value;
}

for (const dialect of DIALECTS) {
  describe(`the payments webhook secret on ${dialect}`, () => {
    it('is generated once, kept in the database across restarts, and never logged', async () => {
      const storage = await scratchStorage(dialect);
      const lines: string[] = [];
      const logger = createLogger('trace', { write: (line: string) => void lines.push(line) });
      const config: Config = { ...loadConfig({}, {}), dataDir: storage.dataDir, databaseUrl: storage.databaseUrl, roles: new Set(['api']) };
      try {
        const first = await startGavel(config, { listen: false, logger });
        const secret = await storedSecret(first);
        expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);
        expect(verifies(first, secret!)).toBe(true);
        expect(verifies(first, 'whsec_not_the_one_at_all')).toBe(false);
        await first.stop();

        const second = await startGavel(config, { listen: false, logger });
        expect(await storedSecret(second)).toBe(secret);
        expect(verifies(second, secret!)).toBe(true);
        await second.stop();

        // A configured secret wins over the stored one.
        const configured = 'whsec_configured_by_the_operator';
        const third = await startGavel({ ...config, paymentsWebhookSecret: configured }, { listen: false, logger });
        expect(verifies(third, configured)).toBe(true);
        expect(verifies(third, secret!)).toBe(false);
        await third.stop();

        const all = lines.join('\n');
        expect(lines.filter((l) => l.includes('generated a payments webhook secret'))).toHaveLength(1);
        expect(all).not.toContain(secret!);
        expect(all).not.toContain(configured);
      } finally {
        await storage.drop();
      }
    });
  });
}

describe('GAVEL_PAYMENTS_WEBHOOK_SECRET', () => {
  it('is read from the flag or the environment, flag first', () => {
    expect(loadConfig({}, {}).paymentsWebhookSecret).toBeUndefined();
    expect(loadConfig({}, { GAVEL_PAYMENTS_WEBHOOK_SECRET: 'from-the-environment' }).paymentsWebhookSecret).toBe('from-the-environment');
    expect(loadConfig({ paymentsWebhookSecret: 'from-the-command-line' }, { GAVEL_PAYMENTS_WEBHOOK_SECRET: 'from-the-environment' }).paymentsWebhookSecret).toBe('from-the-command-line');
  });

  it.each(['short', 'sixteen chars ok but has spaces', 'é'.repeat(20), 'x'.repeat(257)])('refuses %j without echoing it', (secret) => {
    let error: unknown;
    try {
      loadConfig({}, { GAVEL_PAYMENTS_WEBHOOK_SECRET: secret });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('GAVEL_PAYMENTS_WEBHOOK_SECRET');
    expect((error as Error).message).not.toContain(secret);
  });
});
