// The embedded mailer's .eml files: the message we compose in one pass must be the message
// nodemailer's own stream transport would have written, for any name, subject and text.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { composeMessage, fileMailer, type Mail } from '../../src/notifications/mailer.js';

const FROM = 'Gavel <no-reply@gavel.localhost>';
const longLine = 'word '.repeat(40);

const cases: Array<Pick<Mail, 'subject' | 'text'> & { name: string }> = [
  { name: 'Trader 1', subject: 'Top-up credited: 10.00 USD', text: 'Hello Trader 1,\n\nYour top-up of 10.00 USD was credited.\n' },
  { name: 'Zoë Ångström', subject: 'Überboten: Ölgemälde — 12,00 €', text: `Hallo Zoë,\n\nSie wurden überboten.\n${longLine}\n` },
  { name: 'Иван "Ваня" Петров', subject: 'Вас перебили', text: `Здравствуйте!\r\n\r\n${'очень длинная строка '.repeat(10)}` },
  { name: 'Quote, "Name" <x>', subject: `plain and long ${longLine}`, text: `${longLine}and no line break at the end` },
  { name: '', subject: '', text: '' },
  { name: 'a@b', subject: 'tab\there', text: 'trailing space \nand =equals= and\ttab\n.\nFrom the start of a line\n' },
  { name: '😀 Emoji', subject: '😀 '.repeat(30), text: '😀\u0000\u0007 control characters\n' },
];

/** The Date header is the moment of composing: the two sides may differ by a second. */
const withoutDate = (raw: string) => raw.replace(/^Date: .*\n/m, 'Date: -\n');

describe('the embedded mailer', () => {
  const transport = createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  const dir = mkdtempSync(join(tmpdir(), 'gavel-mailer-'));
  afterAll(() => {
    transport.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(cases.map((c, i) => [i, c] as const))('composes message %i exactly as nodemailer would', async (i, c) => {
    const mail: Mail = {
      id: `0193a000-0000-7000-8000-00000000000${i}`,
      to: { name: c.name, address: `person-${i}@example.com` },
      subject: c.subject,
      text: c.text,
      headers: { 'X-Gavel-Notification-Id': `n-${i}`, 'X-Gavel-Kind': 'outbid' },
    };
    const ours = composeMessage(FROM, mail).toString('utf8');
    const theirs = (await transport.sendMail({ from: FROM, to: mail.to, subject: mail.subject, text: mail.text, messageId: `<${mail.id}@notifications.gavel>`, headers: { 'Auto-Submitted': 'auto-generated', ...mail.headers } })).message.toString('utf8');
    expect(withoutDate(ours)).toBe(withoutDate(theirs));
    expect(ours).toMatch(/^Date: .+$/m);
  });

  it('writes one <id>.eml per message, and a retry replaces it', async () => {
    const mailer = fileMailer(dir, FROM);
    const mail: Mail = { id: 'job-1', to: { name: 'Zoë', address: 'zoe@example.com' }, subject: 'Outbid', text: 'First try\n', headers: {} };
    await mailer.send(mail);
    await mailer.send({ ...mail, text: 'Second try\n' });
    expect(readdirSync(dir)).toEqual(['job-1.eml']);
    const raw = readFileSync(join(dir, 'job-1.eml'), 'utf8');
    expect(raw).toMatch(/^Message-ID: <job-1@notifications\.gavel>$/m);
    expect(raw).toMatch(/^To: =\?UTF-8\?Q\?Zo=C3=AB\?= <zoe@example\.com>$/m);
    expect(raw.endsWith('Second try\n')).toBe(true);
    expect(raw).not.toContain('\r');
    mailer.close();
  });
});
