/**
 * credentials.enrol: a one-time enrolment link for a rotating credential, the link `postern
 * credential create` prints, so that the web UI (or an integrator) can bring a badge to its
 * holder's phone without the secret ever passing through an operator's hands. The rules and the
 * audit event (`credential.enrol-link`) are BadgeEnrolments' (controller/badge/enrolment.ts).
 */
import { z } from 'zod';
import { DEFAULT_ENROL_HOURS, MAX_ENROL_HOURS, type BadgeEnrolments } from '../../badge/enrolment.ts';
import { method, type MethodTable } from '../methodTypes.ts';

export function enrolmentMethods(api: { enrolments?: BadgeEnrolments }): MethodTable {
  const { enrolments } = api;
  if (enrolments === undefined) return {};
  return {
    'credentials.enrol': method({
      // As credentials.create: whoever may make a credential may hand it to its holder.
      role: 'integrator',
      params: z.strictObject({
        id: z.string().regex(/^\d{1,20}$/, 'a decimal id'),
        validHours: z.number().positive().max(MAX_ENROL_HOURS).default(DEFAULT_ENROL_HOURS),
      }),
      // The link is answered once, to the caller: whoever opens it first gets the badge.
      handler: async ({ id, validHours }, { actor }) => {
        const { url, expiresAt } = await enrolments.create(id, actor, validHours);
        return { id, url, expiresAt };
      },
    }),
  };
}
