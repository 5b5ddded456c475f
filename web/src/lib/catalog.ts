// The category tree, loaded once per page load (it changes rarely; the server sends it whole).
import { api } from './api.js';
import { createStore } from './store.js';

export interface Category {
  id: string;
  parentId: string | null;
  name: string;
  slug: string;
  path: string;
  depth: number;
  children: Category[];
}

export const categories = createStore<{ tree: Category[]; byId: Map<string, Category>; loaded: boolean }>({ tree: [], byId: new Map(), loaded: false });

let loading: Promise<void> | undefined;
export function loadCategories(): Promise<void> {
  loading ??= api<{ items: Category[] }>('GET', '/api/categories').then(
    (r) => {
      const byId = new Map<string, Category>();
      const walk = (list: Category[]) => {
        for (const c of list) {
          byId.set(c.id, c);
          walk(c.children);
        }
      };
      walk(r.items);
      categories.set({ tree: r.items, byId, loaded: true });
    },
    () => {
      loading = undefined;
    },
  );
  return loading;
}

/** The category and its ancestors, top level first. */
export function pathOf(id: string | null | undefined): Category[] {
  const { byId } = categories.get();
  const out: Category[] = [];
  for (let c = id ? byId.get(id) : undefined; c; c = c.parentId ? byId.get(c.parentId) : undefined) out.unshift(c);
  return out;
}
