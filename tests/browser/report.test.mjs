// Browser test of `xray-search evaluate --report DIR`: the page is built here from a small index
// (a few images per category of ../shared/datasets/xray, indexed with the fixture model), opened
// from disk in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core), and
// checked as a person would see it: the metrics tables, the two score histograms (inline SVG)
// drawn with bars, every thumbnail decoded (naturalWidth > 0), relevant and irrelevant results
// marked, and nothing fetched from anywhere but the page itself (no network request at all).
//
// XRS_BIN: the xray-search binary (ctest sets it). XRS_SHARED_DIR: ../shared by default.
// XRS_REPORT_PER_CATEGORY: images per category in the index (default 6).
// XRS_SCREENSHOT_DIR: where a screenshot of the page is written.
//
// Run: node report.test.mjs (ctest -L browser does). Exits 77, saying why, when Chromium,
// playwright-core (npm ci here), the binary or ../shared is missing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const shared = process.env.XRS_SHARED_DIR || path.resolve(here, '../../../shared');

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
const bin = process.env.XRS_BIN;
if (!bin || !fs.existsSync(bin)) skip('XRS_BIN is not set to the xray-search binary (run through ctest)');
const dataset = path.join(shared, 'datasets/xray');
const model = path.join(shared, 'fixtures/clip/tiny-openai-b32');
if (!fs.existsSync(path.join(dataset, 'metadata.csv'))) skip(`${dataset} is absent (the test reads ../shared)`);
if (!fs.existsSync(model)) skip(`${model} is absent (the test reads ../shared)`);
const screenshotDir = process.env.XRS_SCREENSHOT_DIR || path.join(os.tmpdir(), 'xrs-browser-screenshots');
const perCategory = Number(process.env.XRS_REPORT_PER_CATEGORY || 6);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'xrs-report-'));
let browser = null;
let expected = null;  // what the page must show, from the program's own --json output

// A copy of the first `perCategory` rows of each category (metadata.csv keeps its header).
function makeDataset(dir) {
  const lines = fs.readFileSync(path.join(dataset, 'metadata.csv'), 'utf8').trim().split('\n');
  const header = lines[0].split(',');
  const nameCol = header.indexOf('image_name'), catCol = header.indexOf('category');
  const kept = [lines[0]];
  const count = new Map();
  for (const line of lines.slice(1)) {
    const cells = line.split(',');
    const name = cells[nameCol], category = cells[catCol];
    if ((count.get(category) || 0) >= perCategory) continue;
    count.set(category, (count.get(category) || 0) + 1);
    fs.mkdirSync(path.join(dir, 'raw', category), { recursive: true });
    fs.copyFileSync(path.join(dataset, 'raw', category, name), path.join(dir, 'raw', category, name));
    kept.push(line);
  }
  fs.writeFileSync(path.join(dir, 'metadata.csv'), kept.join('\n') + '\n');
  return { images: kept.length - 1, categories: [...count.keys()] };
}

before(async () => {
  const data = path.join(work, 'data'), index = path.join(work, 'idx');
  const made = makeDataset(data);
  const run = (args) => execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  run(['index', data, '--model', model, '--index', index]);
  run(['evaluate', '--index', index, '--report', path.join(work, 'report')]);
  expected = { ...made, json: JSON.parse(run(['evaluate', '--index', index, '--json'])) };
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  fs.rmSync(work, { recursive: true, force: true });
});

test('the report renders offline with its tables, histograms and thumbnails', async () => {
  const pageFile = path.join(work, 'report', 'report.html');
  assert.ok(fs.existsSync(pageFile), 'report.html written');
  const pageUrl = pathToFileURL(pageFile).href;

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Every request goes through here: the page itself is let through, anything else is recorded
  // and refused (a CDN script, a web font, an image by URL would all show up).
  const requests = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url === pageUrl || url.startsWith('data:')) return route.continue();
    requests.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
  page.on('requestfailed', (request) => {
    if (!request.url().startsWith('data:')) problems.push(`failed: ${request.url()}`);
  });
  await page.goto(pageUrl, { waitUntil: 'load' });
  await page.waitForFunction(() => [...document.images].every((img) => img.complete));

  const seen = await page.evaluate(() => {
    const rect = (el) => el.getBoundingClientRect();
    return {
      title: document.title,
      intro: document.querySelector('p')?.textContent || '',
      headings: [...document.querySelectorAll('h2')].map((h) => h.textContent),
      tables: [...document.querySelectorAll('table')].map((t) => ({
        header: [...t.rows[0].cells].map((c) => c.textContent),
        rows: [...t.rows].slice(1).map((r) => [...r.cells].map((c) => c.textContent)),
      })),
      svgs: [...document.querySelectorAll('figure svg')].map((s) => ({
        width: rect(s).width,
        height: rect(s).height,
        bars: [...s.querySelectorAll('rect')].filter((r) => rect(r).height > 0 && rect(r).width > 0).length,
        caption: s.closest('figure').querySelector('figcaption')?.textContent || '',
      })),
      images: [...document.images].map((img) => ({
        src: img.getAttribute('src').slice(0, 30),
        complete: img.complete,
        naturalWidth: img.naturalWidth,
        naturalHeight: img.naturalHeight,
        shownWidth: rect(img).width,
      })),
      tiles: {
        relevant: document.querySelectorAll('.tile.relevant').length,
        irrelevant: document.querySelectorAll('.tile.irrelevant').length,
        query: document.querySelectorAll('.tile.query').length,
        missing: document.querySelectorAll('.noimg').length,
      },
      // Anything that names another resource: only data: URIs are allowed.
      references: [...document.querySelectorAll('[src],[href],link,script,iframe,object,embed')]
        .map((el) => el.getAttribute('src') ?? el.getAttribute('href') ?? el.tagName)
        .filter((v) => !String(v).startsWith('data:')),
      cssUrls: [...document.styleSheets].flatMap((s) => [...s.cssRules])
        .map((r) => r.cssText).filter((t) => /url\(/.test(t)),
    };
  });
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, 'evaluate-report.png'), fullPage: true });
  await context.close();

  assert.deepEqual(problems, [], 'console errors or failed loads');
  assert.deepEqual(requests, [], 'requests other than the page itself');
  assert.deepEqual(seen.references, [], 'elements that reference other resources');
  assert.deepEqual(seen.cssUrls, [], 'style rules that load URLs');
  assert.match(seen.title, /xray-search evaluate/);
  assert.match(seen.intro, new RegExp(`^${expected.images} images, model `));

  // Metrics tables: image→image and text→image, the six metrics as columns, the macro average
  // (equal to the program's --json figure), the chance row and one row per category.
  assert.deepEqual(seen.headings.slice(0, 2), ['Image → image (leave-one-out)', 'Text → image']);
  assert.equal(seen.tables.length, 2);
  for (const [i, key] of [[0, 'image_to_image'], [1, 'text_to_image']]) {
    const table = seen.tables[i];
    assert.deepEqual(table.header, ['', 'P@1', 'P@k', 'R-precision', 'MAP@R', 'mAP', 'MRR']);
    const macro = table.rows.find((r) => r[0] === 'macro');
    assert.ok(macro, `${key}: a macro row`);
    const m = expected.json[key].macro;
    ['p@1', 'p@k', 'r_precision', 'map_at_r', 'map', 'mrr'].forEach((k, j) => {
      // Printed with 3 decimals (rounding of exact halves may differ from JavaScript's).
      assert.ok(Math.abs(Number(macro[j + 1]) - m[k]) <= 0.0005 + 1e-9, `${key} ${k}: ${macro[j + 1]} vs ${m[k]}`);
    });
    assert.ok(table.rows.some((r) => r[0] === 'chance'), `${key}: a chance row`);
    for (const c of expected.categories) {
      assert.ok(table.rows.some((r) => r[0].startsWith(`${c} (`)), `${key}: a row for ${c}`);
    }
  }

  // Two histograms (text and image queries), drawn at their size, with bars in them.
  assert.equal(seen.svgs.length, 2);
  for (const svg of seen.svgs) {
    assert.ok(svg.width >= 500 && svg.height >= 150, `histogram size ${svg.width}x${svg.height}`);
    assert.ok(svg.bars > 0, `histogram without bars: ${svg.caption}`);
    assert.match(svg.caption, /suggested minimum score/);
  }

  // Thumbnails: one per tile, all decoded, none missing; every result marked either way.
  assert.equal(seen.tiles.missing, 0, 'tiles without a thumbnail');
  assert.equal(seen.images.length,
    seen.tiles.relevant + seen.tiles.irrelevant + seen.tiles.query, 'one image per tile');
  assert.ok(seen.tiles.relevant > 0 && seen.tiles.query > 0, JSON.stringify(seen.tiles));
  for (const img of seen.images) {
    assert.match(img.src, /^data:image\/(jpeg|png);base64,/);
    assert.ok(img.complete && img.naturalWidth > 0 && img.naturalHeight > 0,
      `thumbnail not decoded: ${JSON.stringify(img)}`);
    assert.ok(img.naturalWidth <= 96 && img.naturalHeight <= 96, 'thumbnails are at most 96 px');
    assert.ok(img.shownWidth > 0, 'thumbnail laid out');
  }
});
