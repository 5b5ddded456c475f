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

/** Every category once, parents before their children. */
export function flattenCategories(tree: Category[]): Category[] {
  const out: Category[] = [];
  const walk = (list: Category[]) => {
    for (const c of list) {
      out.push(c);
      walk(c.children);
    }
  };
  walk(tree);
  return out;
}

/** Puts a tree read from the server in the store (the header's menu and every picker follow). */
export function publishCategories(tree: Category[]): void {
  categories.set({ tree, byId: new Map(flattenCategories(tree).map((c) => [c.id, c])), loaded: true });
}

let loading: Promise<void> | undefined;
export function loadCategories(): Promise<void> {
  loading ??= api<{ items: Category[] }>('GET', '/api/categories').then(
    (r) => publishCategories(r.items),
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
