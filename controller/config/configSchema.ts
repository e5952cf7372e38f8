/**
 * The site file: one schema, validated once at start. Every problem is reported with its path.
 */
import { outboundWebhookSchema } from './outboundWebhookSchema.ts';
import { z } from 'zod';
import { doorIoConfig, scannerConfigSchema } from '../../drivers/driverConfig.ts';
import { decoderSchema } from '../../drivers/scanners/camera/cameraConfig.ts';
import { checkDelegation, delegationOverrideSchema, siteDelegationSchema } from './delegationSchema.ts';

/** Scope ids at or above this are door sets made by the store for links issued with a door list. */
export const FIRST_DOOR_SET_SCOPE = 0x40000000;

const id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1-64 characters: lower-case letters, digits, - and _');

const door = z.strictObject({
  id,
  name: z.string().min(1).max(120),
  /** The door's lock and contacts (drivers/driverConfig.ts). */
  io: doorIoConfig.default({ driver: 'simulated', autoWalkThrough: false }),
  unlockSeconds: z.number().positive().max(3600).default(5),
  heldOpenSeconds: z.number().positive().max(86_400).default(30),
  failMode: z.enum(['secure', 'safe']).default('secure'),
  rexUnlocks: z.boolean().default(true),
  /** Delegated evaluation for this door's scanners (delegationSchema.ts). */
  delegation: delegationOverrideSchema.optional(),
});

const scannerCommon = {
  id,
  door: id,
  debounceMs: z.number().int().min(0).max(60_000).default(1500),
  /** Delegated evaluation for this scanner, over its door's and the site's (delegationSchema.ts). */
  delegation: delegationOverrideSchema.optional(),
};

/** One variant per scanner driver, with its options (drivers/driverConfig.ts). */
const scanner = scannerConfigSchema(scannerCommon);

const rate = z.strictObject({ rate: z.number().positive().max(100_000), burst: z.number().int().min(1).max(100_000) });

const api = z.strictObject({
  enabled: z.boolean().default(true),
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 picks a free port (tests). */
  port: z.number().int().min(0).max(65_535).default(8080),
  /** PEM files; with them the server speaks HTTPS and WSS. */
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  /** Browser origins allowed besides the server's own (a foreign Origin is refused with 403). */
  allowedOrigins: z.array(z.string().url()).default([]),
  /** Larger WebSocket messages close the connection with 1009. */
  maxMessageBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
  /** A client whose unsent data passes this is dropped. */
  maxBufferedBytes: z.number().int().min(16 * 1024).max(256 * 1024 * 1024).default(1024 * 1024),
  maxBatch: z.number().int().min(1).max(1000).default(50),
  heartbeatSeconds: z.number().positive().max(3600).default(30),
  rateLimit: z
    .strictObject({ perConnection: rate, perToken: rate })
    .default({ perConnection: { rate: 50, burst: 100 }, perToken: { rate: 200, burst: 400 } }),
  /** Stored rows the API's reads may go through per second, all clients together (api/readBudget.ts). */
  readRowsPerSecond: z.number().int().min(100).max(10_000_000).default(5000),
  /** /metrics without a token (for a scraper on a trusted network). */
  publicMetrics: z.boolean().default(false),
});

/** An address, bare or with a display name: `door@example.org` or `Front desk <door@example.org>`. */
const mailAddress = z.string().regex(/^(?:[^<>\r\n]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/, 'must be an email address, as a@b.c or Name <a@b.c>');

/** Access links by email: the sender, and the SMTP server that takes the messages. */
const email = z
  .strictObject({
    from: mailAddress,
    smtp: z
      .strictObject({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65_535).default(587),
        /** true: TLS from the first byte (port 465); false: plain, upgraded with STARTTLS. */
        secure: z.boolean().default(false),
        /** With secure false: refuse to send unless the server offers STARTTLS. */
        requireTLS: z.boolean().default(true),
        user: z.string().min(1).optional(),
        password: z.string().min(1).optional(),
        /** A file holding the password (read at start), to keep the secret out of the site file. */
        passwordFile: z.string().min(1).optional(),
      })
      .superRefine((smtp, ctx) => {
        if (smtp.password !== undefined && smtp.passwordFile !== undefined) ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'give password or passwordFile, not both' });
        if (smtp.user === undefined && (smtp.password !== undefined || smtp.passwordFile !== undefined)) ctx.addIssue({ code: 'custom', path: ['user'], message: 'a password needs a user' });
      })
      .optional(),
  })
  .optional();

/**
 * The MQTT bridge (controller/mqtt/): door state and decisions published to a broker, door commands
 * taken from it with the role of an API token, and Home Assistant discovery.
 */
const mqtt = z
  .strictObject({
    /** mqtt://host:1883, mqtts://host:8883, ws:// or wss:// */
    url: z.string().regex(/^(mqtts?|wss?):\/\/[^\s]+$/, 'must be an mqtt://, mqtts://, ws:// or wss:// URL'),
    /** default: postern-<site id> */
    clientId: z.string().min(1).max(64).optional(),
    username: z.string().min(1).max(200).optional(),
    /** A file holding the broker password (read at start), to keep the secret out of the site file. */
    passwordFile: z.string().min(1).optional(),
    /**
     * A file holding an API token (postern token create): commands from the broker act as that
     * token, with its role, checked at each command. None: the bridge publishes and takes no command.
     */
    tokenFile: z.string().min(1).optional(),
    /** Where Postern's topics live; default postern/<site id>. MQTT wildcards (# +) are not allowed. */
    topicPrefix: z.string().min(1).max(200).regex(/^[^#+\u0000]+$/, 'must not hold # or +').optional(),
    /** Home Assistant MQTT discovery: each door a lock entity and a door sensor. */
    discovery: z.boolean().default(true),
    discoveryPrefix: z.string().min(1).max(200).regex(/^[^#+\u0000]+$/, 'must not hold # or +').default('homeassistant'),
  })
  .superRefine((m, ctx) => {
    if (m.passwordFile !== undefined && m.username === undefined) ctx.addIssue({ code: 'custom', path: ['username'], message: 'a password needs a username' });
  })
  .optional();

/**
 * The hub this controller syncs with (docs/sync.md); absent, the controller runs standalone. The
 * credential is in a file (written by `postern enrol`), never in the site file.
 */
const hub = z
  .strictObject({
    /** The hub's address: ws:// or wss:// (the /sync path is taken as given, or added), or http(s):// (its /sync is used). */
    url: z.string().regex(/^(wss?|https?):\/\/[^\s@/]+(\/[^\s]*)?$/, 'must be a ws://, wss://, http:// or https:// URL without a user or password'),
    /** Default: <dataDir>/hub-credential.<site id>, where `postern enrol` writes it. */
    credentialFile: z.string().min(1).optional(),
    /** PEM certificates of a private CA the hub's certificate is signed by (else the system's CAs). */
    caFile: z.string().min(1).optional(),
    /**
     * Whether the hub's accounts may call this controller's API methods through the link (site.call,
     * docs/hub-api.md). Absent: true. Optional rather than defaulted, so that a HubConfig written
     * in code needs no change.
     */
    remoteAdmin: z.boolean().optional(),
  })
  .optional();

/** The operator web UI: sessions of user accounts, socket.io and the built pages (controller/web/). */
const web = z.strictObject({
  enabled: z.boolean().default(true),
  /** A session unused this long ends. */
  sessionIdleMinutes: z.number().positive().max(24 * 60).default(30),
  /** A session ends this long after sign-in, used or not. */
  sessionMaxHours: z.number().positive().max(24 * 30).default(12),
  /** Wrong passwords per user name, and per client address, within the window before sign-in is refused (429). */
  loginFailures: z.number().int().min(1).max(1000).default(5),
  loginWindowMinutes: z.number().positive().max(24 * 60).default(5),
});

const scope = z.strictObject({
  id: z.number().int().min(1).max(FIRST_DOOR_SET_SCOPE - 1),
  name: z.string().min(1).max(120),
  doors: z.array(id).min(1),
});

export const configSchema = z
  .strictObject({
    site: z.strictObject({
      /** The controller id stamped on every audit event. */
      id,
      name: z.string().min(1).max(120),
      /** Scope that code scope 0 of the site issuer means; none means such codes open no door. */
      defaultScope: z.number().int().min(1).nullable().default(null),
    }),
    dataDir: z.string().min(1).default('./data'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    throttle: z
      .strictObject({
        maxFailures: z.number().int().min(1).max(1000),
        windowSeconds: z.number().positive().max(3600),
        lockoutSeconds: z.number().positive().max(3600),
        maxLockoutSeconds: z.number().positive().max(86_400),
      })
      .default({ maxFailures: 8, windowSeconds: 10, lockoutSeconds: 5, maxLockoutSeconds: 120 }),
    api: api.prefault({}),
    /** The badge page for members' phones (controller/badge). */
    badge: z
      .strictObject({
        /** The address phones reach the controller at, for enrolment links (default: from api host and port). */
        publicUrl: z.string().url().regex(/^https?:\/\//, 'must be an http:// or https:// URL').optional(),
      })
      .prefault({}),
    web: web.prefault({}),
    scopes: z.array(scope).default([]),
    doors: z.array(door).min(1),
    scanners: z.array(scanner).default([]),
    /** The worker threads that decode camera and kiosk frames. */
    decoder: decoderSchema.prefault({}),
    email,
    mqtt,
    /** Endpoints that receive the audit trail's events as they are recorded (outboundWebhookSchema.ts). */
    webhooks: z.array(outboundWebhookSchema).max(32).default([]),
    hub,
    /** Text that is no Postern code, decided by a partner's webhook (delegationSchema.ts). */
    delegation: siteDelegationSchema.optional(),
  })
  .superRefine((config, ctx) => {
    const doorIds = new Set<string>();
    config.doors.forEach((d, i) => {
      if (doorIds.has(d.id)) ctx.addIssue({ code: 'custom', path: ['doors', i, 'id'], message: `duplicate door id "${d.id}"` });
      doorIds.add(d.id);
    });
    const scannerIds = new Set<string>();
    config.scanners.forEach((s, i) => {
      if (scannerIds.has(s.id)) ctx.addIssue({ code: 'custom', path: ['scanners', i, 'id'], message: `duplicate scanner id "${s.id}"` });
      scannerIds.add(s.id);
      if (!doorIds.has(s.door)) ctx.addIssue({ code: 'custom', path: ['scanners', i, 'door'], message: `no door "${s.door}"` });
    });
    if (config.scanners.filter((s) => s.driver === 'terminal').length > 1) {
      ctx.addIssue({ code: 'custom', path: ['scanners'], message: 'at most one scanner can read the terminal' });
    }
    const scopeIds = new Set<number>();
    config.scopes.forEach((s, i) => {
      if (scopeIds.has(s.id)) ctx.addIssue({ code: 'custom', path: ['scopes', i, 'id'], message: `duplicate scope id ${s.id}` });
      scopeIds.add(s.id);
      s.doors.forEach((d, j) => {
        if (!doorIds.has(d)) ctx.addIssue({ code: 'custom', path: ['scopes', i, 'doors', j], message: `no door "${d}"` });
      });
    });
    const defaultScope = config.site.defaultScope;
    if (defaultScope !== null && !scopeIds.has(defaultScope)) {
      ctx.addIssue({ code: 'custom', path: ['site', 'defaultScope'], message: `no scope ${defaultScope}` });
    }
    checkDelegation(config, ctx);
    const webhookIds = new Set<string>();
    config.webhooks.forEach((w, i) => {
      if (webhookIds.has(w.id)) ctx.addIssue({ code: 'custom', path: ['webhooks', i, 'id'], message: `duplicate webhook id "${w.id}"` });
      webhookIds.add(w.id);
      w.doors?.forEach((d, j) => {
        if (!doorIds.has(d)) ctx.addIssue({ code: 'custom', path: ['webhooks', i, 'doors', j], message: `no door "${d}"` });
      });
    });
  });

export type SiteConfigInput = z.input<typeof configSchema>;
export type SiteConfig = z.output<typeof configSchema>;
export type DoorConfig = SiteConfig['doors'][number];
export type ScannerConfig = SiteConfig['scanners'][number];
export type ScopeConfig = SiteConfig['scopes'][number];
export type ApiConfig = SiteConfig['api'];
export type WebConfig = SiteConfig['web'];
export type EmailConfig = NonNullable<SiteConfig['email']>;
export type MqttConfig = NonNullable<SiteConfig['mqtt']>;
export type HubConfig = NonNullable<SiteConfig['hub']>;
export type DelegationConfig = NonNullable<SiteConfig['delegation']>;
