import { describe, expect, it } from 'vitest';
import { decideReservation, mergeItems, nextStock, STOCK_MAX, type Product } from './products.js';

const product = (over: Partial<Product>): Product => ({
  id: 'p1',
  sellerId: 'seller',
  title: 'Mug',
  description: '',
  categoryId: 'c',
  currency: 'USD',
  priceMinor: 1250n,
  stock: 5,
  reserved: 0,
  available: 5,
  archivedAtMs: null,
  createdAtMs: 0,
  updatedAtMs: 0,
  ...over,
});

describe('reservation decisions', () => {
  const products = new Map([
    ['p1', product({ id: 'p1' })],
    ['p2', product({ id: 'p2', stock: 3, reserved: 2, available: 1 })],
    ['gone', product({ id: 'gone', archivedAtMs: 1 })],
    ['eur', product({ id: 'eur', currency: 'EUR' })],
  ]);
  const decide = (items: Array<{ productId: string; quantity: number }>, buyerId = 'buyer', currency = 'USD') => decideReservation({ buyerId, currency, items }, products);

  it('gives one line per item at the current price', () => {
    expect(decide([{ productId: 'p1', quantity: 2 }, { productId: 'p2', quantity: 1 }])).toEqual({
      ok: true,
      lines: [
        { productId: 'p1', sellerId: 'seller', title: 'Mug', currency: 'USD', unitPriceMinor: 1250n, quantity: 2 },
        { productId: 'p2', sellerId: 'seller', title: 'Mug', currency: 'USD', unitPriceMinor: 1250n, quantity: 1 },
      ],
    });
  });

  it('counts available units, not stock: reserved ones are spoken for', () => {
    expect(decide([{ productId: 'p2', quantity: 2 }])).toMatchObject({ ok: false, code: 'OUT_OF_STOCK', productId: 'p2' });
  });

  it('the first item that cannot be had decides the refusal', () => {
    expect(decide([{ productId: 'p1', quantity: 9 }, { productId: 'nope', quantity: 1 }])).toMatchObject({ code: 'OUT_OF_STOCK', productId: 'p1' });
    expect(decide([{ productId: 'nope', quantity: 1 }, { productId: 'p1', quantity: 9 }])).toMatchObject({ code: 'PRODUCT_NOT_FOUND', productId: 'nope' });
    expect(decide([{ productId: 'gone', quantity: 1 }])).toMatchObject({ code: 'PRODUCT_UNAVAILABLE' });
    expect(decide([{ productId: 'eur', quantity: 1 }])).toMatchObject({ code: 'CURRENCY_MISMATCH' });
    expect(decide([{ productId: 'p1', quantity: 1 }], 'seller')).toMatchObject({ code: 'OWN_PRODUCT' });
  });

  it('repeated product ids are added together, in first-seen order', () => {
    expect(mergeItems([{ productId: 'a', quantity: 1 }, { productId: 'b', quantity: 2 }, { productId: 'a', quantity: 3 }])).toEqual([
      { productId: 'a', quantity: 4 },
      { productId: 'b', quantity: 2 },
    ]);
  });
});

describe('stock changes', () => {
  it('never below what is reserved, never below zero, never above the maximum', () => {
    const p = { stock: 10, reserved: 4 };
    expect(nextStock(p, { set: 4 })).toEqual({ ok: true, stock: 4 });
    expect(nextStock(p, { add: -6 })).toEqual({ ok: true, stock: 4 });
    expect(nextStock(p, { set: 3 })).toMatchObject({ ok: false, code: 'STOCK_BELOW_RESERVED' });
    expect(nextStock(p, { add: -7 })).toMatchObject({ ok: false, code: 'STOCK_BELOW_RESERVED' });
    expect(nextStock({ stock: 2, reserved: 0 }, { add: -3 })).toMatchObject({ ok: false, code: 'STOCK_BELOW_RESERVED' });
    expect(nextStock(p, { add: STOCK_MAX })).toMatchObject({ ok: false, code: 'STOCK_TOO_LARGE' });
  });
});
