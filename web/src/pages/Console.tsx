// The auctioneer's console for live sales. `/console` lists the sales the signed-in person runs
// (as auctioneer or clerk); `/console/{id}` is the rostrum: open the sale, set the asking price,
// enter floor bids by paddle, fair warning, the hammer (confirmed first), pause and resume,
// messages to the room, the next lot. Beside it, the room as the bidders see it, live over the
// WebSocket. Big controls and one-letter shortcuts: it is used standing at a rostrum.
import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent as ReactKeyboardEvent, type ReactNode, type RefObject } from 'react';
import { StatusBadge } from '../components/AuctionCard.js';
import { BidHistory, RoomMessages } from '../components/Room.js';
import { Empty, ErrorNotice, Field, SignInPrompt } from '../components/Common.js';
import { ApiError, api, messageOf } from '../lib/api.js';
import type { AuctionPage, LiveView } from '../lib/auctions.js';
import {
  amountProblem,
  CHAT_MAX_CHARS,
  leaderText,
  loadConsoleSales,
  nextSaleAfter,
  PADDLE,
  runConsole,
  SHORTCUTS,
  shortcutKey,
  shortcutOf,
  type ConsoleAction,
  type ConsoleSale,
  type ShortcutCommand,
  type StaffRole,
} from '../lib/console.js';
import { formatDateTime } from '../lib/format.js';
import { useInterval, useResource, useTitle } from '../lib/hooks.js';
import { formatMoney, scaleOf } from '../lib/money.js';
import { useRoomFeed, type ChatLine } from '../lib/room-feed.js';
import type { HistoryItem } from '../lib/room.js';
import { Link, navigate } from '../lib/router.js';
import { useSession } from '../lib/session.js';

type ConsolePageData = AuctionPage & { staffRole: StaffRole | null };

interface Feedback {
  tone: 'success' | 'danger' | 'warning';
  text: string;
}

export function ConsolePage({ id }: { id?: string }) {
  const session = useSession();
  if (session.status === 'anonymous') {
    return (
      <div className="page">
        <SignInPrompt what="the auctioneer's console" />
      </div>
    );
  }
  if (session.status === 'loading') return <div className="page skeleton" style={{ height: 420 }} aria-busy="true" />;
  return id ? <SaleConsole key={id} id={id} /> : <ConsoleList />;
}

// --- /console: the sales to run -------------------------------------------------------------------

function ConsoleList() {
  useTitle("Auctioneer's console");
  const session = useSession();
  const sales = useResource(`console|${session.token ?? ''}`, (signal) => loadConsoleSales(signal));
  useInterval(sales.reload, 15_000);
  return (
    <div className="page stack">
      <div>
        <h1>Auctioneer's console</h1>
        <p className="muted">
          The live sales you run, as their auctioneer or a clerk: open ones first, then by start time. A seller names the auctioneer and clerks when creating a live auction; each sale sells one lot.
        </p>
      </div>
      {sales.error !== undefined && <ErrorNotice error={sales.error} retry={sales.reload} />}
      {!sales.data ? (
        sales.error === undefined && <div className="skeleton" style={{ height: 160 }} aria-busy="true" />
      ) : sales.data.length === 0 ? (
        <Empty title="No live sales to run">
          <p className="muted">When a seller names you as the auctioneer or a clerk of a live auction, it appears here until the hammer falls.</p>
          <Link to="/auctions?kind=live">See live auctions</Link>
        </Empty>
      ) : (
        <ul className="console-sales" aria-label="Your live sales">
          {sales.data.map((sale) => (
            <SaleCard key={sale.auction.id} sale={sale} />
          ))}
        </ul>
      )}
    </div>
  );
}

function SaleCard({ sale }: { sale: ConsoleSale }) {
  const { auction, live, role } = sale;
  const to = `/console/${auction.id}`;
  return (
    <li className="panel tight console-sale" data-testid="console-sale">
      <div className="stack">
        <div className="cluster">
          <StatusBadge auction={live} />
          {live.status === 'open' && <span className={`badge ${live.phase === 'asking' ? 'info' : 'warning'}`}>{phaseWord(live)}</span>}
          <span className="badge">{role === 'auctioneer' ? 'You are the auctioneer' : 'You are a clerk'}</span>
        </div>
        <h2 className="h3" style={{ margin: 0 }}>
          <Link to={to}>{auction.title}</Link>
        </h2>
        <div className="facts">
          <span>
            Advertised start <strong>{formatDateTime(live.startsAt)}</strong>
          </span>
          <span>
            {live.price === null ? 'Starting' : 'Current bid'} <strong>{formatMoney(live.price ?? live.startingPrice, live.currency)}</strong>
          </span>
          <span>
            <strong>{live.bidCount}</strong> bid{live.bidCount === 1 ? '' : 's'}
          </span>
          <span>
            <strong>{live.participantCount}</strong> online
          </span>
        </div>
      </div>
      <Link className="btn primary large" to={to} aria-label={`${role === 'auctioneer' ? 'Run' : 'Clerk'} ${auction.title}`}>
        {role === 'auctioneer' ? 'Run this sale' : 'Clerk this sale'}
      </Link>
    </li>
  );
}

function phaseWord(live: Pick<LiveView, 'status' | 'phase' | 'outcome'>): string {
  if (live.status === 'scheduled') return 'Not open yet';
  if (live.status === 'cancelled') return 'Cancelled';
  if (live.status === 'closed') return live.outcome === 'sold' ? 'Sold' : 'Passed';
  if (live.phase === 'fairWarning') return 'Fair warning';
  if (live.phase === 'paused') return 'Paused';
  return 'Taking bids';
}

// --- /console/{id}: the rostrum -----------------------------------------------------------------

function SaleConsole({ id }: { id: string }) {
  const session = useSession();
  const page = useResource(`${id}|${session.token ?? ''}`, (signal) => api<ConsolePageData>('GET', `/api/auctions/${id}`, { signal }));
  useTitle(page.data ? `Console: ${page.data.auction.title}` : "Auctioneer's console");
  if (page.error !== undefined && !page.data) {
    return (
      <div className="page stack">
        <ErrorNotice error={page.error} retry={page.reload} />
        <Link to="/console">Back to the console</Link>
      </div>
    );
  }
  if (!page.data) return <div className="page skeleton" style={{ height: 520 }} aria-busy="true" />;
  return <Rostrum initial={page.data} />;
}

/** The room, live (useRoomFeed), with the ladder's next amounts and a flash on each new price. */
function useRoom(initial: ConsolePageData, scale: number, onEnded: () => void) {
  const id = initial.auction.id;
  const [nextBids, setNextBids] = useState<string[]>(initial.nextBids);
  const [flash, setFlash] = useState(0);

  // The exact next ladder amounts after the price or the asking price moved: one request, soon after.
  const refreshTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const refreshSoon = useCallback(() => {
    clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(() => {
      api<ConsolePageData>('GET', `/api/auctions/${id}`).then(
        (p) => {
          setNextBids(p.nextBids);
          offerLive(p.live);
        },
        () => {},
      );
    }, 150);
  }, [id]);
  useEffect(() => () => clearTimeout(refreshTimer.current), []);

  const { live, history, chat, offerLive } = useRoomFeed(id, initial.live, scale, (event) => {
    if (event.type === 'PriceChanged') setFlash((f) => f + 1);
    if (event.type === 'PriceChanged' || event.type === 'AskingSet') refreshSoon();
    if (event.type === 'AuctionClosed' || event.type === 'AuctionCancelled') onEnded();
  });

  return { live, nextBids, history, chat, flash, refreshSoon };
}

/** One-letter shortcuts while the page is up (see shortcutOf: never while typing in a field). */
function useShortcuts(enabled: boolean, commands: Record<ShortcutCommand, () => void>) {
  const commandsRef = useRef(commands);
  commandsRef.current = commands;
  useEffect(() => {
    if (!enabled) return;
    const onKey = (e: KeyboardEvent) => {
      const command = shortcutOf(e);
      if (!command) return;
      // Focusing a field must not type the letter into it; a held key repeats, but acts once.
      e.preventDefault();
      if (e.repeat) return;
      commandsRef.current[command]();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [enabled]);
}

function Rostrum({ initial }: { initial: ConsolePageData }) {
  const { auction, staffRole: role } = initial;
  const id = auction.id;
  const scale = scaleOf(auction.currency, auction.startingPrice);
  const money = (amount: string | null | undefined) => formatMoney(amount, auction.currency);
  const [sales, setSales] = useState<ConsoleSale[]>([]);
  const reloadSales = useCallback(() => {
    if (role) loadConsoleSales().then(setSales, () => {});
  }, [role]);
  useEffect(reloadSales, [reloadSales]);
  const { live, nextBids, history, chat, flash, refreshSoon } = useRoom(initial, scale, reloadSales);
  const [feedback, setFeedback] = useState<Feedback | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const hammerDialog = useRef<HTMLDialogElement>(null);
  const askingInput = useRef<HTMLInputElement>(null);
  const paddleInput = useRef<HTMLInputElement>(null);
  const chatInput = useRef<HTMLInputElement>(null);
  const rostrum = useRef<HTMLElement>(null);
  // After a field is sent, focus returns to the rostrum so the next key is a shortcut again.
  const backToRostrum = useCallback(() => rostrum.current?.focus({ preventScroll: true }), []);

  const act: Act = async (body, done) => {
    // One action at a time: a key pressed twice sends it once.
    if (busy !== null) return false;
    setBusy(body.action);
    setFeedback(null);
    try {
      await runConsole(id, body);
      setFeedback({ tone: 'success', text: done });
      return true;
    } catch (error) {
      const text = messageOf(error);
      setFeedback({ tone: 'danger', text: text.charAt(0).toUpperCase() + text.slice(1) });
      if (error instanceof ApiError && error.code === 'BID_TOO_LOW') refreshSoon();
      return false;
    } finally {
      setBusy(null);
    }
  };

  const open = live.status === 'open';
  const paused = open && live.phase === 'paused';
  const over = live.status === 'closed' || live.status === 'cancelled';
  const auctioneer = role === 'auctioneer';
  const canAct = role !== null && !over;
  const next = nextSaleAfter(sales, id);
  const commands: Record<ShortcutCommand, () => void> = {
    open: () => {
      if (auctioneer && live.status === 'scheduled') void act({ action: 'open' }, 'The sale is open: bids are taken, online and from the floor.');
    },
    asking: () => auctioneer && askingInput.current?.focus(),
    'floor-bid': () => paddleInput.current?.focus(),
    'fair-warning': () => {
      if (auctioneer && open && !paused) void act({ action: 'fair-warning' }, 'Fair warning given: the room sees "Fair warning — last call!". The hammer is next.');
    },
    hammer: () => {
      if (!auctioneer || !open) return;
      if (live.phase !== 'fairWarning') setFeedback({ tone: 'warning', text: `Give fair warning first (${shortcutKey('fair-warning')}): the online bidders get a last call before the hammer.` });
      else hammerDialog.current?.showModal();
    },
    pause: () => {
      if (!auctioneer || !open) return;
      if (paused) void act({ action: 'resume' }, 'The sale is resumed: give fair warning again before the hammer.');
      else void act({ action: 'pause' }, 'The sale is paused: no bids until you resume.');
    },
    chat: () => chatInput.current?.focus(),
    next: () => {
      if (next) navigate(`/console/${next.auction.id}`);
    },
  };
  useShortcuts(role !== null, commands);
  const forms = { live, scale, money, busy: busy !== null, act, onSent: backToRostrum };

  return (
    <div className="page console" data-testid="console">
      <RostrumHeading initial={initial} live={live} />
      <div className="console-layout">
        <section ref={rostrum} tabIndex={-1} className="panel stack console-rostrum" aria-label="Rostrum">
          <SaleState live={live} money={money} flash={flash} />
          {canAct && auctioneer && <SaleButtons live={live} busy={busy !== null} commands={commands} />}
          <div aria-live="polite" aria-atomic="true">
            {feedback && (
              <p className={`notice ${feedback.tone}`} data-testid="console-feedback">
                {feedback.text}
              </p>
            )}
          </div>
          {canAct && auctioneer && <AskingForm inputRef={askingInput} nextBids={nextBids} {...forms} />}
          {canAct && <FloorBidForm inputRef={paddleInput} {...forms} />}
          {canAct && <ChatForm inputRef={chatInput} {...forms} />}
          {role && <NextLot next={next} over={over} onNext={commands.next} />}
        </section>
        <aside className="stack" aria-label="The room">
          <RoomView live={live} history={history} chat={chat} money={money} />
          {role && <Shortcuts role={role} />}
        </aside>
      </div>
      <HammerDialog dialogRef={hammerDialog} live={live} money={money} busy={busy !== null} act={act} warn={(text) => setFeedback({ tone: 'warning', text })} />
    </div>
  );
}

function RostrumHeading({ initial, live }: { initial: ConsolePageData; live: LiveView }) {
  const { auction, staffRole: role } = initial;
  return (
    <>
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumbs">
          <li>
            <Link to="/console">Console</Link>
          </li>
          <li>
            <Link to={`/auctions/${auction.id}`}>Bidders' page</Link>
          </li>
        </ol>
      </nav>
      <div className="spread" style={{ marginBottom: 'var(--s4)' }}>
        <h1 style={{ margin: 0 }}>{auction.title}</h1>
        <div className="cluster">
          <StatusBadge auction={live} />
          {role && <span className="badge">{role === 'auctioneer' ? 'Auctioneer' : 'Clerk'}</span>}
        </div>
      </div>
      {auction.kind !== 'live' ? (
        <p className="notice">This is a timed auction: it opens and closes by itself, with no auctioneer.</p>
      ) : role === null ? (
        <p className="notice warning">You do not run this sale: only its auctioneer (and, for floor bids and messages, its clerks) can use the console. Below is the room as the bidders see it.</p>
      ) : role === 'clerk' ? (
        <p className="notice">You are a clerk of this sale: you enter floor bids and talk to the room. The auctioneer opens, asks, warns and brings down the hammer.</p>
      ) : null}
    </>
  );
}

/** Open, fair warning, hammer, pause/resume: the auctioneer's big buttons. */
function SaleButtons({ live, busy, commands }: { live: LiveView; busy: boolean; commands: Record<ShortcutCommand, () => void> }) {
  const open = live.status === 'open';
  const paused = open && live.phase === 'paused';
  return (
    <>
      <div className="console-actions" role="group" aria-label="Run the sale">
        {live.status === 'scheduled' && (
          <ShortcutButton command="open" className="btn primary xl" disabled={busy} onClick={commands.open}>
            Open the sale
          </ShortcutButton>
        )}
        <ShortcutButton command="fair-warning" className="btn warning xl" disabled={busy || !open || paused} onClick={commands['fair-warning']}>
          Fair warning
        </ShortcutButton>
        <ShortcutButton command="hammer" className="btn dark xl" disabled={busy || !open || live.phase !== 'fairWarning'} onClick={commands.hammer}>
          Hammer…
        </ShortcutButton>
        <ShortcutButton command="pause" className="btn xl" disabled={busy || !open} onClick={commands.pause}>
          {paused ? 'Resume' : 'Pause'}
        </ShortcutButton>
      </div>
      {open && live.phase === 'asking' && (
        <p className="small muted" style={{ margin: 0 }}>
          The hammer follows a fair warning ({shortcutKey('fair-warning')}); a bid after the warning puts the sale back to taking bids.
        </p>
      )}
    </>
  );
}

/**
 * The hammer, confirmed: the dialog names the winner and the price (or says the lot is passed).
 * A bid or a pause while it is up closes it: the warning must then be given again.
 */
function HammerDialog(props: { dialogRef: RefObject<HTMLDialogElement | null>; live: LiveView; money: (a: string | null | undefined) => string; busy: boolean; act: Act; warn: (text: string) => void }) {
  const { dialogRef, live, money, busy, act } = props;
  const warnRef = useRef(props.warn);
  warnRef.current = props.warn;
  const sold = live.leader !== null && (!live.hasReserve || live.reserveMet);
  useEffect(() => {
    const dialog = dialogRef.current;
    if (!dialog?.open || (live.status === 'open' && live.phase === 'fairWarning')) return;
    dialog.close();
    if (live.status === 'open') warnRef.current('The sale moved on (a new bid, or a pause) while the hammer waited: give fair warning again before the hammer.');
  }, [dialogRef, live.status, live.phase, live.seq]);
  const confirm = async () => {
    await act({ action: 'hammer' }, sold ? `Sold to ${live.leader} for ${money(live.price)}.` : 'The lot is passed: no sale.');
    // Closed either way: a refusal (a bid came in first) shows beside the controls.
    dialogRef.current?.close();
  };
  const where = live.leaderSource === 'floor' ? 'on the floor' : 'online';
  return (
    <dialog ref={dialogRef} aria-labelledby="hammer-h" aria-describedby="hammer-d" data-testid="hammer-dialog">
      <h2 id="hammer-h">{sold ? `Sold to ${live.leader} for ${money(live.price)}?` : 'Pass the lot?'}</h2>
      <p id="hammer-d">
        {sold
          ? `The hammer ends the sale: the lot goes to ${live.leader} (${where}) at ${money(live.price)}. This cannot be undone.`
          : live.leader
            ? 'The reserve is not met: the hammer passes the lot unsold. This cannot be undone.'
            : 'There is no bid: the hammer passes the lot unsold. This cannot be undone.'}
      </p>
      <div className="cluster">
        <button type="button" className="btn primary large" disabled={busy} onClick={() => void confirm()}>
          {sold ? 'Sold: bring down the hammer' : 'Pass the lot'}
        </button>
        <button type="button" className="btn large" onClick={() => dialogRef.current?.close()}>
          Not yet
        </button>
      </div>
    </dialog>
  );
}

function NextLot({ next, over, onNext }: { next: ConsoleSale | null; over: boolean; onNext: () => void }) {
  return (
    <div className="console-next">
      {next ? (
        <ShortcutButton command="next" className={`btn ${over ? 'primary' : ''} large block`} onClick={onNext}>
          Next lot: {next.auction.title}
        </ShortcutButton>
      ) : (
        <p className="small muted" style={{ margin: 0 }}>
          {over ? 'That was the last sale in your console.' : 'No other live sale is waiting in your console.'} <Link to="/console">All your sales</Link>
        </p>
      )}
    </div>
  );
}

function ShortcutButton({ command, className, disabled, onClick, children }: { command: ShortcutCommand; className: string; disabled?: boolean; onClick: () => void; children: ReactNode }) {
  const key = shortcutKey(command);
  return (
    <button type="button" className={className} disabled={disabled} onClick={onClick} aria-keyshortcuts={key}>
      <span>{children}</span>
      <kbd aria-hidden="true">{key}</kbd>
    </button>
  );
}

/** Escape leaves a field, so the one-letter shortcuts work again. */
function leaveOnEscape(e: ReactKeyboardEvent<HTMLInputElement>) {
  if (e.key === 'Escape') e.currentTarget.blur();
}

function SaleState({ live, money, flash }: { live: LiveView; money: (a: string | null | undefined) => string; flash: number }) {
  const tone = live.status === 'open' ? (live.phase ?? 'asking') : live.status;
  return (
    <div className="console-state">
      <div className={`console-phase ${tone}`} role="status" data-testid="console-phase">
        {phaseWord(live)}
      </div>
      <div className="console-figures">
        <div>
          <div className="label">{live.status === 'closed' ? (live.outcome === 'sold' ? 'Sold for' : 'Last bid') : live.price === null ? 'Starting price' : 'Current bid'}</div>
          <div key={flash} className={`console-price ${flash > 0 ? 'flash' : ''}`} data-testid="console-price">
            {money(live.price ?? live.startingPrice)}
          </div>
          <div className={`console-leader ${live.leaderSource ?? ''}`} data-testid="console-leader">
            {leaderText(live.leader, live.leaderSource)}
          </div>
        </div>
        {live.status === 'open' && (
          <div>
            <div className="label">Asking</div>
            <div className="console-asking" data-testid="console-asking">
              {money(live.minimumNextBid)}
            </div>
          </div>
        )}
      </div>
      <div className="facts">
        <span>
          <strong>{live.bidCount}</strong> bid{live.bidCount === 1 ? '' : 's'}
        </span>
        <span>
          <strong>{live.participantCount}</strong> online
        </span>
        <span>{!live.hasReserve ? 'No reserve' : live.reserveMet ? <strong className="amount-positive">Reserve met</strong> : <strong>Reserve not met</strong>}</span>
      </div>
    </div>
  );
}

type Act = (body: ConsoleAction, done: string) => Promise<boolean>;

interface FormProps {
  /** The field a shortcut key focuses. */
  inputRef: RefObject<HTMLInputElement | null>;
  live: LiveView;
  scale: number;
  money: (a: string | null | undefined) => string;
  busy: boolean;
  act: Act;
  /** After an accepted action: the field is cleared and focus goes back to the rostrum. */
  onSent: () => void;
}

function AskingForm({ inputRef, live, nextBids, scale, money, busy, act, onSent }: FormProps & { nextBids: string[] }) {
  const [amount, setAmount] = useState('');
  const [error, setError] = useState<string | undefined>();
  const disabled = busy || live.status !== 'open' || live.phase === 'paused';
  const ask = (value: string) => act({ action: 'asking', amount: value }, `Asking ${money(value)}.`);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const problem = amountProblem(amount, scale);
    setError(problem ?? undefined);
    if (problem) return;
    void ask(amount.trim()).then((ok) => {
      if (!ok) return;
      setAmount('');
      onSent();
    });
  };
  // The ladder's next steps above the current asking price, one tap each.
  const raises = nextBids.slice(1, 3);
  return (
    <form className="console-form" onSubmit={submit} noValidate aria-label="Asking price">
      <div className="console-row">
        <Field id="asking" label={`Asking price (${shortcutKey('asking')})`} error={error}>
          <div className="input-affix">
            <input id="asking" ref={inputRef} inputMode="decimal" autoComplete="off" value={amount} onChange={(e) => setAmount(e.target.value)} onKeyDown={leaveOnEscape} placeholder={live.minimumNextBid ?? ''} aria-invalid={error ? true : undefined} aria-describedby="asking-hint" />
            <span>{live.currency}</span>
          </div>
        </Field>
        <button type="submit" className="btn primary large" disabled={disabled}>
          Ask
        </button>
      </div>
      <p className="small muted" id="asking-hint" style={{ margin: 0 }}>
        At least the ladder's next step. Each accepted bid brings the asking price back to the ladder.
      </p>
      {raises.length > 0 && (
        <div className="cluster" role="group" aria-label="Ask the next step">
          {raises.map((value) => (
            <button key={value} type="button" className="btn large" disabled={disabled} onClick={() => void ask(value)}>
              Ask {money(value)}
            </button>
          ))}
        </div>
      )}
    </form>
  );
}

function FloorBidForm({ inputRef, live, scale, money, busy, act, onSent }: FormProps) {
  const [paddle, setPaddle] = useState('');
  const [amount, setAmount] = useState('');
  const [errors, setErrors] = useState<{ paddle?: string; amount?: string }>({});
  const disabled = busy || live.status !== 'open' || live.phase === 'paused';
  // An empty amount is a bid at the asking price: what the floor usually bids.
  const value = amount.trim() || live.minimumNextBid || '';
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const next = {
      ...(!PADDLE.test(paddle.trim()) && { paddle: 'Enter the paddle number: letters, digits and "-", up to 16' }),
      ...(amountProblem(value, scale) && { amount: amountProblem(value, scale)! }),
    };
    setErrors(next);
    if (next.paddle || next.amount) return;
    const p = paddle.trim();
    void act({ action: 'floor-bid', paddle: p, amount: value }, `Floor bid: paddle ${p} at ${money(value)}.`).then((ok) => {
      if (!ok) return;
      setPaddle('');
      setAmount('');
      onSent();
    });
  };
  return (
    <form className="console-form" onSubmit={submit} noValidate aria-label="Floor bid">
      <div className="console-row">
        <Field id="paddle" label={`Paddle (${shortcutKey('floor-bid')})`} error={errors.paddle}>
          <input id="paddle" ref={inputRef} autoComplete="off" value={paddle} onChange={(e) => setPaddle(e.target.value)} onKeyDown={leaveOnEscape} maxLength={16} aria-invalid={errors.paddle ? true : undefined} />
        </Field>
        <Field id="floor-amount" label="Floor bid amount" error={errors.amount}>
          <div className="input-affix">
            <input id="floor-amount" inputMode="decimal" autoComplete="off" value={amount} onChange={(e) => setAmount(e.target.value)} onKeyDown={leaveOnEscape} placeholder={live.minimumNextBid ?? ''} aria-invalid={errors.amount ? true : undefined} aria-describedby="floor-amount-hint" />
            <span>{live.currency}</span>
          </div>
        </Field>
      </div>
      <p className="small muted" id="floor-amount-hint" style={{ margin: 0 }}>
        Leave the amount empty to bid at the asking price. The paddle bids at exactly this amount (no proxy).
      </p>
      <button type="submit" className="btn dark large block" disabled={disabled}>
        Enter floor bid{value ? ` at ${money(value)}` : ''}
      </button>
    </form>
  );
}

function ChatForm({ inputRef, busy, act, onSent }: Pick<FormProps, 'inputRef' | 'busy' | 'act' | 'onSent'>) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | undefined>();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const t = text.trim();
    if (!t) return setError('Write a message first');
    setError(undefined);
    void act({ action: 'chat', text: t }, 'Message sent to the room.').then((ok) => {
      if (!ok) return;
      setText('');
      onSent();
    });
  };
  return (
    <form className="console-form" onSubmit={submit} noValidate aria-label="Message to the room">
      <div className="console-row">
        <Field id="room-message" label={`Message to the room (${shortcutKey('chat')})`} error={error}>
          <input id="room-message" ref={inputRef} autoComplete="off" value={text} onChange={(e) => setText(e.target.value)} onKeyDown={leaveOnEscape} maxLength={CHAT_MAX_CHARS} placeholder="Fair warning: the bid is online" />
        </Field>
        <button type="submit" className="btn large" disabled={busy}>
          Send to the room
        </button>
      </div>
    </form>
  );
}

/** The room as the bidders see it: the same price, leader, phase, history and messages. */
function RoomView({ live, history, chat, money }: { live: LiveView; history: HistoryItem[]; chat: ChatLine[]; money: (a: string | null | undefined) => string }) {
  const bidders = [...new Set(history.filter((h) => h.type === 'bid' && h.leader?.startsWith('bidder')).map((h) => h.leader!))];
  const paddles = [...new Set(history.filter((h) => h.type === 'bid' && h.leader?.startsWith('paddle')).map((h) => h.leader!))];
  return (
    <>
      <section className="panel tight stack" aria-labelledby="room-h">
        <h2 id="room-h" className="h3" style={{ margin: 0 }}>
          The room sees
        </h2>
        <RoomBanner live={live} />
        <p style={{ margin: 0 }}>
          <strong data-testid="room-price">{money(live.price ?? live.startingPrice)}</strong>
          {live.leader && ` · ${live.status !== 'closed' ? 'leading' : live.outcome === 'sold' ? 'winner' : 'last bid'}: ${live.leader}`}
          {live.status === 'open' && live.minimumNextBid && <span className="muted"> · next bid from {money(live.minimumNextBid)}</span>}
        </p>
      </section>
      <section className="panel tight" aria-labelledby="console-history-h">
        <div className="spread">
          <h2 id="console-history-h" className="h3" style={{ margin: 0 }}>
            Bid history
          </h2>
          <span className="small muted">
            {live.bidCount} bid{live.bidCount === 1 ? '' : 's'}
          </span>
        </div>
        {history.length === 0 ? (
          <p className="muted">No bids yet.</p>
        ) : (
          <BidHistory
            items={history}
            testId="console-history"
            bidText={(h) => (
              <>
                <span className="amount">{money(h.price)}</span> · {h.leader}{' '}
                <span className={`badge ${h.leader?.startsWith('paddle') ? 'warning' : 'info'}`}>{h.leader?.startsWith('paddle') ? 'floor' : 'internet'}</span>
              </>
            )}
          />
        )}
      </section>
      <section className="panel tight" aria-labelledby="console-participants-h">
        <h2 id="console-participants-h" className="h3">
          Participants
        </h2>
        <p className="small muted" data-testid="console-participants">
          {live.participantCount} joined online{bidders.length > 0 ? `; ${bidders.length} bidding online` : ''}
          {paddles.length > 0 ? `; ${paddles.length} paddle${paddles.length === 1 ? '' : 's'} bidding on the floor` : ''}.
        </p>
        {bidders.length + paddles.length > 0 && (
          <ul className="cluster" style={{ listStyle: 'none', padding: 0, margin: 0 }}>
            {[...paddles, ...bidders].map((b) => (
              <li key={b} className={`badge ${b.startsWith('paddle') ? 'warning' : 'info'}`}>
                {b}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section className="panel tight" aria-labelledby="console-chat-h">
        <h2 id="console-chat-h" className="h3">
          Messages to the room
        </h2>
        {chat.length === 0 ? (
          <p className="small muted">What you and the clerks say to the room appears here, and on the bidders' pages.</p>
        ) : (
          <RoomMessages lines={chat} testId="console-chat" />
        )}
      </section>
    </>
  );
}

function RoomBanner({ live }: { live: LiveView }) {
  if (live.status === 'closed') return <div className="banner sold">{live.outcome === 'sold' ? `Sold to ${live.leader ?? 'the winner'}` : 'Ended without a sale'}</div>;
  if (live.status === 'cancelled') return <div className="banner warning">This auction was cancelled.</div>;
  if (live.status === 'scheduled') return <div className="banner">Not open yet: bidders can join and wait.</div>;
  if (live.phase === 'fairWarning') return <div className="banner warning">Fair warning — last call!</div>;
  if (live.phase === 'paused') return <div className="banner warning">The auctioneer has paused the sale.</div>;
  return <div className="banner">Bidding: at the asking price or more</div>;
}

function Shortcuts({ role }: { role: StaffRole }) {
  const mine = SHORTCUTS.filter((s) => role === 'auctioneer' || s.command === 'floor-bid' || s.command === 'chat' || s.command === 'next');
  return (
    <section className="panel tight" aria-labelledby="shortcuts-h">
      <h2 id="shortcuts-h" className="h3">
        Keyboard
      </h2>
      <dl className="shortcuts">
        {mine.map((s) => (
          <div key={s.key}>
            <dt>
              <kbd>{s.key}</kbd>
            </dt>
            <dd>{s.label}</dd>
          </div>
        ))}
        <div>
          <dt>
            <kbd>Esc</kbd>
          </dt>
          <dd>Leave a field (letters then work as shortcuts again)</dd>
        </div>
      </dl>
    </section>
  );
}
