// The exchange's instruments, as the trading screen and the admin pages both read them.
import { api } from './api.js';

export interface Instrument {
  symbol: string;
  base: string;
  quote: string;
  tickSize: string;
  lotSize: string;
  minQuantity: string;
  maxQuantity: string;
  makerFeeBps: number;
  takerFeeBps: number;
  protectionBps: number;
  status: 'trading' | 'halted';
}

export const listInstruments = (signal?: AbortSignal) => api<{ items: Instrument[] }>('GET', '/api/exchange/instruments', signal ? { signal } : {});
