// Lists read a page at a time by cursor (useCursorPages): the end of any such list (a later
// page's failure, "Show more"), and a whole list of cards (the search, the shop) with its
// loading, failing, empty and loaded states and its count.
import type { ReactNode } from 'react';
import { messageOf } from '../lib/api.js';
import type { CursorPages } from '../lib/hooks.js';
import { Empty, ErrorNotice, SkeletonCards } from './Common.js';

export function PagedCards<T>({ pages, currentKey, load, noun, emptyTitle, empty, card }: {
  pages: CursorPages<T>;
  /** The key of the filters now shown: pages loaded for another key are not shown. */
  currentKey: string;
  load: (cursor: string | null) => void;
  /** What one card is, for the count: "auction" → "3 auctions". */
  noun: string;
  emptyTitle: string;
  empty: ReactNode;
  card: (item: T) => ReactNode;
}) {
  if (pages.error !== undefined && pages.items.length === 0) return <ErrorNotice error={pages.error} retry={() => load(null)} />;
  if (pages.key !== currentKey || (pages.loading && pages.items.length === 0)) return <SkeletonCards />;
  if (pages.items.length === 0) return <Empty title={emptyTitle}>{empty}</Empty>;
  return (
    <>
      <p className="muted small" role="status">
        {pages.items.length}
        {pages.cursor ? '+' : ''} {noun}
        {pages.items.length === 1 ? '' : 's'}
      </p>
      <div className="grid-cards">{pages.items.map(card)}</div>
      <MorePages pages={pages} load={load} spaced />
    </>
  );
}

/** Below a list: why the next page failed, and "Show more" while there is one. */
export function MorePages({ pages, load, spaced }: { pages: CursorPages<unknown>; load: (cursor: string | null) => void; spaced?: boolean }) {
  return (
    <>
      {pages.error !== undefined && <p className="notice danger">{messageOf(pages.error)}</p>}
      {pages.cursor && (
        <div className="cluster" style={{ justifyContent: 'center', ...(spaced && { marginTop: 24 }) }}>
          <button type="button" className="btn" disabled={pages.loading} onClick={() => load(pages.cursor)}>
            {pages.loading ? 'Loading…' : 'Show more'}
          </button>
        </div>
      )}
    </>
  );
}
