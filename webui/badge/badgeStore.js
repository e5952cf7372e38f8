/**
 * Where the phone keeps its badge: localStorage of this origin, one entry. The secret never leaves
 * the phone again once it is here.
 */
const KEY = 'postern.badge.v1';

/** The stored badge {credentialId, secret, name, site, scope, periodSeconds, enrolledAt}, or null. */
export function loadBadge() {
  try {
    const badge = JSON.parse(localStorage.getItem(KEY) ?? 'null');
    if (badge && /^\d{1,20}$/.test(badge.credentialId) && /^[0-9a-f]{64}$/.test(badge.secret)) return badge;
  } catch {
    // A damaged entry is no badge.
  }
  return null;
}

export function saveBadge(badge) {
  localStorage.setItem(KEY, JSON.stringify(badge));
}

export function forgetBadge() {
  localStorage.removeItem(KEY);
}
