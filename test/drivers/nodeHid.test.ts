/**
 * node-hid itself loads and lists devices where libusb is installed. The drivers import it only
 * when a site has a HID device, so everything else runs without it.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const hasLibusb = (() => {
  try {
    return /libusb-1\.0\.so/.test(execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }));
  } catch {
    return false;
  }
})();
const requireAll = process.env.POSTERN_TEST_REQUIRE_ALL === '1';

describe.skipIf(!hasLibusb && !requireAll)(hasLibusb ? 'node-hid' : 'node-hid (skipped: libusb-1.0-0 not installed)', () => {
  it('loads and enumerates HID devices', async () => {
    const hid = await import('node-hid');
    const devices = await hid.devicesAsync();
    expect(Array.isArray(devices)).toBe(true);
  });
});
