// The API's methods and their parameters, made from the method table's zod schemas (their input
// types, by way of rpc.discover's JSON Schema) by test/client/clientTypes.ts. Do not edit: run
// `npx tsx test/client/clientTypes.ts` after a method or a parameter changes.

/** Each method's parameters, by name. */
export interface PosternMethodParams {
  "audit.query": { "controllerId"?: string; "since"?: number; "until"?: number; "door"?: string; "subject"?: string; "holder"?: string; "verdict"?: "grant" | "deny"; "afterSeq"?: number; "beforeSeq"?: number; "limit"?: number; "order"?: "asc" | "desc" };
  "credentials.create": { "name": string; "scope": number; "idempotencyKey"?: string };
  "credentials.enrol": { "id": string; "validHours"?: number };
  "credentials.list": { "includeRevoked"?: boolean; "limit"?: number; "offset"?: number; "search"?: string };
  "credentials.revoke": { "id": string; "reason"?: string };
  "credentials.update": { "id": string; "name"?: string; "scope"?: number };
  "demo.close": { "door": string };
  "demo.forceOpen": { "door": string };
  "demo.holdOpen": { "door": string };
  "door.stats": { "door": string; "since"?: number; "until"?: number; "bucketSeconds"?: number };
  "doors.acknowledge": { "door": string };
  "doors.get": { "door": string };
  "doors.list": Record<string, never>;
  "doors.lock": { "door": string };
  "doors.lockdown": { "door"?: string; "on": boolean };
  "doors.passage": { "door": string; "on": boolean };
  "doors.unlock": { "door": string; "seconds"?: number };
  "links.create": { "name": string; "email"?: string | null; "scope"?: number; "doors"?: Array<string>; "notBefore"?: number; "notAfter"?: number | null; "onlineOnly"?: boolean; "maxUses"?: number | null; "idempotencyKey"?: string };
  "links.eml": { "id": string; "to"?: string };
  "links.get": { "id": string };
  "links.list": { "includeRevoked"?: boolean; "limit"?: number; "offset"?: number; "search"?: string };
  "links.revoke": { "id": string; "reason"?: string };
  "links.send": { "id": string; "to"?: string };
  "links.update": { "id": string; "name"?: string; "email"?: string | null; "scope"?: number; "doors"?: Array<string>; "notBefore"?: number; "notAfter"?: number | null };
  "partners.add": { "id": number; "name": string; "allowedScopes": Array<number>; "defaultScope"?: number | null; "secret"?: string; "idempotencyKey"?: string };
  "partners.list": Record<string, never>;
  "partners.remove": { "id": number };
  "partners.revokeSubject": { "partner": number; "subject": string; "reason"?: string };
  "rpc.discover": Record<string, never>;
  "scanner.frame": { "image": string; "scanner"?: string };
  "scanner.read": { "text": string; "scanner"?: string };
  "scanners.get": { "scanner": string };
  "scanners.list": Record<string, never>;
  "scopes.list": Record<string, never>;
  "subscribe": { "topics": Array<"door" | "scanner" | "link" | "audit" | "sync">; "doors"?: Array<string>; "after"?: number; "verdict"?: "grant" | "deny"; "types"?: Array<"decision" | "door" | "operator" | "system">; "scanners"?: Array<string>; "subjects"?: Array<string> };
  "sync.status": Record<string, never>;
  "system.info": Record<string, never>;
  "tokens.create": { "name": string; "role": string; "scanner"?: string | null; "doors"?: Array<string> | null; "idempotencyKey"?: string };
  "tokens.list": Record<string, never>;
  "tokens.revoke": { "id": string };
  "unsubscribe": { "subscription": string };
  "users.add": { "name": string; "role": string; "password": string; "idempotencyKey"?: string };
  "users.disable": { "name": string };
  "users.enable": { "name": string };
  "users.list": Record<string, never>;
  "users.resetPassword": { "name": string; "password": string };
  "users.setRole": { "name": string; "role": string };
  "webhooks.deadLetters": { "webhook": string };
  "webhooks.list": Record<string, never>;
  "webhooks.redeliver": { "webhook": string; "id": string };
}

export type PosternMethod = keyof PosternMethodParams;

/**
 * Each method's least role, and whether it takes an idempotency key: what the client needs to
 * know whether a call may be sent again after a dropped connection, when the controller does
 * not answer rpc.discover (a scanner token may not call it).
 */
export const METHOD_INFO: Readonly<Record<string, { role: string; idempotencyKey: boolean }>> = {
  "audit.query": { role: "viewer", idempotencyKey: false },
  "credentials.create": { role: "integrator", idempotencyKey: true },
  "credentials.enrol": { role: "integrator", idempotencyKey: false },
  "credentials.list": { role: "viewer", idempotencyKey: false },
  "credentials.revoke": { role: "integrator", idempotencyKey: false },
  "credentials.update": { role: "integrator", idempotencyKey: false },
  "demo.close": { role: "operator", idempotencyKey: false },
  "demo.forceOpen": { role: "operator", idempotencyKey: false },
  "demo.holdOpen": { role: "operator", idempotencyKey: false },
  "door.stats": { role: "viewer", idempotencyKey: false },
  "doors.acknowledge": { role: "operator", idempotencyKey: false },
  "doors.get": { role: "viewer", idempotencyKey: false },
  "doors.list": { role: "viewer", idempotencyKey: false },
  "doors.lock": { role: "operator", idempotencyKey: false },
  "doors.lockdown": { role: "operator", idempotencyKey: false },
  "doors.passage": { role: "operator", idempotencyKey: false },
  "doors.unlock": { role: "operator", idempotencyKey: false },
  "links.create": { role: "integrator", idempotencyKey: true },
  "links.eml": { role: "integrator", idempotencyKey: false },
  "links.get": { role: "viewer", idempotencyKey: false },
  "links.list": { role: "viewer", idempotencyKey: false },
  "links.revoke": { role: "integrator", idempotencyKey: false },
  "links.send": { role: "integrator", idempotencyKey: false },
  "links.update": { role: "integrator", idempotencyKey: false },
  "partners.add": { role: "admin", idempotencyKey: true },
  "partners.list": { role: "viewer", idempotencyKey: false },
  "partners.remove": { role: "admin", idempotencyKey: false },
  "partners.revokeSubject": { role: "admin", idempotencyKey: false },
  "rpc.discover": { role: "viewer", idempotencyKey: false },
  "scanner.frame": { role: "scanner", idempotencyKey: false },
  "scanner.read": { role: "scanner", idempotencyKey: false },
  "scanners.get": { role: "viewer", idempotencyKey: false },
  "scanners.list": { role: "viewer", idempotencyKey: false },
  "scopes.list": { role: "viewer", idempotencyKey: false },
  "subscribe": { role: "viewer", idempotencyKey: false },
  "sync.status": { role: "viewer", idempotencyKey: false },
  "system.info": { role: "viewer", idempotencyKey: false },
  "tokens.create": { role: "admin", idempotencyKey: true },
  "tokens.list": { role: "admin", idempotencyKey: false },
  "tokens.revoke": { role: "admin", idempotencyKey: false },
  "unsubscribe": { role: "viewer", idempotencyKey: false },
  "users.add": { role: "admin", idempotencyKey: true },
  "users.disable": { role: "admin", idempotencyKey: false },
  "users.enable": { role: "admin", idempotencyKey: false },
  "users.list": { role: "admin", idempotencyKey: false },
  "users.resetPassword": { role: "admin", idempotencyKey: false },
  "users.setRole": { role: "admin", idempotencyKey: false },
  "webhooks.deadLetters": { role: "integrator", idempotencyKey: false },
  "webhooks.list": { role: "integrator", idempotencyKey: false },
  "webhooks.redeliver": { role: "integrator", idempotencyKey: false },
};
