// Client-side routes on the History API: no library, a store holding the location, and a Link
// that navigates without a reload (modified clicks still open new tabs as usual).
import type { AnchorHTMLAttributes, MouseEvent } from 'react';
import { createStore, useStore } from './store.js';

export interface AppLocation {
  path: string;
  search: string;
}

const here = (): AppLocation => ({ path: window.location.pathname, search: window.location.search });
export const locationStore = createStore<AppLocation>(here());
window.addEventListener('popstate', () => locationStore.set(here()));

export function navigate(to: string, options: { replace?: boolean; keepScroll?: boolean } = {}): void {
  const url = new URL(to, window.location.href);
  const next = url.pathname + url.search;
  if (next === window.location.pathname + window.location.search) return;
  if (options.replace) window.history.replaceState(null, '', next);
  else window.history.pushState(null, '', next);
  locationStore.set(here());
  if (!options.keepScroll) window.scrollTo(0, 0);
}

export function useLocation(): AppLocation {
  return useStore(locationStore);
}

export function useQuery(): URLSearchParams {
  return new URLSearchParams(useLocation().search);
}

/** `path` with the query `search` after `changes`: a null or empty value removes its key. */
export function hrefWithQuery(path: string, search: string, changes: Record<string, string | null>): string {
  const next = new URLSearchParams(search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === '') next.delete(k);
    else next.set(k, v);
  }
  const text = next.toString();
  return `${path}${text ? `?${text}` : ''}`;
}

export function Link({ to, onClick, ...props }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || props.target) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...props} />;
}

/** Matches "/auctions/:id" style patterns; the params, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const names: string[] = [];
  const source = pattern.replace(/:([a-zA-Z]+)/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  const found = new RegExp(`^${source}/?$`).exec(path);
  if (!found) return null;
  const params: Record<string, string> = {};
  names.forEach((name, i) => {
    params[name] = decodeURIComponent(found[i + 1]!);
  });
  return params;
}
