// The tool portal's Controller: the UI logic of the page served by
// portal-model (the View).
//
// Plain modern JavaScript, no framework, no build step: this file is served
// exactly as written. It is loaded cross-origin (from the portal-controller
// container), but it runs in the View's page, so every API call goes to the
// page's own origin (`/api/tools`), which is portal-model.
//
// All text from the API is put into the page with `textContent`, never as
// HTML, so a tool named `<img onerror=...>` is just a strange name.
(() => {
  'use strict';

  const API = '/api/tools';
  const PAGE_SIZE = 20;
  const SEARCH_DELAY_MS = 250;

  const state = {
    query: '',
    offset: 0,
    total: 0,
    editing: null, // the tool being edited, or null when adding
    armedDelete: null, // id of the tool whose Delete button awaits confirmation
  };

  // Build an element: el('a', { href: u, className: 'x' }, 'text', child).
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key in node) node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : String(child));
      }
    }
    return node;
  };

  // An API call. Resolves to the parsed JSON body (or null for 204); rejects
  // with an Error carrying the server's message and the offending field.
  const api = async (method, path, body) => {
    const init = { method, headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new Error(`Cannot reach the portal's API (${err.message}).`);
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch {
      // Not JSON (a proxy's error page, say): fall through with no details.
    }
    if (!response.ok) {
      const error = new Error(
        (data && data.error) || `The API answered ${response.status} ${response.statusText}.`,
      );
      error.field = data && data.field;
      error.status = response.status;
      throw error;
    }
    return data;
  };

  // --- the page skeleton --------------------------------------------------

  const root = document.getElementById('portal');
  root.replaceChildren();

  const errorBox = el('div', { id: 'portal-error', className: 'error', role: 'alert', hidden: true });
  const search = el('input', {
    id: 'search',
    type: 'search',
    placeholder: 'Search name, description or tags',
    'aria-label': 'Search tools',
    autocomplete: 'off',
  });
  const count = el('p', { id: 'count', className: 'count', 'aria-live': 'polite' });
  const list = el('ul', { id: 'tools', className: 'tools' });
  const prev = el('button', { id: 'prev', type: 'button', textContent: '← Previous' });
  const next = el('button', { id: 'next', type: 'button', textContent: 'Next →' });

  const field = (name, label, input) => {
    input.id = `tool-${name}`;
    input.name = name;
    return el('label', { htmlFor: input.id }, el('span', {}, label), input);
  };
  const nameInput = el('input', { type: 'text', required: true, maxLength: 100 });
  const urlInput = el('input', { type: 'url', required: true, placeholder: 'https://' });
  const descInput = el('textarea', { rows: 3, maxLength: 2000 });
  const tagsInput = el('input', { type: 'text', placeholder: 'comma, separated' });
  const inputs = { name: nameInput, url: urlInput, description: descInput, tags: tagsInput };
  const formTitle = el('h2', { id: 'form-title', textContent: 'Add a tool' });
  const submit = el('button', { id: 'save', type: 'submit', textContent: 'Add tool' });
  const cancel = el('button', { id: 'cancel', type: 'button', textContent: 'Cancel', hidden: true });
  const form = el(
    'form',
    { id: 'tool-form', className: 'tool-form', noValidate: true },
    formTitle,
    field('name', 'Name', nameInput),
    field('url', 'URL', urlInput),
    field('description', 'Description', descInput),
    field('tags', 'Tags', tagsInput),
    el('div', { className: 'actions' }, submit, cancel),
  );

  // Which pod served the page (portal-model puts its name in the page):
  // the three containers of that one pod are what this page talks to.
  const pod = document.documentElement.dataset.pod;
  const servedBy = el('p', { id: 'served-by', className: 'count', textContent: pod ? `Served by pod ${pod}` : '' });

  root.append(
    el('header', {}, el('h1', {}, 'Tool portal'), search, servedBy),
    errorBox,
    el('div', { className: 'layout' },
      el('section', { className: 'catalogue' }, count, list, el('nav', { className: 'pager' }, prev, next)),
      form,
    ),
  );

  // --- messages ------------------------------------------------------------

  const showError = (message) => {
    errorBox.textContent = message;
    errorBox.hidden = false;
  };
  const clearErrors = () => {
    errorBox.hidden = true;
    errorBox.textContent = '';
    for (const input of Object.values(inputs)) {
      input.removeAttribute('aria-invalid');
    }
  };
  const showApiError = (err) => {
    showError(err.message);
    const input = err.field && inputs[err.field.split(/[.[]/)[0]];
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  };

  // --- the list --------------------------------------------------------------

  const renderTool = (tool) => {
    const edit = el('button', { type: 'button', className: 'edit', textContent: 'Edit' });
    const del = el('button', { type: 'button', className: 'delete', textContent: 'Delete' });
    edit.addEventListener('click', () => startEdit(tool));
    del.addEventListener('click', () => {
      // Two clicks delete: the first arms the button, so a stray click
      // cannot lose a tool and no blocking confirm() dialog is needed.
      if (state.armedDelete !== tool.id) {
        state.armedDelete = tool.id;
        del.textContent = 'Really delete?';
        del.classList.add('armed');
        return;
      }
      remove(tool);
    });
    return el(
      'li',
      { className: 'tool', dataset: { id: tool.id } },
      el('div', { className: 'head' },
        el('a', { className: 'name', href: tool.url, target: '_blank', rel: 'noopener noreferrer' }, tool.name),
        el('span', { className: 'buttons' }, edit, del),
      ),
      tool.description ? el('p', { className: 'description' }, tool.description) : null,
      el('p', { className: 'url' }, tool.url),
      tool.tags.length
        ? el('ul', { className: 'tags' }, ...tool.tags.map((tag) => el('li', { className: 'tag' }, tag)))
        : null,
    );
  };

  const load = async () => {
    const params = new URLSearchParams({ limit: PAGE_SIZE, offset: state.offset });
    if (state.query) params.set('q', state.query);
    try {
      const page = await api('GET', `${API}?${params}`);
      // A search typed meanwhile made this answer stale: drop it.
      if (params.get('q') !== (state.query || null)) return;
      state.total = page.total;
      state.armedDelete = null;
      list.replaceChildren(...page.items.map(renderTool));
      const shown = page.items.length;
      count.textContent =
        page.total === 0
          ? state.query ? `No tool matches “${state.query}”.` : 'No tools yet: add the first one.'
          : `${state.offset + 1}–${state.offset + shown} of ${page.total} tool${page.total === 1 ? '' : 's'}`;
      prev.disabled = state.offset === 0;
      next.disabled = state.offset + shown >= page.total;
      errorBox.hidden = true;
    } catch (err) {
      showApiError(err);
    }
  };

  // --- add, edit, delete -------------------------------------------------------

  const resetForm = () => {
    state.editing = null;
    form.reset();
    formTitle.textContent = 'Add a tool';
    submit.textContent = 'Add tool';
    cancel.hidden = true;
  };

  const startEdit = (tool) => {
    clearErrors();
    state.editing = tool;
    nameInput.value = tool.name;
    urlInput.value = tool.url;
    descInput.value = tool.description;
    tagsInput.value = tool.tags.join(', ');
    formTitle.textContent = `Edit “${tool.name}”`;
    submit.textContent = 'Save changes';
    cancel.hidden = false;
    nameInput.focus();
  };

  const remove = async (tool) => {
    clearErrors();
    try {
      await api('DELETE', `${API}/${encodeURIComponent(tool.id)}`);
      if (state.editing && state.editing.id === tool.id) resetForm();
      // Deleting the last tool of a page steps back one page.
      if (state.offset > 0 && state.offset >= state.total - 1) {
        state.offset = Math.max(0, state.offset - PAGE_SIZE);
      }
      await load();
    } catch (err) {
      showApiError(err);
    }
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors();
    const tool = {
      name: nameInput.value.trim(),
      url: urlInput.value.trim(),
      description: descInput.value.trim(),
      tags: tagsInput.value.split(',').map((t) => t.trim()).filter(Boolean),
    };
    submit.disabled = true;
    try {
      if (state.editing) {
        await api('PUT', `${API}/${encodeURIComponent(state.editing.id)}`, tool);
      } else {
        await api('POST', API, tool);
      }
      resetForm();
      await load();
    } catch (err) {
      showApiError(err);
    } finally {
      submit.disabled = false;
    }
  });

  cancel.addEventListener('click', () => {
    clearErrors();
    resetForm();
  });

  // --- search and paging ---------------------------------------------------------

  // Typing fires `input`; the search box's clear button fires `search`;
  // clearing the field programmatically may only fire `change`.
  let searchTimer;
  const onSearch = () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      const query = search.value.trim();
      if (query === state.query) return;
      state.query = query;
      state.offset = 0;
      load();
    }, SEARCH_DELAY_MS);
  };
  for (const type of ['input', 'search', 'change']) search.addEventListener(type, onSearch);
  prev.addEventListener('click', () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    load();
  });
  next.addEventListener('click', () => {
    state.offset += PAGE_SIZE;
    load();
  });

  // Tell the View (and tests) the controller is running.
  root.dataset.ready = 'true';
  load();
})();
