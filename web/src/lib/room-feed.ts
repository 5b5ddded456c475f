// One auction's room followed live, as the auction page and the auctioneer's console both show
// it: the page's view, then the socket's snapshot and events, and the replay for the history
// and messages from before the page was opened.
import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from './api.js';
import type { LiveView } from './auctions.js';
import { realtime } from './realtime.js';
import { foldLive, historyItemOf, mergeHistory, roomEventsOfReplay, type HistoryItem, type RoomEvent } from './room.js';

/** A message from the rostrum (the auctioneer or a clerk) to the room. */
export interface ChatLine {
  seq: number;
  atMs: number;
  from: string;
  text: string;
}

export interface RoomFeed {
  live: LiveView;
  history: HistoryItem[];
  chat: ChatLine[];
  /** A view read elsewhere (a REST answer) replaces the live one unless it is older. */
  offerLive(view: LiveView): void;
}

/**
 * Follows the room of auction `id`, starting from `initialLive`. Events are folded in once and
 * in order whether they come from the socket or the replay; `onEvent` hears each event from
 * the socket after it was applied (the latest `onEvent` given, without resubscribing).
 */
export function useRoomFeed(id: string, initialLive: LiveView, scale: number, onEvent: (event: RoomEvent) => void): RoomFeed {
  const [live, setLive] = useState<LiveView>(initialLive);
  const [history, setHistory] = useState<HistoryItem[]>([]);
  const [chat, setChat] = useState<ChatLine[]>([]);
  const onEventRef = useRef(onEvent);
  onEventRef.current = onEvent;
  const offerLive = useCallback((view: LiveView) => setLive((prev) => (view.seq >= prev.seq ? view : prev)), []);

  useEffect(() => {
    const apply = (events: RoomEvent[]) => {
      setLive((prev) => events.reduce(foldLive, prev));
      const items = events.map(historyItemOf).filter((i): i is HistoryItem => i !== null);
      if (items.length) setHistory((h) => mergeHistory(h, items));
      const lines = events.filter((e) => e.type === 'Chat').map((e) => ({ seq: e.seq, atMs: e.atMs, from: e.from ?? 'auctioneer', text: e.text ?? '' }));
      if (lines.length) setChat((c) => [...c.filter((l) => !lines.some((n) => n.seq === l.seq)), ...lines].sort((a, b) => a.seq - b.seq));
    };
    const unsubscribe = realtime.subscribe(`auction:${id}`, {
      onSnapshot: offerLive,
      onEvent: (event: RoomEvent) => {
        apply([event]);
        onEventRef.current(event);
      },
    });
    let cancelled = false;
    api<{ view: 'room' | 'full'; entries: Array<{ seq: number; atMs: number; type: string; event: Record<string, unknown> }> }>('GET', `/api/auctions/${id}/replay`).then(
      (replay) => {
        if (!cancelled) apply(roomEventsOfReplay(replay, scale));
      },
      () => {},
    );
    return () => {
      cancelled = true;
      unsubscribe();
    };
  }, [id, scale, offerLive]);

  return { live, history, chat, offerLive };
}
