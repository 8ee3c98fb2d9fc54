// The Mini App's entry: who is this (/app/api/me), the sections the roles open, hash routing,
// the Back button, the theme. Each section renders into <main> from the JSON API.

import { api, clear, h, mainButton, setTexts, t, tg, whenUnauthorized } from "./dom.js";
import * as admin from "./admin.js";
import * as dean from "./dean.js";
import * as teacher from "./teacher.js";

const view = document.getElementById("view");
const tabs = document.getElementById("tabs");

// Route name -> [role, tab label key or null (a page inside a tab), render, tab it belongs to]
const ROUTES = {
  inbox: ["dean", "tab_inbox", dean.inbox],
  statement: ["dean", null, dean.statement, "inbox"],
  additional: ["dean", "tab_additional", dean.additional],
  reports: ["dean", "tab_reports", dean.reports],
  announce: ["dean", "tab_announce", dean.announce],
  today: ["teacher", "tab_today", teacher.today],
  roll: ["teacher", null, teacher.roll, "today"],
  exams: ["admin", "tab_exams", admin.exams],
  import: ["admin", "tab_import", admin.importer],
};

let me = null;
let leave = null; // the current page's clean-up (timers)
const lastOfTab = {}; // tab -> the hash it was left at (the inbox's filters), for Back

// The chat's buttons open a page by query (WEBAPP_URL?roll=7, ?statement=12).
const DEEP_LINKS = { roll: "roll", statement: "statement" };

function deepLink() {
  const search = new URLSearchParams(location.search);
  for (const [key, name] of Object.entries(DEEP_LINKS)) {
    const id = search.get(key);
    if (id && /^[0-9]+$/.test(id)) return "#/" + name + "/" + id;
  }
  return null;
}

function back() {
  const { name } = parseHash();
  const parent = ROUTES[name] && ROUTES[name][3];
  if (parent) location.hash = lastOfTab[parent] || "#/" + parent;
}

function applyTheme() {
  if (!tg) return;
  document.documentElement.dataset.tg = tg.colorScheme || "light";
  const params = tg.themeParams || {};
  for (const [name, value] of Object.entries(params)) {
    document.documentElement.style.setProperty("--tg-theme-" + name.replace(/_/g, "-"), value);
  }
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, search] = raw.split("?");
  const parts = path.split("/").filter(Boolean);
  return { name: parts[0] || "", arg: parts[1] || "", params: new URLSearchParams(search || "") };
}

export function go(name, arg, params) {
  const search = params && params.toString() ? "?" + params.toString() : "";
  location.hash = "#/" + name + (arg ? "/" + arg : "") + search;
}

function allowed(name) {
  const route = ROUTES[name];
  if (!route) return false;
  // Reports are the dean's and the administrator's.
  if (name === "reports") return me.roles.includes("dean") || me.roles.includes("admin");
  return me.roles.includes(route[0]);
}

function homeRoute() {
  // Each role's own first page; a dean who also teaches starts at the inbox.
  for (const name of ["inbox", "today", "exams", ...Object.keys(ROUTES)]) {
    if (ROUTES[name][1] && allowed(name)) return name;
  }
  return "";
}

function drawTabs(current) {
  clear(tabs);
  const active = ROUTES[current] && ROUTES[current][3] ? ROUTES[current][3] : current;
  for (const [name, route] of Object.entries(ROUTES)) {
    if (!route[1] || !allowed(name)) continue;
    tabs.appendChild(
      h("a", { href: "#/" + name, class: name === active ? "on" : null }, t(route[1])),
    );
  }
  tabs.hidden = tabs.childElementCount < 2;
}

function backButton(show) {
  if (!tg || !tg.BackButton) return;
  if (show) tg.BackButton.show();
  else tg.BackButton.hide();
}

export function politeError(message) {
  if (leave) leave();
  leave = null;
  mainButton(null);
  backButton(false);
  clear(tabs);
  document.getElementById("bar").hidden = true;
  clear(view).appendChild(h("div", { class: "polite", id: "polite-error" }, h("p", {}, message)));
}

async function route() {
  if (!me) return;
  if (leave) leave();
  leave = null;
  mainButton(null);
  let { name, arg, params } = parseHash();
  if (!allowed(name)) {
    name = homeRoute();
    if (!name) {
      politeError(t("no_role"));
      return;
    }
    history.replaceState(null, "", "#/" + name);
  }
  drawTabs(name);
  if (!ROUTES[name][3]) lastOfTab[name] = location.hash;
  backButton(Boolean(ROUTES[name][3]));
  document.body.dataset.page = name;
  clear(view).appendChild(h("p", { class: "muted" }, t("loading")));
  try {
    const cleanup = await ROUTES[name][2](view, { arg, params, me, go });
    leave = typeof cleanup === "function" ? cleanup : null;
  } catch (err) {
    if (err && err.status === 401) return; // the polite page is already shown
    clear(view).appendChild(h("p", { class: "error", id: "page-error" }, err.message || t("error")));
  }
}

async function start() {
  whenUnauthorized((message) => politeError(message || t("unauthorized")));
  if (!tg || !tg.initData) {
    politeError("Откройте эту страницу из Telegram. · Please open this page from Telegram.");
    return;
  }
  applyTheme();
  tg.onEvent("themeChanged", applyTheme);
  tg.BackButton.onClick(back);
  tg.ready();
  tg.expand();
  try {
    me = await api("/app/api/me");
  } catch (err) {
    if (err.status !== 401) politeError(err.message);
    return;
  }
  setTexts(me.i18n, me.lang);
  document.title = t("app_title");
  const linked = deepLink();
  // Telegram opens the page with its own "#tgWebAppData=…": that is no route of ours.
  if (linked && !location.hash.startsWith("#/")) history.replaceState(null, "", location.pathname + location.search + linked);
  window.addEventListener("hashchange", route);
  await route();
}

start();
