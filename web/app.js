// xray-search web UI. Plain JavaScript, no framework, no network use beyond this server's API
// (docs/API.md). All server data is inserted with textContent, never as HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  const el = {
    status: $('index-status'),
    tokenForm: $('token-form'),
    tokenInput: $('token-input'),
    textForm: $('text-form'),
    textQuery: $('text-query'),
    imageForm: $('image-form'),
    fileInput: $('image-file'),
    dropZone: $('drop-zone'),
    dropEmpty: $('drop-empty'),
    dropChosen: $('drop-chosen'),
    queryPreview: $('query-preview'),
    fileIcon: $('query-file-icon'),
    fileName: $('query-file-name'),
    fileNote: $('query-file-note'),
    imageSubmit: $('image-submit'),
    imageClear: $('image-clear'),
    k: $('k-select'),
    category: $('category-select'),
    minScore: $('min-score'),
    minScoreHelp: $('min-score-help'),
    collapseHelp: $('collapse-help'),
    collapse: $('collapse-duplicates'),
    results: $('results-region'),
    summary: $('result-summary'),
    errorBanner: $('error-banner'),
    errorMessage: $('error-message'),
    loading: $('loading'),
    empty: $('empty-state'),
    intro: $('intro'),
    grid: $('result-grid'),
    more: $('more-results'),
    dialog: $('detail'),
    detailTitle: $('detail-title'),
    detailImage: $('detail-image'),
    detailRank: $('detail-rank'),
    detailScore: $('detail-score'),
    detailCategory: $('detail-category'),
    detailId: $('detail-id'),
    detailSource: $('detail-source'),
    detailOriginal: $('detail-original'),
    detailSimilar: $('detail-similar'),
    detailCombine: $('detail-combine'),
    comboTerms: $('combo-terms'),
    comboAddText: $('combo-add-text'),
    comboAddImage: $('combo-add-image'),
    comboAddFile: $('combo-add-file'),
    comboFile: $('combo-file'),
    comboSearch: $('combo-search'),
    detailClose: $('detail-close'),
  };

  const state = {
    token: sessionStorage.getItem('xrs-token') || '',
    limits: { k_default: 5, k_max: 20, text_min_score: 0.25, image_min_score: 0.95 },
    file: null,            // the query image (a File)
    queryPreviewUrl: null, // its object URL, revoked when replaced
    last: null,            // the last search: { label, run(options) }
    lastOptions: null,     // the options it ran with (k, category, min_score): "more results" reuses them
    hits: [],
    combo: [],             // terms of the combined query: { text | id | file, label, weight }
    seq: 0,                // answers to superseded searches are dropped
    opener: null,          // the result button that opened the dialog
    blobUrls: [],          // thumbnails fetched with a token
  };

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  function authHeaders() {
    return state.token ? { Authorization: `Bearer ${state.token}` } : {};
  }

  async function api(path, init = {}) {
    let response;
    try {
      response = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers || {}) } });
    } catch {
      throw new ApiError('The server could not be reached. Is it still running?', 0);
    }
    const isJson = (response.headers.get('Content-Type') || '').includes('application/json');
    const body = isJson ? await response.json().catch(() => null) : null;
    if (!response.ok) {
      if (response.status === 401) showTokenForm();
      const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
      throw new ApiError(message, response.status);
    }
    return body;
  }

  // Images need the token too when there is one: fetched as blobs then.
  function setImage(img, url) {
    if (!state.token) {
      img.src = url;
      return;
    }
    fetch(url, { headers: authHeaders() })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(r.status))))
      .then((blob) => {
        const objectUrl = URL.createObjectURL(blob);
        state.blobUrls.push(objectUrl);
        img.src = objectUrl;
      })
      .catch(() => img.classList.add('broken'));
  }

  const formatScore = (s) => Number(s).toFixed(3);
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

  // ---- index status, categories, limits ---------------------------------------------------

  async function loadHealth() {
    try {
      const health = await api('/api/health');
      state.limits = health.limits || state.limits;
      // The server sends stored files only with --serve-originals; else a de-identified PNG.
      el.detailOriginal.textContent = health.originals
        ? 'Original file' : 'Full-size image (PNG, no DICOM header)';
      el.status.replaceChildren();
      const ok = document.createElement('span');
      ok.className = 'ok';
      ok.textContent = `${plural(health.images, 'image')} indexed`;
      el.status.append(ok, ` · ${health.model}`);
      fillCategories(health.categories || []);
      fillK();
      el.minScoreHelp.textContent =
        `Leave empty for the defaults: ${state.limits.text_min_score} for text, ` +
        `${state.limits.image_min_score} for images.`;
      if (state.limits.duplicate_min_score !== undefined) {
        el.collapseHelp.textContent =
          'Show only the best of near-identical images (cosine similarity ' +
          `${state.limits.duplicate_min_score} or more to a result above); ` +
          'each result says how many it hides.';
      }
      if (health.auth_required && !state.token) showTokenForm();
    } catch (error) {
      el.status.textContent = 'Server unreachable';
      showError(error.message);
    }
  }

  function fillCategories(categories) {
    const current = el.category.value;
    el.category.length = 1;  // keep "All categories"
    for (const name of categories) {
      const option = document.createElement('option');
      option.value = name;
      option.textContent = name.charAt(0).toUpperCase() + name.slice(1);
      el.category.append(option);
    }
    el.category.value = categories.includes(current) ? current : '';
  }

  function fillK() {
    const current = Number(el.k.value) || state.limits.k_default;
    el.k.replaceChildren();
    for (let k = 1; k <= state.limits.k_max; k++) {
      const option = document.createElement('option');
      option.value = String(k);
      option.textContent = `Top ${k}`;
      el.k.append(option);
    }
    el.k.value = String(Math.min(current, state.limits.k_max));
  }

  function showTokenForm() {
    el.tokenForm.hidden = false;
    el.tokenInput.focus();
  }

  // ---- searching ---------------------------------------------------------------------------

  function searchOptions() {
    const options = { k: Number(el.k.value) || state.limits.k_default };
    if (el.category.value) options.category = el.category.value;
    const min = el.minScore.value.trim();
    if (min !== '') options.min_score = Number(min);
    if (el.collapse.checked) options.collapse_duplicates = true;
    return options;
  }

  function postJson(path, body) {
    return api(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  function textSearch(query) {
    return { label: `“${query}”`, run: (options) => postJson('/api/search/text', { query, ...options }) };
  }

  function imageSearch(file) {
    return {
      label: `image “${file.name}”`,
      run: (options) => {
        const form = new FormData();
        form.append('file', file, file.name);
        for (const [name, value] of Object.entries(options)) form.append(name, String(value));
        return api('/api/search/image', { method: 'POST', body: form });
      },
    };
  }

  function similarSearch(hit) {
    return {
      label: `images similar to “${hit.image_name}”`,
      run: (options) => postJson('/api/search/similar', { id: hit.id, ...options }),
    };
  }

  // ---- combined queries ----------------------------------------------------------------------

  function renderCombo() {
    el.comboTerms.replaceChildren();
    state.combo.forEach((term, index) => {
      const item = document.createElement('li');
      const label = document.createElement('span');
      label.className = 'combo-label';
      label.textContent = term.text !== undefined ? `“${term.text}”`
        : term.file ? `uploaded image “${term.label}”` : `image ${term.label}`;
      label.title = label.textContent;
      const weight = document.createElement('input');
      weight.type = 'number';
      weight.step = '0.5';
      weight.value = String(term.weight);
      weight.className = 'combo-weight';
      weight.setAttribute('aria-label', `Weight of ${label.textContent}`);
      weight.addEventListener('change', () => { term.weight = Number(weight.value); });
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'btn combo-remove';
      remove.textContent = '×';
      remove.setAttribute('aria-label', `Remove ${label.textContent}`);
      remove.addEventListener('click', () => { state.combo.splice(index, 1); renderCombo(); });
      item.append(label, weight, remove);
      el.comboTerms.append(item);
    });
    el.comboSearch.disabled = state.combo.length === 0;
  }

  function addComboTerm(term) {
    if (state.combo.length >= 16) {
      showError('A combination has at most 16 terms.');
      return;
    }
    state.combo.push({ weight: 1, ...term });
    renderCombo();
  }

  // Texts and indexed images go as JSON; with uploaded images the same JSON document goes as the
  // form field "query" of a multipart request, each image a file part that its term names.
  function combinedSearch() {
    const files = [];
    const terms = state.combo.map((t) => {
      if (t.text !== undefined) return { text: t.text, weight: t.weight };
      if (t.id !== undefined) return { id: t.id, weight: t.weight };
      files.push(t.file);
      return { upload: `image${files.length}`, weight: t.weight };
    });
    return {
      label: `a combination of ${plural(terms.length, 'term')}`,
      run: (options) => {
        if (files.length === 0) return postJson('/api/search/combined', { terms, ...options });
        const form = new FormData();
        form.append('query', JSON.stringify({ terms, ...options }));
        files.forEach((file, i) => form.append(`image${i + 1}`, file, file.name));
        return api('/api/search/combined', { method: 'POST', body: form });
      },
    };
  }

  // A request has at most 16 form parts: the "query" document and 15 images.
  function addComboFile(file) {
    if (!file) return;
    if (state.combo.filter((t) => t.file).length >= 15) {
      showError('A combination has at most 15 uploaded images.');
      return;
    }
    addComboTerm({ file, label: file.name });
  }

  el.comboAddText.addEventListener('click', () => {
    const text = el.textQuery.value.trim();
    if (!text) {
      el.textQuery.focus();
      return;
    }
    addComboTerm({ text });
  });
  el.comboAddImage.addEventListener('click', () => addComboFile(state.file));
  el.comboAddFile.addEventListener('click', () => el.comboFile.click());
  el.comboFile.addEventListener('change', () => {
    addComboFile(el.comboFile.files[0]);
    el.comboFile.value = '';
    el.comboAddFile.focus();
  });
  el.comboSearch.addEventListener('click', () => runSearch(combinedSearch()));

  async function runSearch(search) {
    state.last = search;
    state.lastOptions = searchOptions();
    const seq = ++state.seq;
    setLoading(true);
    hideError();
    try {
      const data = await search.run(state.lastOptions);
      if (seq !== state.seq) return;
      render(data, search);
      // On a phone the results sit below the controls: bring them into view.
      if (window.matchMedia('(max-width: 900px)').matches) el.results.scrollIntoView({ block: 'start' });
    } catch (error) {
      if (seq !== state.seq) return;
      clearResults();
      el.summary.textContent = '';
      showError(error.message);
    } finally {
      if (seq === state.seq) setLoading(false);
    }
  }

  // The next page of the last search (same options, offset = results shown so far): appended,
  // ranks continue. The server ranks ties by id, so pages neither repeat nor skip an image.
  async function moreResults() {
    if (!state.last) return;
    const search = state.last;
    const seq = ++state.seq;
    const first = state.hits.length;
    setLoading(true);
    hideError();
    try {
      const data = await search.run({ ...state.lastOptions, offset: first });
      if (seq !== state.seq) return;
      state.hits = state.hits.concat(data.results);
      data.results.forEach((hit, i) => el.grid.append(resultCard(hit, first + i)));
      updateSummary(data, search);
      el.more.hidden = data.results.length < data.query.k;
      const next = el.grid.querySelector(`[data-index="${first}"]`);
      if (next) next.focus();
    } catch (error) {
      if (seq !== state.seq) return;
      showError(error.message);
    } finally {
      if (seq === state.seq) setLoading(false);
    }
  }
  el.more.addEventListener('click', moreResults);

  function setLoading(on) {
    el.loading.hidden = !on;
    el.grid.classList.toggle('busy', on);
    el.results.setAttribute('aria-busy', on ? 'true' : 'false');
    if (on) el.intro.hidden = true;
  }

  function showError(message) {
    el.errorMessage.textContent = message;
    el.errorBanner.hidden = false;
  }

  function hideError() {
    el.errorBanner.hidden = true;
  }

  function clearResults() {
    for (const url of state.blobUrls) URL.revokeObjectURL(url);
    state.blobUrls = [];
    state.hits = [];
    el.grid.replaceChildren();
    el.empty.hidden = true;
    el.more.hidden = true;
  }

  // ---- rendering -----------------------------------------------------------------------------

  function render(data, search) {
    clearResults();
    state.hits = data.results;
    const category = data.query && data.query.category;
    const where = category ? ` in ${category}` : '';
    const threshold = formatScore(data.min_score);
    if (data.results.length === 0) {
      el.summary.textContent = `No results for ${search.label}${where}`;
      renderEmpty(threshold, category);
      return;
    }
    updateSummary(data, search);
    data.results.forEach((hit, index) => el.grid.append(resultCard(hit, index)));
    // A full page may have more behind it.
    el.more.hidden = data.results.length < data.query.k;
  }

  function updateSummary(data, search) {
    const category = data.query && data.query.category;
    const where = category ? ` in ${category}` : '';
    el.summary.textContent =
      `${plural(state.hits.length, 'result')} for ${search.label}${where} · ` +
      `minimum score ${formatScore(data.min_score)}` +
      `${data.min_score_rule ? ` (${data.min_score_rule})` : ''} · ` +
      `${collapsedNote(data)}` +
      `${data.took_ms < 1 ? '<1' : Math.round(data.took_ms)} ms`;
  }

  // "near-duplicates collapsed (N hidden) · " when the search collapsed them.
  function collapsedNote(data) {
    if (!data.query || data.query.collapse_duplicates === undefined) return '';
    const hidden = state.hits.reduce((n, hit) => n + (hit.duplicates_hidden || 0), 0);
    return `near-duplicates collapsed (${hidden} hidden) · `;
  }

  function renderEmpty(threshold, category) {
    el.empty.replaceChildren();
    const title = document.createElement('strong');
    title.textContent = `No image scored at or above the minimum score of ${threshold}` +
      (category ? ` in the ${category} category.` : '.');
    const advice = document.createElement('p');
    const lower = Math.max(-1, Number(threshold) - 0.1).toFixed(2);
    advice.textContent = `Try lowering the minimum score (for example to ${lower})` +
      (category ? ', or search all categories.' : ', or rephrase the query.');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'btn';
    button.textContent = `Search again with minimum score ${lower}`;
    button.addEventListener('click', () => {
      el.minScore.value = lower;
      if (state.last) runSearch(state.last);
    });
    el.empty.append(title, advice, button);
    el.empty.hidden = false;
  }

  function resultCard(hit, index) {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'result';
    button.dataset.index = String(index);
    const hides = hit.duplicates_hidden || 0;
    button.setAttribute('aria-label',
      `Rank ${hit.rank}: ${hit.image_name}, ${hit.category}, score ${formatScore(hit.score)}` +
      `${hides ? `, hides ${plural(hides, 'near-duplicate')}` : ''}. Open details`);

    const thumb = document.createElement('span');
    thumb.className = 'thumb';
    const img = document.createElement('img');
    img.alt = '';
    img.loading = 'lazy';
    img.decoding = 'async';
    setImage(img, `${hit.preview_url}?size=384`);
    const rank = document.createElement('span');
    rank.className = 'rank';
    rank.textContent = `#${hit.rank}`;
    thumb.append(img, rank);

    const meta = document.createElement('span');
    meta.className = 'result-meta';
    const line = document.createElement('span');
    line.className = 'result-line';
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = formatScore(hit.score);
    const chip = document.createElement('span');
    chip.className = 'chip';
    chip.textContent = hit.category;
    line.append(score, chip);
    if (hides) {
      const dup = document.createElement('span');
      dup.className = 'chip dup-count';
      dup.textContent = `+${hides} similar`;
      dup.title = `${plural(hides, 'near-duplicate')} of this image hidden`;
      line.append(dup);
    }
    const bar = document.createElement('span');
    bar.className = 'score-bar';
    const fill = document.createElement('span');
    fill.style.width = `${Math.max(0, Math.min(1, hit.score)) * 100}%`;
    bar.append(fill);
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = hit.image_name;
    meta.append(line, bar, name);

    button.append(thumb, meta);
    button.addEventListener('click', () => openDetail(index, button));
    item.append(button);
    return item;
  }

  // ---- detail dialog -----------------------------------------------------------------------

  function openDetail(index, opener) {
    const hit = state.hits[index];
    if (!hit) return;
    state.opener = opener;
    el.detailTitle.textContent = hit.image_name;
    el.detailImage.removeAttribute('src');
    el.detailImage.alt = `${hit.image_name} (${hit.category})`;
    setImage(el.detailImage, `${hit.preview_url}?size=1024`);
    el.detailRank.textContent = `#${hit.rank}`;
    el.detailScore.textContent = formatScore(hit.score);
    el.detailCategory.textContent = hit.category;
    el.detailId.textContent = String(hit.id);
    const source = /^https?:\/\//i.test(hit.source_url || '') ? hit.source_url : '';
    el.detailSource.hidden = !source;
    if (source) el.detailSource.href = source;
    // Opening the file in a new tab cannot carry a token; without one it is a plain link.
    el.detailOriginal.hidden = Boolean(state.token);
    el.detailOriginal.href = hit.url;
    el.detailCombine.onclick = () => {
      addComboTerm({ id: hit.id, label: hit.image_name });
      el.dialog.close();
    };
    el.detailSimilar.onclick = () => {
      el.dialog.close();
      runSearch(similarSearch(hit));
    };
    el.dialog.showModal();
    el.detailClose.focus();
  }

  el.detailClose.addEventListener('click', () => el.dialog.close());
  el.dialog.addEventListener('click', (event) => {
    if (event.target === el.dialog) el.dialog.close();  // a click on the backdrop
  });
  el.dialog.addEventListener('close', () => {
    if (state.opener && state.opener.isConnected) state.opener.focus();
    state.opener = null;
  });

  // ---- query image -------------------------------------------------------------------------

  async function isDicom(file) {
    if (/\.dcm$/i.test(file.name) || file.type === 'application/dicom') return true;
    const magic = await file.slice(128, 132).text().catch(() => '');
    return magic === 'DICM';
  }

  async function chooseFile(file) {
    if (!file) return;
    state.file = file;
    if (state.queryPreviewUrl) URL.revokeObjectURL(state.queryPreviewUrl);
    state.queryPreviewUrl = null;
    el.fileName.textContent = file.name;
    const size = file.size >= 1048576 ? `${(file.size / 1048576).toFixed(1)} MB`
      : `${Math.max(1, Math.round(file.size / 1024))} KB`;
    const dicom = await isDicom(file);
    el.fileNote.textContent = dicom ? `DICOM · ${size} · no preview in the browser` : size;
    el.fileIcon.hidden = !dicom;
    el.queryPreview.hidden = dicom;
    if (!dicom) {
      state.queryPreviewUrl = URL.createObjectURL(file);
      el.queryPreview.src = state.queryPreviewUrl;
    }
    el.dropEmpty.hidden = true;
    el.dropChosen.hidden = false;
    el.imageSubmit.disabled = false;
    el.imageClear.hidden = false;
    el.comboAddImage.disabled = false;
  }

  function clearFile() {
    state.file = null;
    el.fileInput.value = '';
    if (state.queryPreviewUrl) URL.revokeObjectURL(state.queryPreviewUrl);
    state.queryPreviewUrl = null;
    el.queryPreview.removeAttribute('src');
    el.dropEmpty.hidden = false;
    el.dropChosen.hidden = true;
    el.imageSubmit.disabled = true;
    el.imageClear.hidden = true;
    el.comboAddImage.disabled = true;
    el.fileInput.focus();
  }

  el.queryPreview.addEventListener('error', () => {
    if (!el.queryPreview.getAttribute('src')) return;
    el.queryPreview.hidden = true;
    el.fileNote.textContent += ' · the browser cannot show this file';
  });
  el.fileInput.addEventListener('change', () => chooseFile(el.fileInput.files[0]));
  el.imageClear.addEventListener('click', clearFile);
  for (const type of ['dragenter', 'dragover']) {
    el.dropZone.addEventListener(type, (event) => {
      event.preventDefault();
      el.dropZone.classList.add('dragging');
    });
  }
  for (const type of ['dragleave', 'drop']) {
    el.dropZone.addEventListener(type, () => el.dropZone.classList.remove('dragging'));
  }
  el.dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) chooseFile(file);
  });

  // ---- forms and filters -------------------------------------------------------------------

  el.textForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = el.textQuery.value.trim();
    if (!query) {
      showError('Type a description to search for.');
      el.textQuery.focus();
      return;
    }
    runSearch(textSearch(query));
  });

  el.imageForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (state.file) runSearch(imageSearch(state.file));
  });

  // Changing an option re-runs the last search with it.
  for (const control of [el.k, el.category, el.minScore, el.collapse]) {
    control.addEventListener('change', () => {
      if (state.last) runSearch(state.last);
    });
  }

  el.tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    state.token = el.tokenInput.value.trim();
    sessionStorage.setItem('xrs-token', state.token);
    el.tokenForm.hidden = true;
    hideError();
    loadHealth();
    if (state.last) runSearch(state.last);
  });

  // "/" jumps to the text box, as in most search tools.
  document.addEventListener('keydown', (event) => {
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
    if (event.key === '/' && !typing && !el.dialog.open) {
      event.preventDefault();
      el.textQuery.focus();
    }
  });

  fillK();
  loadHealth();
})();
