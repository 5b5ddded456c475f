// The embedded mailer's .eml files: the message we compose in one pass must be the message
// nodemailer's own stream transport would have written, for any name, subject and text.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { composeMessage, fileMailer, plainHeaders, type Mail } from '../../src/notifications/mailer.js';

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
  { name: 'As many Latin letters as others', subject: 'Tie', text: 'ab ÅÄ\n' }, // base64, not quoted-printable
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

  it('writes plain mail (ASCII names and subjects, short lines) directly, byte for byte as nodemailer would', async () => {
    // A seeded stream of mail near the common shape: sometimes a word with an accent, a quote,
    // an equals sign or a long line pushes it to nodemailer; either way both must agree.
    let seed = 20261207;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const plainWords = ['Lot', 'Vase', 'Ming', '12.00', 'USD', 'Outbid:', 'Won:', 'a', 'Z9', '(rare)', 'x-y', '#1', 'O\'Brien', '[1/2]', 'a;b', 'you@there'];
    const oddWords = ['Zoë', '"quoted"', 'a=b', 'why?', 'Ölgemälde', '—', '=?UTF-8?Q?x?='];
    const sentence = (n: number) => Array.from({ length: 1 + Math.floor(random() * n) }, () => pick(random() < 0.04 ? oddWords : plainWords)).join(' ');
    let direct = 0;
    for (let i = 0; i < 300; i++) {
      const mail: Mail = {
        id: `0193a000-0000-7000-8000-${String(i).padStart(12, '0')}`,
        to: { name: random() < 0.9 ? `Person ${i}` : sentence(3), address: `person-${i}@bench.example.com` },
        subject: sentence(random() < 0.8 ? 6 : 20),
        text: Array.from({ length: 1 + Math.floor(random() * 6) }, () => sentence(random() < 0.5 ? 8 : 30)).join(pick(['\n', '\n\n'])) + (random() < 0.8 ? '\n' : ''),
        headers: { 'X-Gavel-Notification-Id': `0193a000-0000-7000-8000-${i}`, 'X-Gavel-Kind': pick(['outbid', 'won', 'topup_credited']) },
      };
      if (plainHeaders(FROM, mail, '7bit') !== undefined) direct += 1;
      const ours = composeMessage(FROM, mail).toString('utf8');
      const theirs = (await transport.sendMail({ from: FROM, to: mail.to, subject: mail.subject, text: mail.text, messageId: `<${mail.id}@notifications.gavel>`, headers: { 'Auto-Submitted': 'auto-generated', ...mail.headers } })).message.toString('utf8');
      expect(withoutDate(ours), `mail ${i}: ${JSON.stringify(mail)}`).toBe(withoutDate(theirs));
    }
    expect(direct).toBeGreaterThan(100); // the direct path was taken, not only nodemailer's
    expect(direct).toBeLessThan(300); // and the odd ones went to nodemailer
  });

  it('leaves to nodemailer what needs encoding, quoting or folding', () => {
    const plain: Mail = { id: 'job-1', to: { name: 'Person 1', address: 'person-1@example.com' }, subject: 'Outbid: Vase', text: 'Hello\n', headers: { 'X-Gavel-Kind': 'outbid' } };
    expect(plainHeaders(FROM, plain, '7bit')).toMatch(/^Auto-Submitted: auto-generated\r\nX-Gavel-Kind: outbid\r\nFrom: Gavel <no-reply@gavel\.localhost>\r\nTo: Person 1 <person-1@example\.com>\r\nSubject: Outbid: Vase\r\n/);
    for (const odd of [
      { to: { name: 'Zoë', address: 'zoe@example.com' } },
      { to: { name: 'Smith, John', address: 'j@example.com' } },
      { to: { name: '', address: 'j@example.com' } },
      { subject: 'Won: "Vase"' },
      { subject: 'Won: =?UTF-8?Q?x?=' },
      { subject: `Won: ${'a very long title '.repeat(5)}` },
      { subject: 'two  spaces' },
      { headers: { 'X-Gavel-Kind': 'naïve' } },
    ] satisfies Array<Partial<Mail>>) {
      expect(plainHeaders(FROM, { ...plain, ...odd }, '7bit'), JSON.stringify(odd)).toBeUndefined();
    }
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
