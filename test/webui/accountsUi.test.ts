/**
 * The Accounts page in Chromium against a real controller: an admin adds a user, who signs in in
 * another browser; the admin changes its role, disables it (its next sign-in fails), makes an API
 * token that works over the API, and revokes it (a new connection is then refused). Needs a build
 * of the current webui/src (`npm run build:ui`); ensureUiBuilt only builds when there is none.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, upgradeStatus } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { addUsers, ensureUiBuilt, haveChromium, launchChromium, requireAll, type Chromium } from './uiHarness.ts';

const PASSWORD = 'correct horse battery';
const UMA_PASSWORD = 'uma has a long password';
const runs = haveChromium || requireAll;
const title = runs ? 'Accounts page in Chromium' : 'Accounts page: skipped: Chromium not installed (apt-get install chromium)';

describe.skipIf(!runs)(title, () => {
  let site: ApiSite;
  let adminBrowser: Chromium;
  // A second Chromium, so that the other user has cookies (a session) of its own.
  let userBrowser: Chromium;
  let page: Page;
  let other: Page;
  const userRow = (name: string) => page.locator(`tr[data-user="${name}"]`);

  async function signIn(p: Page, name: string, password: string): Promise<void> {
    await p.locator('input[name="name"]').fill(name);
    await p.locator('input[name="password"]').fill(password);
    await p.locator('button[type="submit"]').click();
  }

  async function signOut(p: Page): Promise<void> {
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.locator('input[name="password"]').waitFor();
  }

  beforeAll(async () => {
    ensureUiBuilt();
    site = await startApiSite();
    await addUsers(site.dataDir, [{ name: 'ada', password: PASSWORD, role: 'admin' }]);
    adminBrowser = await launchChromium();
    userBrowser = await launchChromium();
    page = adminBrowser.context.pages()[0] ?? (await adminBrowser.context.newPage());
    other = userBrowser.context.pages()[0] ?? (await userBrowser.context.newPage());
    page.setDefaultTimeout(30_000);
    other.setDefaultTimeout(30_000);
  });

  afterAll(async () => {
    await userBrowser?.close();
    await adminBrowser?.close();
    await site?.stop();
  });

  it('shows the Accounts tab to an admin, who adds a user that then signs in elsewhere', async () => {
    await page.goto(site.url + '/');
    await signIn(page, 'ada', PASSWORD);
    await page.getByRole('link', { name: 'Accounts' }).click();
    await userRow('ada').waitFor();
    expect(await userRow('ada').textContent()).toContain('(you)');

    const form = page.locator('#add-user');
    await form.getByLabel('Name').fill('uma');
    await form.getByLabel('Role').selectOption('operator');
    await form.getByLabel('Password').fill(UMA_PASSWORD);
    await form.getByLabel('Again').fill('not the same password');
    await form.getByRole('button', { name: 'Add user' }).click();
    await form.getByRole('alert').filter({ hasText: 'differ' }).waitFor();
    await form.getByLabel('Again').fill(UMA_PASSWORD);
    await form.getByRole('button', { name: 'Add user' }).click();
    await page.locator('tr[data-user="uma"][data-role="operator"][data-disabled="false"]').waitFor();

    await other.goto(site.url + '/');
    await signIn(other, 'uma', UMA_PASSWORD);
    await expect.poll(() => other.locator('.user').textContent(), { timeout: 15_000 }).toContain('(operator)');
    // An operator has no Accounts tab.
    expect(await other.getByRole('link', { name: 'Accounts' }).count()).toBe(0);
    // The sign-in shows on the admin's list.
    await page.reload();
    await expect.poll(() => userRow('uma').locator('td').nth(3).textContent(), { timeout: 15_000 }).not.toBe('—');
  });

  it('changes the role of the user: its next sign-in has the new role', async () => {
    await userRow('uma').getByLabel('Role of uma').selectOption('viewer');
    await page.locator('tr[data-user="uma"][data-role="viewer"]').waitFor();
    await signOut(other);
    await signIn(other, 'uma', UMA_PASSWORD);
    await expect.poll(() => other.locator('.user').textContent(), { timeout: 15_000 }).toContain('(viewer)');
  });

  it('refuses to disable or demote the last enabled admin, and says why', async () => {
    await userRow('ada').getByLabel('Role of ada').selectOption('operator');
    await userRow('ada').getByRole('alert').filter({ hasText: 'last enabled admin' }).waitFor();
    // The list was reloaded: the select shows the role ada kept.
    expect(await userRow('ada').getByLabel('Role of ada').inputValue()).toBe('admin');
    await userRow('ada').getByRole('button', { name: 'Disable' }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.getByRole('button', { name: 'Disable' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'last enabled admin' }).waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await page.locator('tr[data-user="ada"]').getAttribute('data-disabled')).toBe('false');
  });

  it('disables the user after a confirmation: its sign-in then fails; enabling lets it in again', async () => {
    await signOut(other);
    await userRow('uma').getByRole('button', { name: 'Disable' }).click();
    const dialog = page.getByRole('alertdialog');
    expect(await dialog.textContent()).toContain('Disable uma?');
    await dialog.getByRole('button', { name: 'Disable' }).click();
    await page.locator('tr[data-user="uma"][data-disabled="true"]').waitFor();

    await signIn(other, 'uma', UMA_PASSWORD);
    await expect.poll(() => other.locator('#login-error').textContent(), { timeout: 15_000 }).toContain('wrong name or password');

    await userRow('uma').getByRole('button', { name: 'Enable' }).click();
    await page.locator('tr[data-user="uma"][data-disabled="false"]').waitFor();
    await signIn(other, 'uma', UMA_PASSWORD);
    await expect.poll(() => other.locator('.user').textContent(), { timeout: 15_000 }).toContain('uma');
    await signOut(other);
  });

  it('resets the password of the user: the old one no longer signs in, the new one does', async () => {
    await userRow('uma').getByRole('button', { name: 'Reset password' }).click();
    await userRow('uma').getByLabel('New password for uma').fill('a brand new password');
    await userRow('uma').getByLabel('Again').fill('a brand new password');
    await userRow('uma').getByRole('button', { name: 'Set password' }).click();
    await userRow('uma').getByRole('status').filter({ hasText: 'Password changed' }).waitFor();

    await signIn(other, 'uma', UMA_PASSWORD);
    await expect.poll(() => other.locator('#login-error').textContent(), { timeout: 15_000 }).toContain('wrong name or password');
    await signIn(other, 'uma', 'a brand new password');
    await expect.poll(() => other.locator('.user').textContent(), { timeout: 15_000 }).toContain('uma');
  });

  it('makes a token shown once, which works over the API, and revokes it: a new connection is refused', async () => {
    const form = page.locator('#make-token');
    await form.getByLabel('Name').fill('ci');
    await form.getByLabel('Role').selectOption('integrator');
    await form.getByRole('button', { name: 'Make token' }).click();
    const shown = form.locator('.created-token');
    await shown.waitFor();
    expect(await shown.textContent()).toContain('You will not see it again.');
    const token = (await shown.getByTestId('token-text').textContent())!;
    expect(token).toMatch(/^pst_[A-Za-z0-9_-]{43}$/);
    await shown.getByRole('button', { name: 'Copy token' }).click();
    await shown.getByRole('button', { name: 'Copied' }).waitFor();

    const id = (await shown.getAttribute('data-token'))!;
    const row = page.locator(`tr[data-token="${id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain(`${token.slice(0, 8)}…`);

    const ci = await ApiClient.connect(site.url, token);
    expect(await ci.call('links.list', {})).toEqual(expect.any(Array));
    ci.close();

    // Once closed, the token is nowhere on the page: only its prefix.
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(token);

    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Revoke' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByLabel('show revoked').check();
    await expect.poll(() => row.textContent(), { timeout: 15_000 }).toContain('revoked');
    expect(await upgradeStatus(site.url, { authorization: `Bearer ${token}` })).toBe(401);
  });

  it('makes a token limited to some doors, which acts on those only', async () => {
    const form = page.locator('#make-token');
    await form.getByLabel('Name').fill('lab-desk');
    await form.getByLabel('Role').selectOption('operator');
    await form.getByLabel('only these doors').check();
    // None picked: said, and nothing made.
    await form.getByRole('button', { name: 'Make token' }).click();
    await expect.poll(() => form.getByRole('alert').textContent(), { timeout: 15_000 }).toContain('pick at least one door');
    await form.locator('input[name="tokenDoor"][value="lab"]').check();
    await form.getByRole('button', { name: 'Make token' }).click();
    const shown = form.locator('.created-token');
    await shown.waitFor();
    expect(await shown.textContent()).toContain('doors lab');
    const token = (await shown.getByTestId('token-text').textContent())!;
    const row = page.locator(`tr[data-token="${(await shown.getAttribute('data-token'))!}"]`);
    await expect.poll(() => row.textContent(), { timeout: 15_000 }).toContain('doors lab');
    await shown.getByRole('button', { name: 'Done' }).click();

    const desk = await ApiClient.connect(site.url, token);
    try {
      expect(await desk.call('doors.unlock', { door: 'lab', seconds: 1 })).toMatchObject({ id: 'lab' });
      expect((await desk.request('doors.unlock', { door: 'front', seconds: 1 })).error).toMatchObject({ code: -32001 });
    } finally {
      desk.close();
    }
    // An admin token manages the whole site: no door choice is offered for it.
    await form.getByLabel('Role').selectOption('admin');
    expect(await form.getByLabel('only these doors').count()).toBe(0);
  });
});
