// Short messages at the corner of the screen (outbid, a top-up arrived, a fill), read out by
// screen readers through a polite live region. At most 4 at once; each leaves after 7 s.
import { createStore } from './store.js';

export interface Toast {
  id: number;
  tone: 'info' | 'success' | 'warning' | 'danger';
  title: string;
  body?: string;
  href?: string;
}

export const toasts = createStore<Toast[]>([]);
const TOASTS_MAX = 4;
const TOAST_MS = 7000;
let nextId = 1;

export function toast(t: Omit<Toast, 'id'>): void {
  const id = nextId++;
  toasts.set((list) => [...list, { ...t, id }].slice(-TOASTS_MAX));
  setTimeout(() => dismiss(id), TOAST_MS);
}

export function dismiss(id: number): void {
  toasts.set((list) => list.filter((t) => t.id !== id));
}
