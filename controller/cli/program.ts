/**
 * The `postern` command line as commander sees it: every command with its arguments, options and
 * help. This module is light on purpose (commander and no part of the controller): each command's
 * code is imported only when that command runs, so `postern --help` loads nothing else and
 * `postern audit head` loads the store but not the controller, its servers or its drivers.
 */
import { Command, Help, Option } from 'commander';
import { ROLES } from '../accounts/accountTypes.ts';
import type { CliEnvironment } from './cliContext.ts';
import { UsageError } from './cliErrors.ts';
import { DEFAULT_SERVER_DAYS, MAX_SERVER_DAYS } from '../tls/siteCertificateTerms.ts';
import { VERSION } from '../version.ts';

/**
 * A command's code: its options and arguments (by name, as commander gives them: --max-uses is
 * maxUses, <id> is id) and the streams. `never` lets each module declare its own option type.
 */
type Run = (values: never, io: CliEnvironment) => Promise<void>;

interface Leaf {
  /** The name and its arguments, as commander reads them: 'revoke <id>'. */
  name: string;
  /** One line, in the list of its parent's commands. */
  summary: string;
  /** The synopsis after `postern <group> <name>`, shown in help; default: the arguments and [options]. */
  usage?: string;
  /** More lines for its own help, below the summary. */
  details?: string;
  /** Made afresh for each command that has it. */
  options?: Array<() => Option>;
  /** Opens the site's store: takes --create. */
  store?: boolean;
  /** Imports the command's module, when it runs. */
  load: () => Promise<Run>;
}

const USER_ROLES = ROLES.filter((r) => r !== 'scanner').join(', ');
const TIME = 'TIME is ISO 8601 (2026-12-01T09:00Z), unix seconds, or +30m / +8h / +7d from now.';

const opt = (flags: string, description: string) => () => new Option(flags, description);
const reason = opt('--reason <TEXT>', 'why, kept in the audit trail');
const controller = opt('--controller <ID>', 'only this chain: the site id, or <site id>/admin for what the command line did');
const json = opt('--json', 'as JSON, for scripts');
const passwordFile = opt('--password-file <FILE>', 'read the password from the first line of FILE instead of standard input');
/** Declared to refuse it with a reason (other users can read a command line) rather than "unknown option". */
const password = () => new Option('--password <PASSWORD>', 'refused: use standard input or --password-file').hideHelp();

const LINK: Leaf[] = [
  {
    name: 'create',
    summary: 'issues an access link: prints the code and its QR, writes PNG and SVG',
    usage: `--name NAME [--email ADDRESS] (--scope ID|NAME | --doors a,b)
                   [--from TIME] [--until TIME|never] [--online-only [--max-uses N]] [--out DIR] [--send]`,
    details: `${TIME}\nWith --send the link is emailed to --email at once; if the email fails, the link stays and the command exits 1.`,
    options: [
      opt('--name <NAME>', "the holder's name"),
      opt('--email <ADDRESS>', "the holder's email address"),
      opt('--scope <ID|NAME>', 'the scope (a named set of doors of the site file) it opens, by id or name'),
      opt('--doors <a,b>', 'the doors it opens, instead of --scope'),
      opt('--from <TIME>', 'valid from (default: now)'),
      opt('--until <TIME|never>', 'valid until (default: 24 hours after --from)'),
      opt('--online-only', 'confirmed online at each use, and can be limited in uses'),
      opt('--max-uses <N>', 'with --online-only: how many times it opens'),
      opt('--out <DIR>', "where to write its PNG and SVG (default: the data directory's links folder)"),
      opt('--send', 'email it to --email at once'),
    ],
    store: true,
    load: () => import('./linkCommands.ts').then((m) => m.createLink),
  },
  {
    name: 'list',
    summary: 'lists links (never their codes) with their status: active, not yet valid, expired, revoked or used up',
    usage: '[--all] [--search TEXT] [--json]',
    options: [opt('--all', 'revoked links too'), opt('--search <TEXT>', 'only links whose name or email holds TEXT (any letter case), or whose id is TEXT'), json],
    store: true,
    load: () => import('./linkCommands.ts').then((m) => m.listLinks),
  },
  {
    name: 'email <id>',
    summary: "emails a link (the QR inline and as a PNG) to its address or --to, over the site's SMTP server",
    usage: 'ID [--to ADDRESS] [--eml FILE]',
    options: [opt('--to <ADDRESS>', "send it here instead of the link's address"), opt('--eml <FILE>', 'write the message to FILE instead of sending it')],
    store: true,
    load: () => import('./linkCommands.ts').then((m) => m.emailLink),
  },
  {
    name: 'revoke <id>',
    summary: 'revokes a link',
    usage: 'ID [--reason TEXT]',
    options: [reason],
    store: true,
    load: () => import('./linkCommands.ts').then((m) => m.revokeLink),
  },
];

const CREDENTIAL: Leaf[] = [
  {
    name: 'create',
    summary: "makes a rotating credential: its secret is shown once, with a one-time enrolment link for the holder's phone",
    usage: '--name NAME --scope ID|NAME [--enrol-hours H]',
    options: [opt('--name <NAME>', "the holder's name"), opt('--scope <ID|NAME>', 'the scope it opens, by id or name'), opt('--enrol-hours <H>', 'how long the enrolment link works (default 24, at most 720)')],
    store: true,
    load: () => import('./credentialCommands.ts').then((m) => m.createCredential),
  },
  {
    name: 'list',
    summary: 'lists credentials (never their secrets) with their status: active or revoked',
    usage: '[--all] [--search TEXT] [--json]',
    options: [opt('--all', 'revoked credentials too'), opt('--search <TEXT>', 'only credentials whose name holds TEXT (any letter case), or whose id is TEXT'), json],
    store: true,
    load: () => import('./credentialCommands.ts').then((m) => m.listCredentials),
  },
  {
    name: 'revoke <id>',
    summary: 'revokes a credential',
    usage: 'ID [--reason TEXT]',
    options: [reason],
    store: true,
    load: () => import('./credentialCommands.ts').then((m) => m.revokeCredential),
  },
  {
    name: 'code <id>',
    summary: 'the code a badge with that secret shows now (touches no store)',
    usage: 'ID --secret HEX',
    options: [opt('--secret <HEX>', 'the 64 hex characters that credential create printed')],
    load: () => import('./credentialCode.ts').then((m) => m.credentialCode),
  },
];

const PARTNER: Leaf[] = [
  {
    name: 'add',
    summary: 'adds a partner; a generated secret is shown once',
    usage: '--id N --name NAME --scopes 3,4 [--default-scope 3] [--secret HEX]',
    options: [
      opt('--id <N>', 'the issuer id in its codes, 1 to 65535'),
      opt('--name <NAME>', "the partner's name"),
      opt('--scopes <LIST>', 'the scopes its codes may name, comma-separated'),
      opt('--default-scope <ID>', 'the scope its codes with scope 0 open'),
      opt('--secret <HEX>', 'its shared secret, at least 64 hex characters (default: a new random one, printed once)'),
    ],
    store: true,
    load: () => import('./partnerCommands.ts').then((m) => m.addPartner),
  },
  { name: 'list', summary: 'lists partners (never their secrets)', usage: '', store: true, load: () => import('./partnerCommands.ts').then((m) => m.listPartners) },
  { name: 'remove <id>', summary: "removes a partner: its codes are denied from then on", usage: 'ID', store: true, load: () => import('./partnerCommands.ts').then((m) => m.removePartner) },
  {
    name: 'revoke-subject <partner> <subject>',
    summary: "revokes one subject of a partner: its codes are denied 'revoked', the partner's others still open",
    usage: 'PARTNER SUBJECT [--reason TEXT]',
    options: [reason],
    store: true,
    load: () => import('./partnerCommands.ts').then((m) => m.revokePartnerSubject),
  },
];

const AUDIT: Leaf[] = [
  {
    name: 'tail',
    summary: 'the newest audit events',
    usage: '[-n N] [--follow] [--controller ID]',
    options: [opt('-n <N>', 'how many (default 20)'), opt('-f, --follow', 'then print new events as they come, until Ctrl+C'), controller],
    store: true,
    load: () => import('./auditCommands.ts').then((m) => m.tail),
  },
  {
    name: 'export',
    summary: 'every event, as CSV',
    usage: '--csv [--out FILE] [--controller ID]',
    options: [opt('--csv', 'as CSV (the only format)'), opt('--out <FILE>', 'write to FILE instead of standard output'), controller],
    store: true,
    load: () => import('./auditCommands.ts').then((m) => m.exportCsv),
  },
  {
    name: 'head',
    summary: "each chain's newest seq and hash, one `<controllerId> <seq> <hash>` line a chain: keep it elsewhere as an anchor",
    usage: '[--json] [--controller ID]',
    options: [json, controller],
    store: true,
    load: () => import('./auditCommands.ts').then((m) => m.head),
  },
  {
    name: 'verify',
    summary: 'checks every hash chain, and against an earlier `audit head` with --anchor; exit 3 when broken',
    usage: '[--controller ID] [--anchor FILE]',
    details: 'Names an edited, missing or reordered event; with an anchor, also a chain deleted, cut short or rewritten since.',
    options: [controller, opt('--anchor <FILE>', 'the output of an earlier `postern audit head`')],
    store: true,
    load: () => import('./auditCommands.ts').then((m) => m.verify),
  },
];

const USER: Leaf[] = [
  {
    name: 'add <name>',
    summary: 'adds a user; the password is read from standard input (one line) or --password-file, never from an argument',
    usage: 'NAME --role ROLE [--password-file FILE]   (password on standard input)',
    details: `ROLE is one of ${USER_ROLES}. A fresh install makes its first admin this way.`,
    options: [opt('--role <ROLE>', `one of ${USER_ROLES}`), passwordFile, password],
    store: true,
    load: () => import('./accountCommands.ts').then((m) => m.addUser),
  },
  {
    name: 'passwd <name>',
    summary: 'sets a new password (standard input or --password-file)',
    usage: 'NAME [--password-file FILE]',
    options: [passwordFile, password],
    store: true,
    load: () => import('./accountCommands.ts').then((m) => m.passwd),
  },
  { name: 'role <name> <role>', summary: `changes a user's role (${USER_ROLES})`, usage: 'NAME ROLE', store: true, load: () => import('./accountCommands.ts').then((m) => m.setRole) },
  { name: 'disable <name>', summary: 'stops a user from signing in', usage: 'NAME', store: true, load: () => import('./accountCommands.ts').then((m) => m.disableUser) },
  { name: 'remove <name>', summary: 'removes a user', usage: 'NAME', store: true, load: () => import('./accountCommands.ts').then((m) => m.removeUser) },
  { name: 'list', summary: 'lists users (never a password hash)', usage: '[--json]', options: [json], store: true, load: () => import('./accountCommands.ts').then((m) => m.listUsers) },
];

const TOKEN: Leaf[] = [
  {
    name: 'create',
    summary: 'makes an API token: prints it alone on standard output, once (and for a kiosk the link to open on its tablet)',
    usage: '--name NAME --role ROLE [--scanner ID] [--doors a,b]   (prints the token, once)',
    details: `ROLE is one of ${ROLES.join(', ')}; a scanner token names its network or kiosk scanner with --scanner.`,
    options: [opt('--name <NAME>', 'what it is for'), opt('--role <ROLE>', `one of ${ROLES.join(', ')}`), opt('--scanner <ID>', "with role scanner: the site's network or kiosk scanner it reads for"), opt('--doors <a,b>', 'limit it to these doors: it acts on and reads only them (not for admin)')],
    store: true,
    load: () => import('./accountCommands.ts').then((m) => m.createToken),
  },
  { name: 'list', summary: 'lists tokens (their first 8 characters, never the token)', usage: '[--json]', options: [json], store: true, load: () => import('./accountCommands.ts').then((m) => m.listTokens) },
  { name: 'revoke <id>', summary: 'revokes a token', usage: 'ID', store: true, load: () => import('./accountCommands.ts').then((m) => m.revokeToken) },
];

const START: Leaf = {
  name: 'start',
  summary: 'runs the controller until SIGINT or SIGTERM',
  usage: '[--config FILE] [--demo] [--log-format json|pretty]',
  details: 'DATABASE_URL=postgres://... selects PostgreSQL instead of the embedded SQLite file.\nMakes the store when there is none, and says so: new empty store at PATH.',
  options: [
    opt('--demo', 'the demo site, whatever the config'),
    () => new Option('--log-format <format>', 'log lines for people (pretty) or JSON (default: pretty on a terminal, else json)').choices(['json', 'pretty']),
  ],
  load: () => import('./startCommand.ts').then((m) => m.startCommand),
};

const SCAN: Leaf = {
  name: 'scan <text>',
  summary: 'sends TEXT as a read of a network scanner to the running controller; exit 0 grant, 4 deny',
  usage: 'TEXT --scanner ID [--url ws://HOST:PORT/api] [--token TOKEN]',
  details: 'The token (--token or $POSTERN_TOKEN) needs the integrator role, or the scanner role bound to that scanner.\nExit 0 for a grant, 4 for a denial, 1 when it could not be decided.',
  options: [
    opt('--scanner <ID>', 'the network scanner of the site'),
    opt('--url <URL>', "the controller's API (default: from the site file)"),
    opt('--token <TOKEN>', 'an API token (default: $POSTERN_TOKEN)'),
  ],
  load: () => import('./scanCommand.ts').then((m) => m.scanCommand),
};

/** The demo's door commands: they reach the running controller over its API, as `scan` does. */
const DEMO_API_OPTIONS = [opt('--url <URL>', "the controller's API (default: from the site file)"), opt('--token <TOKEN>', 'an operator API token (default: $POSTERN_TOKEN)')];
const DEMO_DETAILS = 'Only for a site with simulated doors (postern start --demo). The token (--token or $POSTERN_TOKEN) needs the operator role.';

const DEMO: Leaf[] = [
  {
    name: 'force-open <door>',
    summary: 'opens a simulated door without a grant: the forced-open alarm (it stays open until demo close)',
    usage: 'DOOR [--url ws://HOST:PORT/api] [--token TOKEN]',
    details: `${DEMO_DETAILS}\nThe door must be locked and closed.`,
    options: DEMO_API_OPTIONS,
    load: () => import('./demoCommand.ts').then((m) => m.forceOpen),
  },
  {
    name: 'hold-open <door>',
    summary: "lets someone in on a grant who keeps the door open: the held-open alarm once its heldOpenSeconds pass",
    usage: 'DOOR [--url ws://HOST:PORT/api] [--token TOKEN]',
    details: `${DEMO_DETAILS}\nThe door is unlocked as an operator's unlock (recorded so), and stays open until demo close.`,
    options: DEMO_API_OPTIONS,
    load: () => import('./demoCommand.ts').then((m) => m.holdOpen),
  },
  {
    name: 'close <door>',
    summary: 'closes a simulated door that demo force-open or hold-open keeps open: its alarm ends, to acknowledge',
    usage: 'DOOR [--url ws://HOST:PORT/api] [--token TOKEN]',
    details: DEMO_DETAILS,
    options: DEMO_API_OPTIONS,
    load: () => import('./demoCommand.ts').then((m) => m.close),
  },
];

const DOCTOR: Leaf = {
  name: 'doctor',
  summary: 'checks the installation (site file, secret files, data directory, store, devices, port, clock) and changes nothing; exit 1 on a failure',
  usage: '[--config FILE] [--json]',
  details: 'Run it as the user the controller runs as: ownership and device access are checked for that user.',
  options: [json],
  load: () => import('./doctorCommand.ts').then((m) => m.doctorCommand),
};

const BACKUP: Leaf = {
  name: 'backup',
  summary: "copies the site's SQLite store to FILE, consistently, while the controller runs",
  usage: '--out FILE [--config FILE]',
  details: 'FILE must not exist yet. It holds every secret of the store: keep it as carefully as the data directory.\nA PostgreSQL store is backed up with pg_dump (docs/backup.md).',
  options: [opt('--out <FILE>', 'the backup file to write')],
  load: () => import('./backupCommands.ts').then((m) => m.backupCommand),
};

const RESTORE: Leaf = {
  name: 'restore <file>',
  summary: "puts a backup into the site's empty data directory and verifies its audit chains; exit 3 when one is broken",
  usage: 'FILE [--config FILE]',
  details: 'The data directory must be empty or missing: a restore never merges with or replaces a store.\nA PostgreSQL store is restored with pg_restore (docs/backup.md).',
  load: () => import('./backupCommands.ts').then((m) => m.restoreCommand),
};

const SCOPE: Leaf[] = [
  {
    name: 'list',
    summary: "lists the site's scopes by name with their doors: the site file's, and the door sets made for links issued with --doors",
    usage: '[--json]',
    options: [json],
    store: true,
    load: () => import('./scopeCommands.ts').then((m) => m.listScopes),
  },
];

/** --host, once for each name (or a comma-separated list): commander keeps only the last otherwise. */
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

const TLS: Leaf[] = [
  {
    name: 'create',
    summary: "makes the site certificate for HTTPS (api.tls), signed by the site's own CA, which each tablet trusts once",
    usage: '[--host NAME|IP ...] [--days N] [--dir DIR] [--force] [--new-ca] [--no-defaults]',
    details: [
      'Browsers give the kiosk page the camera only over HTTPS (or on localhost).',
      "The certificate is for the --host names and, unless --no-defaults, this machine's host name, localhost and network addresses.",
      "Files go into the data directory's tls folder, keys with mode 0600; it prints the api.tls lines for the site file and how to install the CA on Android and iPadOS.",
      'An existing certificate is replaced only with --force; the CA is kept (tablets that trust it need nothing new) unless --new-ca.',
    ].join('\n'),
    options: [
      () => new Option('--host <NAME|IP>', 'a host name or IP address tablets use for the controller; repeat it, or a,b').argParser(collect),
      opt('--days <N>', `how long the certificate is valid (default ${DEFAULT_SERVER_DAYS}, at most ${MAX_SERVER_DAYS})`),
      opt('--dir <DIR>', "where to write the files (default: the data directory's tls folder)"),
      opt('--force', 'replace the certificate and its key if they exist'),
      opt('--new-ca', 'make a new CA too (with --force if there is one): every tablet must then trust the new one'),
      opt('--no-defaults', "only the --host names, not this machine's own"),
    ],
    load: () => import('./tlsCommands.ts').then((m) => m.createTls),
  },
  {
    name: 'show',
    summary: "shows the site's CA and certificate: names, validity, SHA-256 fingerprints, and whether api.tls names them",
    usage: '[--dir DIR]',
    options: [opt('--dir <DIR>', "where the files are (default: the data directory's tls folder)")],
    load: () => import('./tlsCommands.ts').then((m) => m.showTls),
  },
];

/** Every `hub` command: the hub's own database, never a site's store. */
const hubDatabase = opt('--database-url <URL>', "the hub's PostgreSQL database (default: $DATABASE_URL)");
const HUB_SERVES = 'Every hub command migrates the hub database first; the commands other than serve need no hub running.';

const HUB: Leaf[] = [
  {
    name: 'serve',
    summary: "runs a hub (POST /enrol, GET /sync, and the admin API GET /api: docs/hub-api.md) until SIGINT or SIGTERM; any number may serve one database",
    usage: '[--database-url URL] [--port 8450] [--host 0.0.0.0] [--tls-cert FILE --tls-key FILE] [--log-format json|pretty]',
    options: [
      hubDatabase,
      opt('--port <PORT>', 'the port to listen on (default 8450)'),
      opt('--host <ADDRESS>', 'the address to listen on (default 0.0.0.0)'),
      opt('--tls-cert <FILE>', "serve HTTPS and WSS with this certificate (PEM; e.g. cert.pem of postern tls create --dir DIR)"),
      opt('--tls-key <FILE>', 'the private key of --tls-cert (PEM)'),
      () => new Option('--log-format <format>', 'log lines for people (pretty) or JSON (default: pretty on a terminal, else json)').choices(['json', 'pretty']),
    ],
    load: () => import('./hubCommands.ts').then((m) => m.hubServe),
  },
  {
    name: 'revoke <site> <subject>',
    summary: "revokes a subject at a site: pushed to the site's connected controllers at once",
    usage: 'SITE SUBJECT [--issuer N] [--reason TEXT] [--database-url URL]',
    options: [hubDatabase, opt('--issuer <N>', 'the issuer of the subject: 0 (default) for the site itself, else a partner id'), reason],
    load: () => import('./hubCommands.ts').then((m) => m.hubRevoke),
  },
  {
    name: 'status [site]',
    summary: 'sites and their controllers: enrolled, last seen, audit seq held, revoked or flagged',
    usage: '[SITE] [--json] [--database-url URL]',
    options: [hubDatabase, json],
    load: () => import('./hubCommands.ts').then((m) => m.hubStatus),
  },
];

const HUB_SITE: Leaf[] = [
  {
    name: 'add <id>',
    summary: 'adds a site to the hub',
    usage: 'ID [--name NAME] [--database-url URL]',
    options: [hubDatabase, opt('--name <NAME>', 'its name (default: the id)')],
    load: () => import('./hubCommands.ts').then((m) => m.hubSiteAdd),
  },
];

const HUB_CONTROLLER: Leaf[] = [
  {
    name: 'add <site>',
    summary: 'adds a controller slot to a site: prints its one-time enrolment code (valid 24 h)',
    usage: 'SITE [--name NAME] [--database-url URL]',
    options: [hubDatabase, opt('--name <NAME>', 'what it is, e.g. "front desk"')],
    load: () => import('./hubCommands.ts').then((m) => m.hubControllerAdd),
  },
  {
    name: 'rotate <id>',
    summary: 'a new enrolment code for a controller: its credential is replaced (and the old one refused) when the code is used',
    usage: 'ID [--database-url URL]',
    options: [hubDatabase],
    load: () => import('./hubCommands.ts').then((m) => m.hubControllerRotate),
  },
  {
    name: 'revoke <id>',
    summary: 'ends a controller at once: its link is closed and it is refused from then on',
    usage: 'ID [--database-url URL]',
    options: [hubDatabase],
    load: () => import('./hubCommands.ts').then((m) => m.hubControllerRevoke),
  },
];

const HUB_ACCOUNT: Leaf[] = [
  {
    name: 'add <name>',
    summary: "adds an account of the hub's API (docs/hub-api.md): prints its token once",
    usage: 'NAME --role admin|operator|viewer [--database-url URL]',
    details: 'viewer reads; operator revokes and runs operator methods at the sites; admin manages sites, controllers and accounts.',
    options: [hubDatabase, () => new Option('--role <ROLE>', 'what it may do').choices(['admin', 'operator', 'viewer'])],
    load: () => import('./hubAccountCommands.ts').then((m) => m.hubAccountAdd),
  },
  {
    name: 'list',
    summary: "the hub's accounts with their role and state (never a token)",
    usage: '[--json] [--database-url URL]',
    options: [hubDatabase, json],
    load: () => import('./hubAccountCommands.ts').then((m) => m.hubAccountList),
  },
  {
    name: 'revoke <name>',
    summary: "ends an account's token at once: refused from now on, its open connections at their next call",
    usage: 'NAME [--database-url URL]',
    options: [hubDatabase],
    load: () => import('./hubAccountCommands.ts').then((m) => m.hubAccountRevoke),
  },
];

/** `postern hub audit ...`: the chains the hub holds; SITE and --controller (the hub's id, ctl-...) narrow it. */
const hubController = opt('--controller <ID>', "only this controller: its hub id (ctl-..., as `postern hub status` lists it)");

const HUB_AUDIT: Leaf[] = [
  {
    name: 'tail [site]',
    summary: 'the newest audit events the hub holds, of every site or one: site, controller, then the line of `postern audit tail`',
    usage: '[SITE] [-n N] [--controller ID] [--database-url URL]',
    options: [hubDatabase, opt('-n <N>', 'how many (default 20)'), hubController],
    load: () => import('./hubAuditCommands.ts').then((m) => m.hubAuditTail),
  },
  {
    name: 'export <site>',
    summary: "every event of a site's controllers in (controller, seq) order: CSV (the columns of `postern audit export` after siteId and hubControllerId) or JSON lines",
    usage: 'SITE [--controller ID] [--csv | --jsonl] [--out FILE] [--database-url URL]',
    options: [hubDatabase, hubController, opt('--csv', 'as CSV (the default)'), opt('--jsonl', 'as JSON lines: each event with siteId and hubControllerId'), opt('--out <FILE>', 'write to FILE instead of standard output')],
    load: () => import('./hubAuditCommands.ts').then((m) => m.hubAuditExport),
  },
  {
    name: 'verify [site]',
    summary: 'recomputes every chain the hub holds against the head it keeps; exit 3 when one is broken or a controller is flagged',
    usage: '[SITE] [--controller ID] [--database-url URL]',
    details: 'Names an edited, missing, reordered or re-linked event, a chain cut short below its head, and the flag an upload or a hello left.',
    options: [hubDatabase, hubController],
    load: () => import('./hubAuditCommands.ts').then((m) => m.hubAuditVerify),
  },
];

interface Group {
  name: string;
  summary: string;
  details?: string;
  leaves: Leaf[];
  groups?: Group[];
}

const HUB_GROUP: Group = {
  name: 'hub',
  summary: 'the hub: the system of record for many sites, which their controllers sync with (docs/sync.md)',
  details: HUB_SERVES,
  leaves: HUB,
  groups: [
    { name: 'site', summary: "the hub's sites", leaves: HUB_SITE },
    { name: 'controller', summary: "a site's controllers: slots, enrolment codes, revocation", leaves: HUB_CONTROLLER },
    { name: 'audit', summary: "every site's audit trail as the hub holds it: tail, export and verify", leaves: HUB_AUDIT },
    { name: 'account', summary: "accounts of the hub's API (GET /api): add, list, revoke", leaves: HUB_ACCOUNT },
  ],
};

const ENROL: Leaf = {
  name: 'enrol',
  summary: "enrols this site's controller with a hub: writes its credential beside the store and prints the site file's hub: lines",
  usage: '--hub URL --code CODE [--adopt-site-key] [--config FILE]',
  details:
    "Every controller of a site issues with one key, so that a link made at one opens the doors of all. The first controller enrolled at a site gives the site its key; later ones take it. A controller that has issued links with another key is refused, unless --adopt-site-key: its links then stop working.",
  options: [
    opt('--hub <URL>', "the hub's address, e.g. https://hub.example:8450"),
    opt('--code <CODE>', 'the enrolment code `postern hub controller add` printed'),
    opt('--adopt-site-key', "take the site's issuing key even though the links this controller issued then stop opening doors"),
  ],
  load: () => import('./enrolCommand.ts').then((m) => m.enrolCommand),
};

const GROUPS: Group[] = [
  { name: 'link', summary: 'access links: codes for visitors, printed or emailed', details: TIME, leaves: LINK },
  { name: 'credential', summary: 'rotating credentials: badges on phones whose code changes every 15 s', leaves: CREDENTIAL },
  { name: 'scope', summary: 'scopes: the named sets of doors that links, credentials and partners open', leaves: SCOPE },
  { name: 'partner', summary: 'partners: other issuers whose codes this site accepts', leaves: PARTNER },
  { name: 'audit', summary: 'the audit trail: tail, export, head and verify its hash chains', leaves: AUDIT },
  { name: 'user', summary: 'users of the web UI and the API', details: `ROLE is one of ${USER_ROLES}.`, leaves: USER },
  { name: 'token', summary: 'API tokens', leaves: TOKEN },
  { name: 'tls', summary: 'the site certificate for HTTPS, which kiosk tablets need for their camera', leaves: TLS },
  { name: 'demo', summary: "the demo's simulated doors: force one open, hold one open, close it, to see the alarms", details: DEMO_DETAILS, leaves: DEMO },
];

/** `postern partner ...` as the CLI states it (docs/partners.md quotes these lines). */
export const PARTNER_USAGE = synopsis('partner', PARTNER);

function synopsis(group: string, leaves: Leaf[]): string {
  return leaves.map((leaf) => `postern ${group} ${leaf.name.split(' ')[0]} ${leaf.usage ?? ''}`.trimEnd()).join('\n');
}

const ROOT_FOOTER = `
Every command takes --config FILE (default: $POSTERN_CONFIG, else the demo site) and
uses PostgreSQL when DATABASE_URL is set, else the SQLite file in the site's data
directory; POSTERN_DATA_DIR and POSTERN_API_PORT replace the site file's dataDir and
api.port. Commands other than start make no new store unless given --create.

\`postern help <command>\` or \`postern <command> --help\` shows a command's options.`;

/** The whole command line, its actions writing to `io`. Errors end in a CommanderError (exitOverride): main.ts picks the exit status. */
export function buildProgram(io: CliEnvironment): Command {
  const program = new Command('postern')
    .description('Postern: a self-hosted access controller for doors that open with QR codes.')
    .usage('<command> [options]')
    .version(VERSION, '-V, --version', 'the version of Postern')
    // Set before any subcommand is added: commander copies them to each.
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      getOutHelpWidth: () => columns(io.stdout),
      getErrHelpWidth: () => columns(io.stderr),
      outputError: (text, write) => write(`postern: ${text.replace(/^error: /, '')}`),
    })
    .configureHelp({
      // In `postern --help`, short terms (`link <command>`, `scan [options] <text>`); in a group's help, each command's synopsis.
      subcommandTerm(cmd) {
        if (cmd.commands.length > 0) return `${cmd.name()} <command>`;
        return cmd.parent?.parent ? `${cmd.name()} ${cmd.usage()}`.trimEnd() : Help.prototype.subcommandTerm.call(this, cmd);
      },
      formatItem: stackedItem,
    })
    .showHelpAfterError()
    .exitOverride()
    .addHelpText('after', ROOT_FOOTER);

  addCommand(program, START, io);
  for (const group of [...GROUPS, HUB_GROUP]) addGroup(program, group, io);
  for (const leaf of [SCAN, DOCTOR, BACKUP, RESTORE, ENROL]) addCommand(program, leaf, io);
  return program;
}

/** A group and its commands; a group may hold groups (`hub site add`). */
function addGroup(parent: Command, group: Group, io: CliEnvironment): void {
  const command = parent.command(group.name).summary(group.summary).description(group.summary).usage('<command> [options]');
  if (group.details) command.addHelpText('after', `\n${group.details}`);
  for (const leaf of group.leaves) addCommand(command, leaf, io);
  for (const sub of group.groups ?? []) addGroup(command, sub, io);
}

function addCommand(parent: Command, leaf: Leaf, io: CliEnvironment): void {
  const command = parent
    .command(leaf.name)
    .summary(leaf.summary)
    .description(leaf.details ? `${leaf.summary}.\n${leaf.details}` : leaf.summary);
  if (leaf.usage !== undefined) command.usage(leaf.usage);
  for (const option of leaf.options ?? []) command.addOption(option());
  command.addOption(new Option('--config <FILE>', 'the site file (default: $POSTERN_CONFIG, else the demo site)'));
  if (leaf.store) command.addOption(new Option('--create', 'make a new, empty store when there is none (else refused)'));
  command.action(async () => {
    const values = { ...command.opts(), ...Object.fromEntries(command.registeredArguments.map((a, i) => [a.name(), command.processedArgs[i]])) };
    const run = await leaf.load();
    try {
      await run(values as never, io);
    } catch (error) {
      // Printed like commander's own errors: the message, then this command's help; exit status 2.
      if (error instanceof UsageError) command.error(error.message, { exitCode: 2, code: 'postern.usage' });
      throw error;
    }
  });
}

/** Help fits a terminal's width; elsewhere (a pipe, a file) 80 columns. */
function columns(stream: NodeJS.WritableStream): number {
  const tty = stream as NodeJS.WriteStream;
  return (tty.isTTY && tty.columns) || 80;
}

/**
 * A help item as commander lays it out, except after a long term (a command's synopsis): then
 * the description stands below it, rather than being pushed off the screen.
 */
function stackedItem(this: Help, term: string, termWidth: number, description: string, helper: Help): string {
  if (termWidth <= 32 || !description) return Help.prototype.formatItem.call(this, term, termWidth, description, helper);
  const indent = ' '.repeat(6);
  return `  ${term}\n${indent}${helper.boxWrap(description, (this.helpWidth ?? 80) - indent.length).replace(/\n/g, `\n${indent}`)}`;
}
