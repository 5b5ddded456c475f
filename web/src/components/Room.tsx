// An auction's room as the auction page and the console both show it: the history, newest first
// (bids, each page saying who and what in its own words, and the room's other moments: opened,
// fair warning, extended, closed), and the rostrum's messages.
import type { ReactNode } from 'react';
import { formatTime } from '../lib/format.js';
import type { ChatLine } from '../lib/room-feed.js';
import type { HistoryItem } from '../lib/room.js';

export function BidHistory({ items, testId, bidClassName, bidText }: { items: HistoryItem[]; testId: string; bidClassName?: (bid: HistoryItem) => string; bidText: (bid: HistoryItem) => ReactNode }) {
  return (
    <ol className="history" aria-label="Bids, newest first" data-testid={testId}>
      {items.map((h) => (
        <li key={h.seq} className={h.type === 'bid' ? bidClassName?.(h) : 'system'}>
          <span>{h.type === 'bid' ? bidText(h) : h.text}</span>
          <time dateTime={new Date(h.atMs).toISOString()}>{formatTime(h.atMs)}</time>
        </li>
      ))}
    </ol>
  );
}

export function RoomMessages({ lines, testId, live }: { lines: ChatLine[]; testId?: string; live?: boolean }) {
  return (
    <ul className="chat" data-testid={testId} aria-live={live ? 'polite' : undefined}>
      {lines.map((c) => (
        <li key={c.seq}>
          <b>{c.from}</b> <span className="small muted">{formatTime(c.atMs)}</span>
          <div>{c.text}</div>
        </li>
      ))}
    </ul>
  );
}
