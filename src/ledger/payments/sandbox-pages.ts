// The sandbox provider's pages: a 3-D Secure style screen where the payer approves or
// declines a payment, and a screen where a tester marks a payout paid or failed. Plain
// server-rendered HTML, no scripts; every value printed goes through `escapeHtml`.
import { formatAmount } from '../../platform/money.js';
import type { SandboxEvent, SandboxPayment } from './sandbox-store.js';

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A page may be framed by nobody (clickjacking an Approve button), runs no script, loads nothing. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const STYLE = `
body{font-family:system-ui,sans-serif;background:#f3f4f6;color:#111;margin:0;padding:2rem 1rem}
main{max-width:26rem;margin:0 auto;background:#fff;border-radius:.75rem;padding:1.5rem;box-shadow:0 1px 4px #0002}
.badge{display:inline-block;background:#fde68a;border-radius:.25rem;padding:.1rem .5rem;font-size:.8rem;font-weight:600}
dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem}dt{color:#555}dd{margin:0;overflow-wrap:anywhere}
.amount{font-size:1.4rem;font-weight:700}
.actions{display:flex;gap:.75rem;margin-top:1.25rem}.actions form{flex:1}
button{width:100%;padding:.7rem;border:0;border-radius:.5rem;font-size:1rem;cursor:pointer}
.yes{background:#15803d;color:#fff}.no{background:#e5e7eb;color:#111}
.notice{padding:.6rem .8rem;border-radius:.5rem;background:#e0f2fe}.notice.error{background:#fee2e2}
`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · Gavel payment sandbox</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<p class="badge">SANDBOX · no real money moves</p>
${body}
</main>
</body>
</html>
`;
}

export interface Notice {
  error: boolean;
  text: string;
}

function noticeHtml(notice: Notice | undefined): string {
  return notice ? `<p class="${notice.error ? 'notice error' : 'notice'}" role="status">${escapeHtml(notice.text)}</p>` : '';
}

function details(p: SandboxPayment, extra: Array<[string, string]>): string {
  const rows: Array<[string, string]> = [
    ['Merchant', 'Gavel'],
    ['Description', p.description],
    ['Reference', p.reference],
    ...extra,
  ];
  return `<p class="amount">${escapeHtml(formatAmount(p.amountMinor, p.scale))} ${escapeHtml(p.currency)}</p>
<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

function button(action: string, label: string, className: string): string {
  return `<form method="post" action="${escapeHtml(action)}"><button type="submit" class="${className}" aria-label="${escapeHtml(label)}">${escapeHtml(label)}</button></form>`;
}

/** What the payer reads about the webhook the sandbox sent Gavel. */
export function deliveryText(event: SandboxEvent | undefined): Notice | undefined {
  if (!event) return undefined;
  switch (event.state) {
    case 'delivered':
      return { error: false, text: `Gavel was notified (${event.type}, HTTP ${event.lastStatus ?? '2xx'}).` };
    case 'rejected':
      return { error: true, text: `Gavel refused the notification (${event.type}, HTTP ${event.lastStatus ?? '4xx'}).` };
    case 'gave_up':
      return { error: true, text: `Notifying Gavel failed ${event.attempts} times; the sandbox stopped trying.` };
    case 'pending':
      return { error: true, text: `Notifying Gavel has not succeeded yet (${event.attempts} attempts); the sandbox keeps trying.` };
  }
}

const PAYMENT_STATE_TEXT: Record<string, string> = {
  approved: 'You approved this payment.',
  declined: 'You declined this payment.',
  expired: 'This payment request expired before it was confirmed.',
};

/** The 3-D Secure style confirmation screen for a payment. */
export function paymentPage(p: SandboxPayment, view: { expired: boolean; notice?: Notice | undefined; delivery?: SandboxEvent | undefined }): string {
  const expiresText = p.expiresAtMs === null ? 'never' : new Date(p.expiresAtMs).toISOString();
  const state = p.status === 'pending' && view.expired ? 'expired' : p.status;
  const actions =
    state === 'pending'
      ? `<p>Your bank asks you to confirm this payment.</p>
<div class="actions">${button(`/sandbox/payments/${p.id}/approve`, 'Approve payment', 'yes')}${button(`/sandbox/payments/${p.id}/decline`, 'Decline payment', 'no')}</div>`
      : `<p>${escapeHtml(PAYMENT_STATE_TEXT[state] ?? `This payment is ${state}.`)} You can close this window.</p>`;
  return layout(
    'Confirm your payment',
    `<h1>Confirm your payment</h1>
${noticeHtml(view.notice)}
${details(p, [['Confirm before', expiresText], ['Status', state]])}
${actions}
${noticeHtml(deliveryText(view.delivery))}`,
  );
}

/** The screen where a tester settles a payout. */
export function payoutPage(p: SandboxPayment, view: { notice?: Notice | undefined; delivery?: SandboxEvent | undefined }): string {
  const actions =
    p.status === 'pending'
      ? `<p>Settle this payout as the provider would.</p>
<div class="actions">${button(`/sandbox/payouts/${p.id}/paid`, 'Mark payout paid', 'yes')}${button(`/sandbox/payouts/${p.id}/failed`, 'Mark payout failed', 'no')}</div>`
      : `<p>This payout is ${escapeHtml(p.status)}.</p>`;
  return layout(
    'Payout',
    `<h1>Payout</h1>
${noticeHtml(view.notice)}
${details(p, [['Status', p.status]])}
${actions}
${noticeHtml(deliveryText(view.delivery))}`,
  );
}

export function errorPage(title: string, detail: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p>`);
}
