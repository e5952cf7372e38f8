import type { Accounts } from '../accounts/accounts.ts';
import type { BadgeEnrolments } from '../badge/enrolment.ts';
import type { SiteConfig } from '../config/configSchema.ts';
import type { LatencyWindow } from '../decision/latencyWindow.ts';
import type { DoorOperator } from '../doorOperator.ts';
import type { LinkEmails } from '../email/linkEmails.ts';
import type { HolderNames } from '../issuing/holderNames.ts';
import type { Issuing } from '../issuing/issuing.ts';
import type { SiteMonitor } from '../siteMonitor.ts';
import type { Store } from '../store/storeTypes.ts';
import type { SyncLink } from '../sync/syncLink.ts';
import type { NetworkScanner } from '../../drivers/scanners/networkScanner.ts';
import type { OutboundWebhooks } from '../webhooks/outboundWebhooks.ts';
import type { EventHub } from './eventHub.ts';
import type { Idempotency } from './idempotency.ts';
import type { ReadBudget } from './readBudget.ts';
import type { DemoDoors } from './methods/demoMethods.ts';

/** What the API's methods work with: the running controller's parts, nothing global. */
export interface ApiServices {
  config: SiteConfig;
  doors: DoorOperator;
  monitor: SiteMonitor;
  issuing: Issuing;
  /** Link emails (links.send, links.eml); absent, those methods say email is not configured. */
  linkEmails?: LinkEmails;
  store: Pick<Store, 'queryAudit' | 'holderSubjects' | 'dialect'>;
  /** Rows the API's reads may go through per second, all clients together (readBudget.ts). */
  readBudget: ReadBudget;
  /** Idempotency keys of creates (idempotency.ts). */
  idempotency: Idempotency;
  /** Names of whom audit events are about, for audit.query's answers. */
  holderNames: HolderNames;
  /** Users and API tokens (users.*, tokens.*); absent, those methods are not offered. */
  accounts?: Accounts;
  /** Badge enrolment links (credentials.enrol); absent, that method is not offered. */
  enrolments?: BadgeEnrolments;
  /** Outbound webhooks (webhooks.*); absent, those methods are not offered. */
  webhooks?: OutboundWebhooks;
  /** The site's simulated doors (demo.*); absent where no door is simulated, those methods are not offered. */
  demo?: DemoDoors;
  /** The hub link (sync.status); absent, the controller is standalone. */
  sync?: Pick<SyncLink, 'status' | 'hubUrl'>;
  events: EventHub;
  networkScanners: ReadonlyMap<string, NetworkScanner>;
  latency(door: string): LatencyWindow | undefined;
  startedAt: number;
  version: string;
  controllerId: string;
}
