// A top-up from the web app: the amount, the provider's confirmation page (the sandbox) in a
// new tab, Approve, and the wallet credited on the app's page without a reload.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_CHROMIUM, newPerson, POLL, signedInContext, useWebApp, watchErrors } from './support.js';

describe.skipIf(!HAVE_CHROMIUM)('web app: the wallet', () => {
  const web = useWebApp({ beforeAll, afterAll });

  it('a top-up through the sandbox confirmation page credits the wallet, and the bell counts it', async () => {
    const person = await newPerson(web.url, 'Tom Topup');
    const context = await signedInContext(web.browser, web.url, person.api.token);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto('/wallet/USD?topup=1');
    await expect.poll(() => page.getByText('You have no wallet yet').count(), POLL).toBe(1);

    // A bad amount is refused in the form, before anything is sent.
    await page.getByLabel('Amount', { exact: true }).first().fill('12.345');
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await expect.poll(() => page.locator('#topup-amount-error').textContent(), POLL).toContain('at most 2 decimals');

    await page.locator('#topup-amount').fill('25.00');
    const [sandbox] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Continue to payment' }).click()]);
    await sandbox.waitForURL(/\/sandbox\/payments\/sbx_pay_/);
    expect(await sandbox.locator('.amount').textContent()).toBe('25.00 USD');
    await expect.poll(() => page.getByTestId('topup-status').textContent(), POLL).toContain('Waiting for you to confirm $25.00');

    await sandbox.getByRole('button', { name: 'Approve payment' }).click();
    await expect.poll(() => sandbox.getByRole('status').textContent(), POLL).toContain('Gavel was notified');

    // Back in the app: the status, the balance card and the header follow by themselves.
    await expect.poll(() => page.getByTestId('topup-status').textContent(), POLL).toContain('$25.00 was added to your wallet');
    await expect.poll(() => page.getByTestId('balance-USD').textContent(), POLL).toContain('$25.00');
    await expect.poll(() => page.getByTestId('wallet-balance').getAttribute('aria-label'), POLL).toBe('Wallet: $25.00 USD available');
    await expect.poll(() => page.getByRole('link', { name: /^Notifications/ }).getAttribute('aria-label'), POLL).toBe('Notifications, 1 unread');
    await expect.poll(() => page.locator('table.data tbody tr').first().textContent(), POLL).toContain('Top-up');

    // The server agrees: exactly one credit.
    const wallets = await person.api.call<{ items: Array<{ currency: string; available: string }> }>('GET', '/api/wallets');
    expect(wallets.items).toEqual([expect.objectContaining({ currency: 'USD', available: '25.00' })]);
    expect(errors).toEqual([]);
  }, 90_000);
});
