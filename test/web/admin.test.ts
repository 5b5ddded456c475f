// The admin pages in a browser: an admin promotes a user to a role, adds a category, sets an
// exchange rate, halts an instrument, discards a purchase dead letter and runs the ledger check;
// each change is checked on the server too. Someone without the admin role sees no Admin link
// and, at /admin, a "not allowed" page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_CHROMIUM, listInstrument, newPerson, POLL, signedInContext, useWebApp, watchErrors } from './support.js';

describe.skipIf(!HAVE_CHROMIUM)('web app: the admin pages', () => {
  const web = useWebApp({ beforeAll, afterAll });

  it('an admin changes roles, the category tree, a rate and an instrument, and runs the ledger check', async () => {
    const una = await newPerson(web.url, 'Una Auctioneer');
    const symbol = await listInstrument(web.admin);
    // A purchase reply nobody can read: the saga dead-letters it.
    await web.node.database.kysely.transaction().execute(async (tx) => {
      await web.node.bus.append(tx, { topic: 'purchases.reply.funds_held', key: 'nobody', payload: { hello: 'world' } });
    });
    web.node.bus.poke();

    const context = await signedInContext(web.browser, web.url, web.admin.token);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto('/');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), POLL).toBe('Admin');
    expect(await page.getByRole('link', { name: 'Users and roles' }).getAttribute('aria-current')).toBe('page');

    // Users: find Una, make her an auctioneer.
    await page.getByLabel('Search users').fill(una.email);
    await page.getByRole('button', { name: 'Change roles of Una Auctioneer' }).click();
    await page.getByRole('checkbox', { name: /auctioneer/ }).check();
    await page.getByRole('button', { name: 'Save roles' }).click();
    await expect.poll(() => page.getByTestId('user-saved').textContent(), POLL).toContain('Una Auctioneer: bidder, auctioneer');
    await expect.poll(() => page.getByTestId(`user-${una.email}`).textContent(), POLL).toContain('auctioneer');
    expect((await web.admin.call<{ roles: string[] }>('GET', `/api/user/${una.id}`)).roles).toEqual(['bidder', 'auctioneer']);

    // Categories: add one at the top level.
    await page.getByRole('link', { name: 'Categories' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Pocket watches');
    await page.getByRole('button', { name: 'Add category' }).click();
    await expect.poll(() => page.getByTestId('category-outcome').textContent(), POLL).toContain('Added “Pocket watches” (pocket-watches)');
    await expect.poll(() => page.getByTestId('category-pocket-watches').count(), POLL).toBe(1);
    const flat = await web.admin.call<{ items: Array<{ name: string; parentId: string | null }> }>('GET', '/api/categories?format=flat');
    expect(flat.items).toContainEqual(expect.objectContaining({ name: 'Pocket watches', parentId: null }));

    // Exchange rates: USD → EUR at 0.9215 with a 50 bps spread.
    await page.getByRole('link', { name: 'Exchange rates' }).click();
    await page.getByLabel('From (base)').selectOption('USD');
    await page.getByLabel('To (quote)').selectOption('EUR');
    await page.getByLabel('Rate', { exact: true }).fill('0.9215');
    await page.getByLabel('Spread (bps)').fill('50');
    await page.getByRole('button', { name: 'Set rate' }).click();
    await expect.poll(() => page.getByTestId('rate-USD-EUR').textContent(), POLL).toContain('0.9215');
    expect(await web.admin.call('GET', '/api/ledger/rates/USD/EUR')).toMatchObject({ rate: '0.9215', spreadBps: 50 });

    // Instruments: halt trading.
    await page.getByRole('link', { name: 'Instruments' }).click();
    await page.getByRole('button', { name: `Halt ${symbol}` }).click();
    await expect.poll(() => page.getByTestId(`instrument-${symbol}`).textContent(), POLL).toContain('halted');
    await expect.poll(() => page.getByTestId('instrument-outcome').textContent(), POLL).toContain(`Trading in ${symbol} is halted`);
    expect((await web.admin.call<{ status: string }>('GET', `/api/exchange/instruments/${symbol}`)).status).toBe('halted');

    // Dead letters: the unreadable purchase reply cannot be redriven; it is discarded after a confirmation.
    await page.getByRole('link', { name: 'Dead letters' }).click();
    const letters = page.getByRole('list', { name: 'Purchase dead letters' });
    await expect.poll(() => letters.textContent(), POLL).toContain('the payload is not an Avro envelope');
    expect(await letters.getByRole('button', { name: 'Redrive the message on purchases.reply.funds_held' }).isDisabled()).toBe(true);
    await letters.getByRole('button', { name: 'Discard the message on purchases.reply.funds_held' }).click();
    await letters.getByRole('button', { name: 'Discard', exact: true }).click();
    await expect.poll(() => page.getByTestId('purchase-letters-outcome').textContent(), POLL).toContain('Discarded the message on purchases.reply.funds_held');
    await expect.poll(() => page.getByText('None: every purchase message was read.').count(), POLL).toBe(1);
    expect((await web.admin.call<{ total: number }>('GET', '/api/admin/purchases/dead-letters')).total).toBe(0);

    // The ledger check: clean.
    await page.getByRole('link', { name: 'Ledger' }).click();
    await page.getByRole('button', { name: 'Run the check' }).click();
    await expect.poll(() => page.getByTestId('ledger-check').textContent(), POLL).toMatch(/^0 violations across \d+ accounts and \d+ transfers\.$/);
    expect(errors).toEqual([]);
  }, 120_000);

  it('at phone width the sections stay within the screen', async () => {
    const context = await signedInContext(web.browser, web.url, web.admin.token, { width: 390, height: 844 });
    const page = await context.newPage();
    const errors = watchErrors(page);
    for (const section of ['users', 'categories', 'instruments', 'rates', 'dead-letters', 'ledger']) {
      await page.goto(`/admin/${section}`);
      await expect.poll(() => page.getByRole('navigation', { name: 'Admin sections' }).count(), POLL).toBe(1);
      await page.waitForLoadState('networkidle');
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      expect(overflow, section).toBeLessThanOrEqual(0);
    }
    expect(errors).toEqual([]);
  }, 60_000);

  it('someone without the admin role sees no Admin link, and "not allowed" at /admin', async () => {
    const person = await newPerson(web.url, 'Nosy Parker');
    const context = await signedInContext(web.browser, web.url, person.api.token);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto('/admin/users');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), POLL).toBe('Not allowed');
    expect(await page.getByTestId('not-allowed').textContent()).toContain('Your account (Nosy Parker) does not have the admin role');
    expect(await page.getByRole('link', { name: 'Admin', exact: true }).count()).toBe(0);
    expect(await page.getByLabel('Search users').count()).toBe(0);
    expect(await page.title()).toBe('Not allowed · Gavel');
    // The API refuses too, whatever the page shows.
    await expect(person.api.call('GET', '/api/user')).rejects.toThrow(/403/);
    expect(errors).toEqual([]);
  }, 60_000);
});
