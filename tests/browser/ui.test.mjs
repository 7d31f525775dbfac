// Browser tests of the web UI: headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core against a running xray-search server.
//
// Which server:
//   XRS_BROWSER_BASE_URL    an already running server (nothing is started), or
//   XRS_BROWSER_SERVER_CMD  a shell command that starts one and prints "listening on http://..."
//   XRS_BROWSER_MIN_SCORE   a minimum score filled in on every page (for weak models)
//                           on stdout (e.g. "xray-search serve --index IDX --port 0"), or, by
//                           default, XRS_FAKE_SERVER --images XRS_FIXTURE_IMAGES --port 0 (the
//                           test server with deterministic results, built from tests/server).
// XRS_BROWSER_QUERY_IMAGE / XRS_BROWSER_DICOM: the files to upload (default: from ../shared).
// XRS_SCREENSHOT_DIR: where each state's screenshot is written (1280x800 and 390x844).
//
// Run: node ui.test.mjs (ctest -L browser does). Exits 77, saying why, when Chromium,
// playwright-core (npm ci here) or the server's inputs are missing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const shared = path.resolve(here, '../../../shared');

function skip(reason) {
  console.log(`# skipped: ${reason}`);
  process.exit(77);
}

const chromiumPath = process.env.XRS_CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromiumPath)) skip(`${chromiumPath} is not installed`);
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  skip('playwright-core is missing: run `npm ci` in tests/browser');
}

const fixtureImages = process.env.XRS_FIXTURE_IMAGES || path.join(shared, 'fixtures/clip/images');
const queryImage = process.env.XRS_BROWSER_QUERY_IMAGE || path.join(fixtureImages, 'cxr-actm-0001.png');
const dicomFile = process.env.XRS_BROWSER_DICOM ||
  path.join(shared, 'datasets/xray-special/cr-hip-mono2-jpeg-lossless.dcm');
const screenshotDir = process.env.XRS_SCREENSHOT_DIR || path.join(os.tmpdir(), 'xrs-browser-screenshots');
if (!fs.existsSync(queryImage)) skip(`${queryImage} is absent (the tests read ../shared)`);

let serverProcess = null;
let baseUrl = process.env.XRS_BROWSER_BASE_URL || '';
let context = null;

function startServer() {
  let command = process.env.XRS_BROWSER_SERVER_CMD;
  if (!command) {
    const fake = process.env.XRS_FAKE_SERVER;
    if (!fake || !fs.existsSync(fake)) skip('XRS_FAKE_SERVER is not set (run through ctest)');
    if (!fs.existsSync(fixtureImages)) skip(`${fixtureImages} is absent`);
    command = `'${fake}' --images '${fixtureImages}' --port 0`;
  }
  serverProcess = spawn('sh', ['-c', `exec ${command}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  serverProcess.stderr.on('data', () => {});  // the access log; not needed here
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${command}`)), 60000);
    let out = '';
    serverProcess.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    serverProcess.on('exit', (code) => reject(new Error(`server exited (${code}): ${command}`)));
  });
}

before(async () => {
  fs.mkdirSync(screenshotDir, { recursive: true });
  if (!baseUrl) baseUrl = await startServer();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'xrs-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (context) await context.close();
  if (serverProcess) serverProcess.kill('SIGTERM');
});

// A fresh page on the UI; console errors (CSP violations among them) fail the test.
async function openUi(t, viewport = { width: 1280, height: 800 }) {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  const problems = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('console', (message) => {
    // A failed upload answers 400, which the browser also reports; that one is expected.
    if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) {
      problems.push(message.text());
    }
  });
  t.after(async () => {
    await page.close();
    assert.deepEqual(problems, [], 'console errors');
  });
  await page.goto(baseUrl + '/');
  await page.waitForFunction(() => /indexed/.test(document.getElementById('index-status').textContent));
  // A model whose text and image scores sit below the default threshold (the tiny random
  // fixture model) needs a lower one for the tests that expect results.
  if (process.env.XRS_BROWSER_MIN_SCORE) await page.fill('#min-score', process.env.XRS_BROWSER_MIN_SCORE);
  return page;
}

const shot = (page, name) => page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
const resultCount = (page) => page.locator('#result-grid .result').count();

async function textSearch(page, query) {
  await page.fill('#text-query', query);
  await page.press('#text-query', 'Enter');
  await waitForSearch(page);
}

async function waitForSearch(page) {
  await page.waitForFunction(() => document.getElementById('results-region').getAttribute('aria-busy') === 'false');
}

async function thumbnailsLoaded(page) {
  await page.waitForFunction(() => [...document.querySelectorAll('#result-grid img')]
    .every((img) => img.complete && img.naturalWidth > 0));
}

test('the notice is visible and the index status loads', async (t) => {
  const page = await openUi(t);
  const notice = page.locator('.notice');
  assert.ok(await notice.isVisible());
  assert.match(await notice.textContent(), /Retrieval only — not for diagnosis/);
  assert.ok(await page.locator('#category-select option').count() > 1, 'categories from /api/health');
  await shot(page, 'desktop-01-initial');
});

test('text search shows results with rank, score and category', async (t) => {
  const page = await openUi(t);
  await textSearch(page, 'chest x-ray');
  assert.ok(await resultCount(page) > 0);
  await thumbnailsLoaded(page);
  assert.match(await page.locator('#result-summary').textContent(), /results? for “chest x-ray”/);
  const first = page.locator('#result-grid .result').first();
  assert.match(await first.locator('.score').textContent(), /^-?\d\.\d{3}$/);
  assert.equal(await first.locator('.rank').textContent(), '#1');
  assert.ok((await first.locator('.chip').textContent()).length > 0);
  await shot(page, 'desktop-02-text-results');
});

test('changing k changes the number of results', async (t) => {
  const page = await openUi(t);
  await page.fill('#min-score', '-1');  // every image qualifies: exactly k results
  await page.selectOption('#k-select', '3');
  await textSearch(page, 'hand radiograph');
  assert.equal(await resultCount(page), 3);
  await page.selectOption('#k-select', '7');
  await waitForSearch(page);
  await page.waitForFunction(() => document.querySelectorAll('#result-grid .result').length === 7);
  assert.equal(await resultCount(page), 7);
});

test('more results appends the next page, ranks continuing without repeats', async (t) => {
  const page = await openUi(t);
  await page.fill('#min-score', '-1');  // every image qualifies
  await page.selectOption('#k-select', '3');
  await textSearch(page, 'chest x-ray');
  assert.equal(await resultCount(page), 3);
  assert.equal(await page.locator('#more-results').isVisible(), true);
  await page.click('#more-results');
  await page.waitForFunction(() => document.querySelectorAll('#result-grid .result').length === 6);
  const ranks = await page.locator('#result-grid .rank').allTextContents();
  assert.deepEqual(ranks, ['#1', '#2', '#3', '#4', '#5', '#6']);
  const names = await page.locator('#result-grid .result').evaluateAll(
    (buttons) => buttons.map((b) => b.getAttribute('aria-label')));
  assert.equal(new Set(names).size, 6);
  assert.match(await page.locator('#result-summary').textContent(), /^6 results for/);
  await shot(page, 'desktop-more-results');
});

test('collapsing near-duplicates shows the best of each group and what it hides', async (t) => {
  const page = await openUi(t);
  await page.fill('#min-score', '-1');  // every image qualifies
  await page.selectOption('#k-select', '20');
  await textSearch(page, 'chest x-ray');
  const before = await resultCount(page);
  assert.ok(before > 0);
  assert.equal(await page.locator('#result-grid .dup-count').count(), 0);
  await page.check('#collapse-duplicates');
  await page.waitForFunction(() => /near-duplicates collapsed/.test(
    document.getElementById('result-summary').textContent));
  await waitForSearch(page);
  const after = await resultCount(page);
  assert.ok(after > 0 && after <= before, `${after} results collapsed from ${before}`);
  const summary = await page.locator('#result-summary').textContent();
  const hidden = Number(summary.match(/near-duplicates collapsed \((\d+) hidden\)/)[1]);
  const chips = await page.locator('#result-grid .dup-count').allTextContents();
  const fromChips = chips.reduce((n, text) => n + Number(text.match(/^\+(\d+) similar$/)[1]), 0);
  assert.equal(fromChips, hidden, 'the summary adds up the cards');
  if (after < before) assert.ok(hidden > 0, 'results went away, so some are counted as hidden');
  const ranks = await page.locator('#result-grid .rank').allTextContents();
  assert.deepEqual(ranks, ranks.map((_, i) => `#${i + 1}`), 'ranks of the collapsed ranking');
  await shot(page, 'desktop-collapsed');
  await page.uncheck('#collapse-duplicates');
  await page.waitForFunction(() => !/near-duplicates collapsed/.test(
    document.getElementById('result-summary').textContent));
  await waitForSearch(page);
  assert.equal(await resultCount(page), before);
});

test('a combination of a text and a subtracted indexed image', async (t) => {
  const page = await openUi(t);
  await page.fill('#min-score', '-1');
  await page.fill('#text-query', 'hand radiograph');
  await page.click('#combo-add-text');
  await textSearch(page, 'hand radiograph');
  const first = page.locator('#result-grid .result').first();
  const firstLabel = await first.getAttribute('aria-label');
  await first.click();
  await page.click('#detail-combine');
  assert.equal(await page.locator('#combo-terms li').count(), 2);
  await page.locator('#combo-terms .combo-weight').nth(1).fill('-1');
  await page.locator('#combo-terms .combo-weight').nth(1).dispatchEvent('change');
  await page.click('#combo-search');
  await waitForSearch(page);
  await page.waitForFunction(() => /combination of 2 terms/.test(document.getElementById('result-summary').textContent));
  assert.ok(await resultCount(page) > 0);
  const name = firstLabel.split(': ')[1].split(',')[0];
  const labels = await page.locator('#result-grid .result').evaluateAll(
    (buttons) => buttons.map((b) => b.getAttribute('aria-label')));
  assert.ok(labels.every((l) => !l.includes(`: ${name},`)), 'the image term is left out');
  await page.click('#combo-terms .combo-remove >> nth=0');
  assert.equal(await page.locator('#combo-terms li').count(), 1);
  await shot(page, 'desktop-combination');
});

test('uploaded images as terms of a combination go as multipart and find results', async (t) => {
  const page = await openUi(t);
  await page.fill('#min-score', '-1');
  assert.ok(await page.locator('#combo-add-image').isDisabled(), 'no query image yet');
  await page.fill('#text-query', 'chest x-ray');
  await page.click('#combo-add-text');
  // The query image of the drop zone, added from the keyboard.
  await page.setInputFiles('#image-file', queryImage);
  await page.waitForFunction(() => !document.getElementById('combo-add-image').disabled);
  await page.focus('#combo-add-image');
  await page.keyboard.press('Enter');
  // A second image through the card's own file picker.
  const second = path.join(fixtureImages, 'dent-ufba-0020.jpg');
  await page.setInputFiles('#combo-file', fs.existsSync(second) ? second : queryImage);
  const labels = await page.locator('#combo-terms .combo-label').allTextContents();
  assert.deepEqual(labels.slice(0, 2), ['“chest x-ray”', `uploaded image “${path.basename(queryImage)}”`]);
  assert.match(labels[2], /^uploaded image “/);
  assert.equal(await page.locator('#combo-terms .combo-weight').nth(1).getAttribute('aria-label'),
    `Weight of uploaded image “${path.basename(queryImage)}”`);
  await page.locator('#combo-terms .combo-weight').nth(1).fill('-0.5');
  await page.locator('#combo-terms .combo-weight').nth(1).dispatchEvent('change');

  const sent = page.waitForRequest((r) => r.url().endsWith('/api/search/combined'));
  const answered = page.waitForResponse((r) => r.url().endsWith('/api/search/combined'));
  await page.click('#combo-search');
  const request = await sent;
  assert.match(request.headers()['content-type'], /^multipart\/form-data; boundary=/);
  const response = await answered;
  assert.equal(response.status(), 200, await response.text());
  // What the server parsed: the JSON document of the "query" part, the two file parts it names.
  const echo = (await response.json()).query;
  assert.equal(echo.type, 'combined');
  assert.equal(echo.terms, 3);
  assert.deepEqual(echo.uploads, [
    { term: 1, upload: 'image1', weight: -0.5 },
    { term: 2, upload: 'image2', weight: 1 },
  ]);
  await waitForSearch(page);
  await page.waitForFunction(() => /combination of 3 terms/.test(document.getElementById('result-summary').textContent));
  assert.ok(await page.locator('#error-banner').isHidden(), await page.locator('#error-message').textContent());
  assert.ok(await resultCount(page) > 0);
  await thumbnailsLoaded(page);
  await shot(page, 'desktop-combination-upload');
  // Without the uploads the combination goes as JSON again.
  await page.click('#combo-terms .combo-remove >> nth=2');
  await page.click('#combo-terms .combo-remove >> nth=1');
  const json = page.waitForRequest((r) => r.url().endsWith('/api/search/combined'));
  await page.click('#combo-search');
  assert.equal((await json).headers()['content-type'], 'application/json');
  await waitForSearch(page);
  assert.ok(await resultCount(page) > 0);
});

test('the category filter filters', async (t) => {
  const page = await openUi(t);
  await page.fill('#min-score', '-1');
  await page.selectOption('#k-select', '10');
  const category = await page.locator('#category-select option').nth(1).getAttribute('value');
  await page.selectOption('#category-select', category);
  await textSearch(page, 'x-ray');
  const chips = await page.locator('#result-grid .chip').allTextContents();
  assert.ok(chips.length > 0);
  assert.deepEqual([...new Set(chips)], [category]);
  await thumbnailsLoaded(page);
  await shot(page, 'desktop-03-category-filter');
});

test('image upload shows a preview and finds results', async (t) => {
  const page = await openUi(t);
  await page.setInputFiles('#image-file', queryImage);
  await page.waitForFunction(() => document.getElementById('query-preview').naturalWidth > 0);
  assert.ok(await page.locator('#query-preview').isVisible());
  await page.click('#image-submit');
  await waitForSearch(page);
  assert.ok(await resultCount(page) > 0, await page.locator('#result-summary').textContent());
  assert.match(await page.locator('#result-summary').textContent(), /for image “/);
  await thumbnailsLoaded(page);
  await shot(page, 'desktop-04-image-results');
});

test('a DICOM upload shows its name instead of a preview', async (t) => {
  if (!fs.existsSync(dicomFile)) {
    t.skip(`${dicomFile} is absent`);
    return;
  }
  const page = await openUi(t);
  await page.setInputFiles('#image-file', dicomFile);
  await page.waitForFunction(() => !document.getElementById('query-file-icon').hidden);
  assert.equal(await page.locator('#query-file-name').textContent(), path.basename(dicomFile));
  assert.ok(!(await page.locator('#query-preview').isVisible()));
  await page.click('#image-submit');
  await waitForSearch(page);
  assert.ok(await page.locator('#error-banner').isHidden(), await page.locator('#error-message').textContent());
  await shot(page, 'desktop-05-dicom-query');
});

test('a non-image upload shows the server\'s error', async (t) => {
  const page = await openUi(t);
  await page.setInputFiles('#image-file', {
    name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('these are not pixels\n'),
  });
  await page.click('#image-submit');
  await waitForSearch(page);
  assert.ok(await page.locator('#error-banner').isVisible());
  assert.match(await page.locator('#error-message').textContent(), /notes\.png.*not an image/);
  assert.equal(await resultCount(page), 0);
  await shot(page, 'desktop-06-upload-error');
});

test('an empty result explains the threshold', async (t) => {
  const page = await openUi(t);
  await page.fill('#min-score', '0.99');
  await textSearch(page, 'lateral skull');
  assert.equal(await resultCount(page), 0);
  const empty = page.locator('#empty-state');
  assert.ok(await empty.isVisible());
  assert.match(await empty.textContent(), /minimum score of 0\.990.*lowering/s);
  await shot(page, 'desktop-07-empty');
});

test('keyboard: tab to a result, Enter opens the dialog, Escape closes it', async (t) => {
  const page = await openUi(t);
  await textSearch(page, 'dental panoramic');
  await thumbnailsLoaded(page);
  await page.locator('#text-query').focus();
  let onResult = false;
  for (let i = 0; i < 40 && !onResult; i++) {
    await page.keyboard.press('Tab');
    onResult = await page.evaluate(() => document.activeElement.classList.contains('result'));
  }
  assert.ok(onResult, 'a result can be reached with Tab');
  const index = await page.evaluate(() => document.activeElement.dataset.index);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#detail[open]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'detail-close');
  await page.waitForFunction(() => document.getElementById('detail-image').naturalWidth > 0);
  // Stored files (with their DICOM headers) are not offered unless the server serves originals.
  assert.match(await page.locator('#detail-original').textContent(), /Full-size image \(PNG/);
  const source = page.locator('#detail-source');
  if (await source.isVisible()) {
    assert.equal(await source.getAttribute('target'), '_blank');
    assert.match(await source.getAttribute('rel'), /noopener/);
  }
  await shot(page, 'desktop-08-dialog');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#detail:not([open])', { state: 'attached' });
  assert.equal(await page.evaluate(() => document.activeElement.dataset.index), index,
    'focus returns to the result that opened the dialog');
});

test('phone width: no horizontal scrolling, results and dialog usable', async (t) => {
  const page = await openUi(t, { width: 390, height: 844 });
  await shot(page, 'phone-01-initial');
  await textSearch(page, 'chest x-ray');
  await thumbnailsLoaded(page);
  assert.ok(await resultCount(page) > 0);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await shot(page, 'phone-02-results');
  await page.locator('#result-grid .result').first().click();
  await page.waitForSelector('#detail[open]');
  await page.waitForFunction(() => document.getElementById('detail-image').naturalWidth > 0);
  await page.screenshot({ path: path.join(screenshotDir, 'phone-03-dialog.png') });
  await page.click('#detail-close');
  await page.waitForSelector('#detail:not([open])', { state: 'attached' });
});
