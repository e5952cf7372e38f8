import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The credential format's test vectors (docs/credential-format.md, "Test vectors"): the repository's own fixture. */
export const VECTORS_PATH = fileURLToPath(new URL('../fixtures/credential-vectors.json', import.meta.url));

export interface CredentialVectors {
  site_key: string;
  partner_17_secret: string;
  credential_9001_secret: string;
  vectors: Array<{
    name: string;
    code: string;
    kind: 'link' | 'online-link' | 'rotating';
    issuer: number;
    subject: number;
    not_before?: number;
    not_after?: number;
    step?: number;
    generated_at?: number;
    scope: number;
    derived_secret?: string;
  }>;
  site: {
    doors: string[];
    scopes: Record<string, string[]>;
    site_default_scope: number | null;
    partners: Record<string, { allowed_scopes: number[]; default_scope: number | null }>;
    rotating_credentials: Record<string, { scope: number }>;
    period_seconds: number;
  };
  cases: Array<{ code: string; door: string; now: number; verdict: string; note?: string }>;
  replay: { code: string; door: string; now: number };
}

export const vectors: CredentialVectors = JSON.parse(readFileSync(VECTORS_PATH, 'utf8'));
