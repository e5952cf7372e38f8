/**
 * The email that gives a visitor an access link: a plain-text part and an HTML part that say which
 * site, which doors and when, and the QR code twice: inline in the HTML (by cid) and as an
 * attachment the visitor can save and show at the door with no network. The code's text is in
 * neither part: 67 characters are not typed at a scanner, and text is what mail systems log.
 */
import type Mail from 'nodemailer/lib/mailer/index.js';
import { qrPng } from '../cli/qrOutput.ts';
import { NO_END } from '../credentials/credentialCodec.ts';
import type { LinkRecord } from '../store/storeTypes.ts';

export interface LinkEmailDoor {
  id: string;
  name: string;
}

export interface LinkEmailInput {
  site: { id: string; name: string };
  link: LinkRecord;
  /** The link's code: it goes into the QR image only. */
  code: string;
  /** The doors the link's scope opens, in the site file's order. */
  doors: readonly LinkEmailDoor[];
  /** The sender; none for an .eml file made without an email section. */
  from?: string;
  /** The recipient; default the link's stored address. */
  to?: string | null;
}

export type LinkEmailMessage = Mail.Options;

/** A time of a validity window as the email shows it: UTC, to the second; NO_END is "no end". */
export function formatUtc(seconds: number): string {
  if (seconds === NO_END) return 'no end';
  return new Date(seconds * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC');
}

export function attachmentName(link: Pick<LinkRecord, 'id'>): string {
  return `access-${link.id}.png`;
}

export async function composeLinkEmail(input: LinkEmailInput): Promise<LinkEmailMessage> {
  const { site, link, doors } = input;
  const to = input.to ?? link.email ?? undefined;
  const png = await qrPng(input.code);
  const side = png.readUInt32BE(16); // the IHDR width: the image is square
  const cid = `qr-${link.id}@postern`;
  const file = attachmentName(link);
  const doorList = doors.length === 0 ? 'no door of this site' : doors.map((d) => d.name).join(', ');
  const from = formatUtc(link.notBefore);
  const until = formatUtc(link.notAfter);
  const notes: string[] = [];
  if (link.onlineOnly) notes.push('It works only while the site is online.');
  if (link.maxUses !== null) notes.push(`It opens ${link.maxUses === 1 ? 'once' : `${link.maxUses} times`}.`);

  const text = [
    `Hello ${link.name},`,
    '',
    `here is your access to ${site.name}.`,
    '',
    `Doors:       ${doorList}`,
    `Valid from:  ${from}`,
    `Valid until: ${until}`,
    ...(notes.length > 0 ? ['', ...notes] : []),
    '',
    'Show the QR code of this message to the scanner at the door. It is also attached as',
    `${file}: save it on your phone to open the door even without a network connection.`,
    'The code is yours alone: do not forward this message.',
    '',
    `${site.name} (access link ${link.id})`,
    '',
  ].join('\n');

  const row = (label: string, value: string) =>
    `<tr><th align="left" style="padding:2px 12px 2px 0;font-weight:normal;color:#555">${label}</th><td style="padding:2px 0">${escapeHtml(value)}</td></tr>`;
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>Your access to ${escapeHtml(site.name)}</title></head>
<body style="font-family:sans-serif;color:#111;max-width:36em">
<p>Hello ${escapeHtml(link.name)},</p>
<p>here is your access to <strong>${escapeHtml(site.name)}</strong>.</p>
<table style="border-collapse:collapse">
${row('Doors', doorList)}
${row('Valid from', from)}
${row('Valid until', until)}
</table>
${notes.map((n) => `<p>${escapeHtml(n)}</p>`).join('\n')}
<p>Show this QR code to the scanner at the door:</p>
<p><img src="cid:${cid}" alt="Access QR code for ${escapeHtml(site.name)}" width="${side}" height="${side}" style="image-rendering:pixelated"></p>
<p>It is also attached as <code>${escapeHtml(file)}</code>: save it on your phone to open the door even without a network connection.
The code is yours alone: do not forward this message.</p>
<p style="color:#555">${escapeHtml(site.name)} (access link ${escapeHtml(link.id)})</p>
</body></html>
`;

  return {
    ...(input.from === undefined ? {} : { from: input.from }),
    ...(to === undefined ? {} : { to }),
    subject: `Your access to ${site.name}`,
    text,
    html,
    attachments: [
      { filename: 'qr-code.png', content: png, contentType: 'image/png', cid, contentDisposition: 'inline' },
      { filename: file, content: png, contentType: 'image/png', contentDisposition: 'attachment' },
    ],
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
