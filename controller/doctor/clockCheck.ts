/**
 * Whether the system clock is synchronised. Rotating codes change every 15 seconds and webhook
 * signatures are refused 300 s off, so a controller whose clock drifts denies good codes.
 *
 * Asked in turn, the first that can tell wins: systemd (`timedatectl show -p NTPSynchronized`,
 * which reads the kernel's adjtimex state whatever daemon keeps the time), the flag file of
 * systemd-timesyncd, chrony (`chronyc tracking`). Node.js cannot call adjtimex(2) itself and
 * /proc does not show its state, so without any of these the answer is "cannot tell".
 */
import { access } from 'node:fs/promises';
import type { DoctorCheck, DoctorContext } from './doctor.ts';

const WHY = 'rotating codes change every 15 s: a clock that is off denies good codes';
const HINT_ENABLE = 'apt-get install systemd-timesyncd (or chrony), then timedatectl set-ntp true; timedatectl timesync-status shows the server';

export async function clockCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  const name = 'clock';
  const { system } = ctx;
  const synced = await system.run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeoutMs: 5000 });
  if (!synced.missing && synced.code === 0) {
    const value = synced.stdout.trim();
    if (value === 'yes') return { name, status: 'ok', message: 'synchronised (timedatectl: NTPSynchronized=yes)' };
    if (value === 'no') {
      const ntp = await system.run('timedatectl', ['show', '-p', 'NTP', '--value'], { timeoutMs: 5000 });
      const off = !ntp.missing && ntp.code === 0 && ntp.stdout.trim() === 'no';
      return {
        name,
        status: 'warn',
        message: `not synchronised (timedatectl: NTPSynchronized=no${off ? ', and NTP is off' : ''}): ${WHY}`,
        hint: off ? 'timedatectl set-ntp true' : 'check that the time server is reachable: timedatectl timesync-status (or chronyc sources)',
      };
    }
  }
  if (await exists(system.timesyncFile)) return { name, status: 'ok', message: `synchronised (systemd-timesyncd: ${system.timesyncFile})` };
  const chrony = await system.run('chronyc', ['-n', 'tracking'], { timeoutMs: 5000 });
  if (!chrony.missing && chrony.code === 0) {
    const leap = /^Leap status\s*:\s*(.+)$/m.exec(chrony.stdout)?.[1]?.trim();
    if (leap !== undefined && leap !== 'Not synchronised') return { name, status: 'ok', message: `synchronised (chrony: leap status ${leap})` };
    if (leap === 'Not synchronised') return { name, status: 'warn', message: `not synchronised (chrony): ${WHY}`, hint: 'chronyc sources shows why: a time server must be reachable' };
  }
  return {
    name,
    status: 'warn',
    message: `cannot tell whether the clock is synchronised (no answer from timedatectl, systemd-timesyncd or chrony): ${WHY}`,
    hint: HINT_ENABLE,
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
