// Shared helpers: the element builder (text only: server data never becomes markup),
// the API client (initData in every request), the interface strings, dates, Telegram.

export const tg = window.Telegram && window.Telegram.WebApp ? window.Telegram.WebApp : null;

let texts = {};
let lang = "ru";

export function setTexts(values, language) {
  texts = values || {};
  lang = language || "ru";
  document.documentElement.lang = lang;
}

// The interface string for `key` in the user's language, "{name}" filled from `params`.
export function t(key, params) {
  let text = Object.prototype.hasOwnProperty.call(texts, key) ? texts[key] : key;
  if (params) {
    for (const [name, value] of Object.entries(params)) {
      text = text.split("{" + name + "}").join(String(value));
    }
  }
  return text;
}

// h("div", {class: "card", onclick: f}, "text", child, [more]) — strings become text nodes.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name in el && name !== "list" && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function initData() {
  return tg && tg.initData ? tg.initData : "";
}

// One API call: JSON in and out, or the raw Response (`raw`) for files.
export async function api(path, { method = "GET", body, form, raw = false } = {}) {
  const headers = { Authorization: "tma " + initData() };
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, t("error"));
  }
  if (!response.ok) {
    let message = "";
    try {
      message = (await response.json()).error || "";
    } catch (err) {
      message = "";
    }
    if (response.status === 401) onUnauthorized(message);
    throw new ApiError(response.status, message || t("error"));
  }
  return raw ? response : response.json();
}

let unauthorizedHandler = () => {};
export function whenUnauthorized(handler) {
  unauthorizedHandler = handler;
}
function onUnauthorized(message) {
  unauthorizedHandler(message);
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

export function when(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return String(iso);
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(moment);
}

export function clockText(seconds) {
  const left = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(left / 60);
  return minutes + ":" + String(left % 60).padStart(2, "0");
}

let toastTimer = null;
export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.hidden = true;
  }, 3500);
}

export function haptic(kind) {
  try {
    if (!tg || !tg.HapticFeedback) return;
    if (kind === "error" || kind === "success") tg.HapticFeedback.notificationOccurred(kind);
    else tg.HapticFeedback.selectionChanged();
  } catch (err) {
    /* older clients: no haptics */
  }
}

// A file from the API (the same Authorization header) as an object URL.
export async function blobUrl(path) {
  const response = await api(path, { raw: true });
  return URL.createObjectURL(await response.blob());
}

// Saves a file fetched with the header under `name` (reports, PDFs).
export async function download(path, name) {
  const response = await api(path, { raw: true });
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: name || (match ? match[1] : "file") });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// The Main button: one primary action for the page, or none.
let mainHandler = null;
export function mainButton(text, handler) {
  if (!tg || !tg.MainButton) return;
  if (mainHandler) tg.MainButton.offClick(mainHandler);
  mainHandler = null;
  if (!text) {
    tg.MainButton.hide();
    return;
  }
  mainHandler = handler;
  tg.MainButton.setText(text);
  tg.MainButton.onClick(mainHandler);
  tg.MainButton.show();
}

export function field(label, control) {
  return h("label", { class: "field" }, label, control);
}
