// The to-do board: plain JavaScript, no framework, no build step.
//
// It speaks to todo-backend with exactly the operations the original
// Angular frontend sent (the backend is a drop-in for that service), and,
// like the original, re-reads the whole board after every change, so what
// the page shows is always what the database holds, even with two backend
// replicas and several people editing at once.
//
// Everything user-supplied is put on the page with textContent, never as
// HTML: a list named "<script>" is just text.
"use strict";

const GRAPHQL_URL = (window.TODO_CONFIG && window.TODO_CONFIG.graphqlUrl) || "/graphql";

// The original frontend's operations, verbatim.
const HOME_QUERY = "query homePageQuery{ lists { id name position items{ id name position listId } } }";
const CREATE_ITEM = "mutation createItemMutation($input:createItemInput){ item:createItem(input:$input){id name listId position} }";
const DELETE_ITEM = "mutation deleteItemMutation($id:ID!){ success:deleteItem(id:$id) }";
const MOVE_ITEM = "mutation moveItemMutation($id:ID!,$input:moveItemInput){ item:moveItem(id:$id,input:$input){id name listId position} }";
const CREATE_LIST = "mutation createListMutation($name:String){ list:createList(name:$name){id name position} }";
const DELETE_LIST = "mutation deleteListMutation($id:ID!){ success:deleteList(id:$id) }";

// How long one request may take before the page says so.
const TIMEOUT_MS = 10000;

let lists = [];
let busy = false;
// Which backend pods answered, and how often: every response names its pod
// (`x-served-by`), so with two replicas a learner sees both take turns.
const answeredBy = new Map();

const $ = (selector) => document.querySelector(selector);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $("#error").hidden = true;
  $("#error").textContent = "";
}

// One GraphQL request. Throws an Error whose message is fit for the page:
// unreachable backend, HTTP failure, or the GraphQL errors' messages.
async function gql(query, variables = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let response;
  try {
    response = await fetch(GRAPHQL_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query, variables }),
      signal: controller.signal,
    });
  } catch (err) {
    const why = err.name === "AbortError" ? `no answer within ${TIMEOUT_MS / 1000} s` : "unreachable";
    throw new Error(`The backend at ${GRAPHQL_URL} is ${why}. Is it running, and is SERVER_URI right?`);
  } finally {
    clearTimeout(timer);
  }
  noteServedBy(response.headers.get("x-served-by"));
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    // Not JSON: reported below with the status.
  }
  if (body && Array.isArray(body.errors) && body.errors.length > 0) {
    throw new Error(body.errors.map((e) => e.message).join("\n"));
  }
  if (!response.ok || !body) {
    throw new Error(`The backend answered HTTP ${response.status} ${response.statusText}`.trim());
  }
  return body.data;
}

function noteServedBy(pod) {
  if (!pod) return;
  answeredBy.set(pod, (answeredBy.get(pod) || 0) + 1);
  const seen = [...answeredBy].map(([name, count]) => `${name} (${count})`).join(", ");
  const page = window.TODO_CONFIG && window.TODO_CONFIG.pod ? `Page served by frontend pod ${window.TODO_CONFIG.pod}. ` : "";
  $("#served-by").textContent = `${page}Last answer from backend pod ${pod}. Backend pods so far: ${seen}.`;
}

// Run a change, then re-read the board (as the original did).
async function mutate(query, variables) {
  if (busy) return;
  busy = true;
  document.body.classList.add("busy");
  try {
    await gql(query, variables);
    await refresh();
  } catch (err) {
    showError(err.message);
    // The change may or may not have happened: show what the server has.
    await refresh({ quiet: true });
  } finally {
    busy = false;
    document.body.classList.remove("busy");
  }
}

async function refresh({ quiet = false } = {}) {
  try {
    const data = await gql(HOME_QUERY);
    lists = (data.lists || []).filter(Boolean);
    if (!quiet) clearError();
    render();
  } catch (err) {
    if (!quiet) showError(err.message);
    if (lists.length === 0) render();
  }
}

function moveItem(item, listId, position) {
  return mutate(MOVE_ITEM, { id: item.id, input: { listId, position } });
}

function renderItem(list, listIndex, item, index) {
  const last = list.items.length - 1;
  const button = (label, title, disabled, onclick, extra = "") =>
    el("button", { type: "button", title, "aria-label": `${title}: ${item.name ?? ""}`, class: extra, onclick, ...(disabled ? { disabled: "" } : {}) }, label);
  const node = el(
    "li",
    { class: "item", draggable: "true", dataset: { itemId: item.id } },
    el("span", { class: "name", text: item.name ?? "" }),
    el(
      "span",
      { class: "actions" },
      button("←", "Move to previous list", listIndex === 0, () => moveItem(item, lists[listIndex - 1].id, lists[listIndex - 1].items.length), "move-left"),
      button("↑", "Move up", index === 0, () => moveItem(item, list.id, index - 1), "move-up"),
      button("↓", "Move down", index === last, () => moveItem(item, list.id, index + 1), "move-down"),
      button("→", "Move to next list", listIndex === lists.length - 1, () => moveItem(item, lists[listIndex + 1].id, lists[listIndex + 1].items.length), "move-right"),
      button("✕", "Delete item", false, () => mutate(DELETE_ITEM, { id: item.id }), "delete delete-item"),
    ),
  );
  node.addEventListener("dragstart", (event) => {
    event.dataTransfer.setData("text/plain", item.id);
    event.dataTransfer.effectAllowed = "move";
    node.classList.add("dragging");
  });
  node.addEventListener("dragend", () => node.classList.remove("dragging"));
  return node;
}

// Dropping on an item puts the dragged one at that item's position;
// dropping elsewhere on a list appends it.
function enableDrop(listNode, list) {
  listNode.addEventListener("dragover", (event) => {
    event.preventDefault();
    listNode.classList.add("drop-target");
  });
  listNode.addEventListener("dragleave", () => listNode.classList.remove("drop-target"));
  listNode.addEventListener("drop", (event) => {
    event.preventDefault();
    listNode.classList.remove("drop-target");
    const id = event.dataTransfer.getData("text/plain");
    const dragged = lists.flatMap((l) => l.items).find((i) => i.id === id);
    if (!dragged) return;
    const target = event.target.closest("li.item");
    let position = list.items.length;
    if (target) {
      position = list.items.findIndex((i) => i.id === target.dataset.itemId);
    } else if (String(dragged.listId) === String(list.id)) {
      position = list.items.length - 1;
    }
    moveItem(dragged, list.id, position);
  });
}

function renderList(list, listIndex) {
  const input = el("input", { name: "name", placeholder: "New item", "aria-label": `New item in ${list.name ?? "list"}`, maxlength: "255", required: "" });
  const form = el(
    "form",
    {
      class: "new-item",
      onsubmit: (event) => {
        event.preventDefault();
        const name = input.value.trim();
        if (!name) return;
        input.value = "";
        // The list's id as the original frontend sent it: a string.
        mutate(CREATE_ITEM, { input: { name, listId: list.id } });
      },
    },
    input,
    el("button", { type: "submit" }, "Add"),
  );
  const node = el(
    "section",
    { class: "list", dataset: { listId: list.id } },
    el(
      "div",
      { class: "list-header" },
      el("h2", { text: list.name ?? "" }),
      el("button", { type: "button", class: "delete delete-list", title: "Delete list", "aria-label": `Delete list ${list.name ?? ""}`, onclick: () => {
        if (list.items.length === 0 || confirm(`Delete "${list.name}" and its ${list.items.length} item(s)?`)) {
          mutate(DELETE_LIST, { id: list.id });
        }
      } }, "✕"),
    ),
    el("ol", { class: "items" }, ...list.items.filter(Boolean).map((item, index) => renderItem(list, listIndex, item, index))),
    form,
  );
  enableDrop(node, list);
  return node;
}

function render() {
  const board = $("#board");
  // Keep what is being typed in the new-list box across re-renders.
  const pending = board.querySelector(".new-list input")?.value ?? "";
  const input = el("input", { name: "name", placeholder: "New list", "aria-label": "New list", maxlength: "255", required: "" });
  input.value = pending;
  const newList = el(
    "form",
    {
      class: "new-list",
      onsubmit: (event) => {
        event.preventDefault();
        const name = input.value.trim();
        if (!name) return;
        input.value = "";
        mutate(CREATE_LIST, { name });
      },
    },
    input,
    el("button", { type: "submit" }, "Add list"),
  );
  for (const list of lists) list.items = (list.items || []).filter(Boolean);
  const hint = lists.length === 0
    ? [el("p", { class: "empty", text: "No lists yet. Start with a list: type its name (\"To do\", say) in the box and press Add list, then add items to it." })]
    : [];
  board.replaceChildren(...hint, ...lists.map(renderList), newList);
  board.setAttribute("aria-busy", "false");
}

$("#backend").textContent = `Backend: ${GRAPHQL_URL}`;
if (window.TODO_CONFIG && window.TODO_CONFIG.pod) {
  $("#served-by").textContent = `Page served by frontend pod ${window.TODO_CONFIG.pod}.`;
}
refresh();
