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
 * cost about 270 µs of CPU per message against 50 µs here, measured in bench:notify. Our mail
 * is one text part, the only shape this handles.
 */
export function composeMessage(from: string, mail: Mail): Buffer {
  const node = new MailComposer(message(from, mail)).compile();
  const text = mail.text;
  const encoding = node.getTransferEncoding();
  const body = encoding === 'quoted-printable' ? qp.wrap(qp.encode(text), 76) : encoding === 'base64' ? base64.wrap(base64.encode(text), 76) : text;
  let raw = `${node.buildHeaders()}\r\n\r\n${body}`;
  // The stream transport ends a message with a line break, and its Unix mode drops every CR.
  if (!raw.endsWith('\n')) raw += '\n';
  return Buffer.from(raw.replaceAll('\r', ''));
}

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
