// A trade between two browsers: a seller's order rests on the book, a buyer picks its price
// from the book and buys part of it; both see the trade, their fills and the book change live.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { credit, HAVE_CHROMIUM, listInstrument, newPerson, POLL, signedInContext, useWebApp, watchErrors } from './support.js';

describe.skipIf(!HAVE_CHROMIUM)('web app: the trading screen in two browsers', () => {
  const web = useWebApp({ beforeAll, afterAll });

  const bookRows = (page: Page, side: 'ask' | 'bid') => page.locator(`[data-testid=order-book] tr.${side}`).evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent?.trim())));

  it('a resting sell and a buy from another browser trade; both sides see it at once', async () => {
    const symbol = await listInstrument(web.admin);
    const seller = await newPerson(web.url, 'Sally Seller');
    const buyer = await newPerson(web.url, 'Bob Buyer');
    await credit(web.admin, seller.id, 'ACME', '100');
    await credit(web.admin, buyer.id, 'USD', '1000.00');
    const sellerPage = await (await signedInContext(web.browser, web.url, seller.api.token)).newPage();
    const buyerPage = await (await signedInContext(web.browser, web.url, buyer.api.token)).newPage();
    const errors = [...[sellerPage, buyerPage].map(watchErrors)];
    await Promise.all([sellerPage.goto(`/trade/${symbol}`), buyerPage.goto(`/trade/${symbol}`)]);
    await expect.poll(() => buyerPage.getByText('The book is empty').count(), POLL).toBe(1);

    // The seller's limit order rests; the buyer's book shows it.
    await sellerPage.getByRole('radio', { name: 'Sell ACME' }).check();
    await sellerPage.getByLabel('Price (USD)').fill('50.00');
    await sellerPage.getByLabel('Quantity (ACME)').fill('10');
    await sellerPage.getByRole('button', { name: 'Sell ACME' }).click();
    await expect.poll(() => sellerPage.getByTestId('order-result').textContent(), POLL).toContain('rests on the book at 50.00');
    await expect.poll(() => bookRows(buyerPage, 'ask'), POLL).toEqual([['50.00', '10']]);

    // The buyer takes the price from the book and buys 4.
    await buyerPage.getByRole('button', { name: 'Use price 50.00' }).click();
    expect(await buyerPage.getByLabel('Price (USD)').inputValue()).toBe('50.00');
    await buyerPage.getByLabel('Quantity (ACME)').fill('4');
    await buyerPage.getByRole('button', { name: 'Buy ACME' }).click();
    await expect.poll(() => buyerPage.getByTestId('order-result').textContent(), POLL).toContain('Filled: bought 4 ACME at 50.00');

    // Both screens: the trade, the book's remaining 6, and each side's own fill.
    for (const page of [sellerPage, buyerPage]) {
      await expect.poll(() => page.getByTestId('last-price').textContent(), POLL).toBe('$50.00');
      await expect.poll(() => bookRows(page, 'ask'), POLL).toEqual([['50.00', '6']]);
    }
    await expect.poll(() => sellerPage.getByTestId('my-fills').locator('tbody tr').first().textContent(), POLL).toMatch(/sell\s*maker50\.004/);
    await expect.poll(() => buyerPage.getByTestId('my-fills').locator('tbody tr').first().textContent(), POLL).toMatch(/buy\s*taker50\.004/);
    await expect.poll(() => sellerPage.getByTestId('open-orders').locator('tbody tr').first().textContent(), POLL).toContain('4 / 10');

    // The seller cancels the rest: the order leaves both the list and the buyer's book.
    await sellerPage.getByRole('button', { name: 'Cancel sell order at 50.00' }).click();
    await expect.poll(() => sellerPage.getByText('No open orders.').count(), POLL).toBe(1);
    await expect.poll(() => bookRows(buyerPage, 'ask'), POLL).toEqual([]);

    // The server agrees: 4 ACME for 200.00 USD plus the 0.2 % taker fee.
    const wallets = await buyer.api.call<{ items: Array<{ currency: string; available: string }> }>('GET', '/api/wallets');
    expect(wallets.items).toEqual(expect.arrayContaining([expect.objectContaining({ currency: 'ACME', available: '4' }), expect.objectContaining({ currency: 'USD', available: '799.60' })]));
    expect(errors.flat()).toEqual([]);
  }, 90_000);
});
