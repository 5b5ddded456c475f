// The mail port (DESIGN, ports and adapters), through nodemailer. Embedded: each message is
// written as an .eml file (RFC 5322, openable by any mail client) into a folder under the data
// dir. Scaled out: sent over SMTP from a small connection pool.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import * as base64 from 'nodemailer/lib/base64';
import * as qp from 'nodemailer/lib/qp';

export interface Mail {
  /** Stable across retries (the job's id), so a receiver can drop a repeat; also the file name. */
  id: string;
  to: { name: string; address: string };
  subject: string;
  text: string;
  headers: Record<string, string>;
}

export interface Mailer {
  /** Where mail goes, for the start-up log (no credentials). */
  readonly describe: string;
  send(mail: Mail): Promise<void>;
  close(): void;
}

/** The URL with its password replaced, safe for logs. */
const redactUrl = (url: string) => url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');

const MESSAGE_ID_DOMAIN = 'notifications.gavel';
const SMTP_CONNECTIONS_MAX = 5;

function message(from: string, mail: Mail) {
  return {
    from,
    to: { name: mail.to.name, address: mail.to.address },
    subject: mail.subject,
    text: mail.text,
    messageId: `<${mail.id}@${MESSAGE_ID_DOMAIN}>`,
    headers: { 'Auto-Submitted': 'auto-generated', ...mail.headers },
  };
}

/**
 * The message as RFC 5322 text with Unix line ends: byte for byte what nodemailer's stream
 * transport makes of it (`newline: 'unix'`; mailer.test.ts compares them), built in one
 * synchronous pass. The transport builds it through a pipeline of streams and timers, which
 * cost about 270 µs of CPU per message; nodemailer's composer alone about 50 µs, and the
 * common mail's headers written directly (plainHeaders) about 10 µs. Our mail is one text
 * part, the only shape this handles.
 */
export function composeMessage(from: string, mail: Mail): Buffer {
  const encoding = transferEncodingOf(mail.text);
  let headers = plainHeaders(from, mail, encoding);
  if (headers === undefined) {
    const node = new MailComposer(message(from, mail)).compile();
    headers = node.buildHeaders();
  }
  const text = mail.text;
  const body = encoding === 'quoted-printable' ? qp.wrap(qp.encode(text), 76) : encoding === 'base64' ? base64.wrap(base64.encode(text), 76) : text;
  let raw = `${headers}\r\n\r\n${body}`;
  // The stream transport ends a message with a line break, and its Unix mode drops every CR.
  if (!raw.endsWith('\n')) raw += '\n';
  return Buffer.from(raw.replaceAll('\r', ''));
}

/** nodemailer's choice for a text part: as it is when plain and short-lined, else quoted-printable for mostly Latin text, base64 otherwise. */
function transferEncodingOf(text: string): '7bit' | 'quoted-printable' | 'base64' {
  if (!NOT_PLAIN.test(text) && !LONGER_LINE.test(text)) return '7bit';
  const nonLatin = text.match(NOT_LATIN)?.length ?? 0;
  const latin = text.match(LATIN)?.length ?? 0;
  return nonLatin < latin ? 'quoted-printable' : 'base64';
}
const NOT_PLAIN = /[\x00-\x08\x0b\x0c\x0e-\x1f\u0080-\uFFFF]/;
const LONGER_LINE = /^.{77,}/m;
const NOT_LATIN = /[\x00-\x08\x0B\x0C\x0E-\x1F\u0080-\uFFFF]/g;
const LATIN = /[a-z]/gi;

/**
 * The header block for the common mail, written directly: nodemailer's composer spends most of
 * a message's CPU on it (parsing addresses back out of strings, normalizing every header name
 * with regular expressions, random boundaries for a part that has none), 8 % of a busy
 * server's time in bench:notify. Only for values nodemailer writes as they are: a name of ASCII
 * letters, digits and single spaces, a simple address, a subject of printable ASCII, and lines
 * short enough not to fold. Anything else (an accent, a quote, a long subject) returns undefined
 * and goes through nodemailer. mailer.test.ts compares the two over random plain mail.
 */
export function plainHeaders(from: string, mail: Mail, encoding: string): string | undefined {
  if (!PLAIN_NAME.test(mail.to.name) || !PLAIN_ADDRESS.test(mail.to.address) || !PLAIN_VALUE.test(mail.subject)) return undefined;
  const lines = [AUTO_SUBMITTED];
  for (const key of Object.keys(mail.headers)) {
    const value = mail.headers[key]!;
    if (!PLAIN_KEY.test(key) || !PLAIN_VALUE.test(value)) return undefined;
    lines.push(`${headerKeyOf(key)}: ${value}`);
  }
  lines.push(`To: ${mail.to.name} <${mail.to.address}>`, `Subject: ${mail.subject}`, `Message-ID: <${mail.id}@${MESSAGE_ID_DOMAIN}>`);
  for (const line of lines) if (line.length > FOLD_AT) return undefined;
  lines.splice(lines.length - 3, 0, fromLineOf(from));
  lines.push(`Content-Transfer-Encoding: ${encoding}`, `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8');
  return lines.join('\r\n');
}
const PLAIN_NAME = /^[A-Za-z0-9]+(?: [A-Za-z0-9]+)*$/;
const PLAIN_ADDRESS = /^[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*$/;
const PLAIN_VALUE = /^[!#-<>@-~]+(?: [!#-<>@-~]+)*$/; // printable ASCII but " = ?, single spaces, none at either end
const PLAIN_KEY = /^[A-Za-z]+(?:-[A-Za-z0-9]+)*$/;
const FOLD_AT = 76;
const AUTO_SUBMITTED = 'Auto-Submitted: auto-generated';

/** A header name as nodemailer writes it: each word capitalized, some in capitals (MIME-…, …-ID). */
function headerKeyOf(key: string): string {
  let known = HEADER_KEYS.get(key);
  if (known === undefined) {
    known = key.toLowerCase().replace(/^X-SMTPAPI$|^(MIME|DKIM|ARC|BIMI)\b|^OTP(?=-Token$)|^[a-z]|-(SPF|FBL|ID|MD5)$|-[a-z]/gi, (c) => c.toUpperCase());
    HEADER_KEYS.set(key, known);
  }
  return known;
}
const HEADER_KEYS = new Map<string, string>();

/** The From line nodemailer makes of `from` (a setting: one or two distinct values), taken once from a message it composed. */
function fromLineOf(from: string): string {
  let line = FROM_LINES.get(from);
  if (line === undefined) {
    const headers: string = new MailComposer({ from, to: 'probe@example.com', text: '' }).compile().buildHeaders();
    line = /^From: .*(?:\r\n[ \t].*)*/m.exec(headers)?.[0] ?? `From: ${from}`;
    FROM_LINES.set(from, line);
  }
  return line;
}
const FROM_LINES = new Map<string, string>();

/**
 * Writes `<id>.eml` into `dir` (a retry overwrites the same file); the file appears whole or not
 * at all. Written synchronously: a few kilobytes into the page cache (no fsync) cost less than
 * the four thread-pool round trips of the promise API, measured in bench:notify.
 */
export function fileMailer(dir: string, from: string): Mailer {
  mkdirSync(dir, { recursive: true });
  return {
    describe: `.eml files in ${dir}`,
    async send(mail) {
      const file = join(dir, `${mail.id}.eml`);
      const partial = `${file}.partial`;
      writeFileSync(partial, composeMessage(from, mail));
      renameSync(partial, file);
    },
    close: () => {},
  };
}

export function smtpMailer(url: string, from: string, connections: number): Mailer {
  const transport = createTransport({
    url,
    pool: true,
    maxConnections: Math.max(1, Math.min(SMTP_CONNECTIONS_MAX, connections)),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    describe: `SMTP ${redactUrl(url)}`,
    async send(mail) {
      await transport.sendMail(message(from, mail));
    },
    close: () => transport.close(),
  };
}
