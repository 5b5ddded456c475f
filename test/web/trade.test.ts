// A trade between two browsers: a seller's order rests on the book, a buyer picks its price
// from the book and buys part of it; both see the trade, their fills and the book change live,
// and the price chart's latest candle is the one the API holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { credit, HAVE_CHROMIUM, listInstrument, newPerson, POLL, signedInContext, useWebApp, watchErrors } from './support.js';

describe.skipIf(!HAVE_CHROMIUM)('web app: the trading screen in two browsers', () => {
  const web = useWebApp({ beforeAll, afterAll });

  interface Candle {
    start: string;
    open: string;
    high: string;
    low: string;
    close: string;
    volume: string;
    trades: number;
  }
  const chartSummary = (page: Page) => page.getByTestId('price-chart').locator('.chart-summary').textContent();
  const chartRows = (page: Page) => page.getByTestId('price-chart').locator('table tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('th, td')].map((c) => c.textContent?.trim())));
  /** The chart's table as it should read: the API's candles, newest first, in the page's formats. */
  const rowsOf = (page: Page, candles: Candle[]) =>
    page.evaluate(
      (items) => {
        const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
        const usd = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD' });
        return [...items].reverse().map((c) => [time.format(new Date(c.start)), ...[c.open, c.high, c.low, c.close].map((p) => usd.format(p as unknown as number)), c.volume, String(c.trades)]);
      },
      candles,
    );

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
    let candleReads = 0;
    buyerPage.on('request', (r) => {
      if (r.url().includes('/candles')) candleReads += 1;
    });
    await Promise.all([sellerPage.goto(`/trade/${symbol}`), buyerPage.goto(`/trade/${symbol}`)]);
    await expect.poll(() => buyerPage.getByText('The book is empty').count(), POLL).toBe(1);
    await expect.poll(() => chartSummary(buyerPage), POLL).toMatch(/^No ACME traded in the last hour/);
    const readsBeforeTrading = candleReads;

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

    // The price chart: the trade started a candle whose close is the price, and the chart's
    // table lists the candle the API holds for that minute — followed from the trades feed,
    // not by asking for the candles again.
    const candles = await buyer.api.call<{ items: Candle[] }>('GET', `/api/exchange/instruments/${symbol}/candles`);
    expect(candles.items).toEqual([expect.objectContaining({ open: '50.00', close: '50.00', volume: '4', trades: 1 })]);
    for (const page of [sellerPage, buyerPage]) {
      await expect.poll(() => chartSummary(page), POLL).toMatch(/^Last \$50\.00, unchanged from \$50\.00 over the last hour; .* 4 ACME in 1 trade/);
      await expect.poll(() => chartRows(page), POLL).toEqual(await rowsOf(page, candles.items));
    }
    expect(candleReads).toBe(readsBeforeTrading);

    // The seller cancels the rest: the order leaves both the list and the buyer's book.
    await sellerPage.getByRole('button', { name: 'Cancel sell order at 50.00' }).click();
    await expect.poll(() => sellerPage.getByText('No open orders.').count(), POLL).toBe(1);
    await expect.poll(() => bookRows(buyerPage, 'ask'), POLL).toEqual([]);

    // The server agrees: 4 ACME for 200.00 USD plus the 0.2 % taker fee.
    const wallets = await buyer.api.call<{ items: Array<{ currency: string; available: string }> }>('GET', '/api/wallets');
    expect(wallets.items).toEqual(expect.arrayContaining([expect.objectContaining({ currency: 'ACME', available: '4' }), expect.objectContaining({ currency: 'USD', available: '799.60' })]));

    // A second trade at a higher price: the current candle (or the next minute's) follows it live.
    const order = { symbol, type: 'limit', price: '51.00', quantity: '1' };
    await seller.api.call('POST', '/api/exchange/orders', { ...order, side: 'sell' }, { 'idempotency-key': `s-${symbol}` });
    await buyer.api.call('POST', '/api/exchange/orders', { ...order, side: 'buy' }, { 'idempotency-key': `b-${symbol}` });
    await expect.poll(() => buyerPage.getByTestId('last-price').textContent(), POLL).toBe('$51.00');
    const after = await buyer.api.call<{ items: Candle[] }>('GET', `/api/exchange/instruments/${symbol}/candles`);
    expect(after.items.at(-1)).toMatchObject({ close: '51.00', high: '51.00' });
    await expect.poll(() => chartRows(buyerPage), POLL).toEqual(await rowsOf(buyerPage, after.items));
    await expect.poll(() => chartSummary(buyerPage), POLL).toMatch(/^Last \$51\.00, up \$1\.00 \(2\.0 %\) from \$50\.00 over the last hour; low \$50\.00, high \$51\.00; 5 ACME in 2 trades/);
    expect(candleReads).toBe(readsBeforeTrading);

    // On a phone the chart fits the screen, and the time shown can be changed.
    await buyerPage.setViewportSize({ width: 390, height: 844 });
    await buyerPage.getByRole('radio', { name: '6 h' }).check();
    await expect.poll(() => buyerPage.getByTestId('price-chart').locator('figcaption').textContent(), POLL).toBe('ACME price in USD, the last 6 hours');
    await expect.poll(async () => (await chartRows(buyerPage))[0]?.[4], POLL).toBe('$51.00');
    const box = await buyerPage.getByTestId('price-chart').locator('svg').boundingBox();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    expect(errors.flat()).toEqual([]);
  }, 90_000);
});
