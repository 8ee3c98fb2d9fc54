// The dean's desk: the inbox (filters, search, pages), a statement with its documents and
// the decision, the additional session, reports, announcements.

import { api, blobUrl, clear, download, field, h, mainButton, query, t, toast, when } from "./dom.js";

const FILTERS = ["kind", "status", "exam", "group", "date", "q"];
// What the filters' lists offer: the API's own lists when it gives them, else what the
// statements seen so far show (value -> label), so the lists fill as the dean browses.
const seen = { kind: new Map(), status: new Map(), exam: new Map(), group: new Map() };

function remember(items) {
  for (const item of items) {
    seen.kind.set(item.kind, item.kind_label);
    seen.status.set(item.status, item.status_label);
    if (item.exam) seen.exam.set(String(item.exam.id), item.exam.discipline + " · " + when(item.exam.starts_at));
    if (item.student) seen.group.set(item.student.group, item.student.group);
  }
}

function options(name, given, current) {
  const pairs = given ? given.map((o) => [String(o.value), o.label]) : [...seen[name].entries()];
  if (current && !pairs.some(([value]) => value === current)) pairs.push([current, current]);
  const select = h(
    "select",
    { name, id: "filter-" + name },
    h("option", { value: "" }, t("filter_any")),
    pairs.map(([value, label]) => h("option", { value }, label)),
  );
  select.value = current || "";
  return select;
}

function statusBadge(item) {
  return h("span", { class: "badge " + item.status }, item.status_label);
}

function card(item, go) {
  return h(
    "a",
    { class: "card statement-card", href: "#/statement/" + item.id, dataset: { id: item.id } },
    h(
      "div",
      { class: "row" },
      h("span", { class: "name grow" }, item.student.name),
      statusBadge(item),
    ),
    h(
      "div",
      { class: "small muted" },
      item.kind_label, " · ", item.student.group, " · ", item.student.record_book,
    ),
    h("div", { class: "small" }, item.exam.discipline, " · ", when(item.exam.starts_at)),
    h("div", { class: "small muted" }, t("filed_at"), ": ", when(item.filed_at)),
  );
}

export async function inbox(view, { params, go }) {
  const current = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) || ""]));
  const page = Number(params.get("page") || 1);
  const data = await api("/app/api/statements" + query({ ...current, page }));
  remember(data.items);
  const given = data.filters || {};

  const apply = (changes) => {
    const next = new URLSearchParams();
    for (const [name, value] of Object.entries({ ...current, page: 1, ...changes })) {
      if (value && !(name === "page" && Number(value) === 1)) next.set(name, value);
    }
    go("inbox", "", next);
  };
  const search = h("input", {
    type: "search", name: "q", id: "filter-q", value: current.q,
    placeholder: t("search_placeholder"), enterkeyhint: "search",
  });
  const form = h(
    "form",
    {
      class: "card filters", id: "filters",
      onsubmit: (event) => {
        event.preventDefault();
        const values = Object.fromEntries(new FormData(event.target).entries());
        apply(values);
      },
      onchange: (event) => {
        if (event.target.tagName === "SELECT" || event.target.type === "date") event.target.form.requestSubmit();
      },
    },
    h("div", { class: "wide row" }, h("div", { class: "grow" }, search), h("button", { type: "submit", id: "search" }, t("search"))),
    field(t("filter_kind"), options("kind", given.kind, current.kind)),
    field(t("filter_status"), options("status", given.status, current.status)),
    field(t("filter_exam"), options("exam", given.exam, current.exam)),
    field(t("filter_group"), options("group", given.group, current.group)),
    h("div", { class: "wide" }, field(t("filter_date"), h("input", { type: "date", name: "date", id: "filter-date", value: current.date }))),
  );

  const list = h("div", { id: "statements" });
  if (!data.items.length) list.appendChild(h("p", { class: "muted polite" }, t("nothing_found")));
  for (const item of data.items) list.appendChild(card(item, go));
  const pager = h(
    "div",
    { class: "pager" },
    h("button", { class: "plain", disabled: data.page <= 1, onclick: () => apply({ ...current, page: data.page - 1 }) }, t("previous")),
    h("span", { class: "muted small", id: "page-of" }, t("page_of", { page: data.page, pages: data.pages })),
    h("button", { class: "plain", disabled: data.page >= data.pages, onclick: () => apply({ ...current, page: data.page + 1 }) }, t("next")),
  );
  clear(view).append(form, list, data.pages > 1 ? pager : "");
}

function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows.filter(([, value]) => value !== null && value !== undefined && value !== "").map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]),
  );
}

function documents(item, urls) {
  const box = h("div", { id: "documents" });
  if (!item.documents.length) {
    box.appendChild(h("p", { class: "muted" }, t("no_documents")));
    return box;
  }
  const photos = h("div", { class: "photos" });
  for (const doc of item.documents) {
    if (doc.kind === "photo") {
      const img = h("img", { alt: doc.name, class: "photo", dataset: { id: doc.id } });
      photos.appendChild(img);
      blobUrl(doc.url).then(
        (url) => {
          urls.push(url);
          img.src = url;
        },
        (err) => img.replaceWith(h("p", { class: "error small" }, err.message)),
      );
    } else {
      box.appendChild(
        h("p", {}, h("a", {
          href: "#", class: "doc", dataset: { id: doc.id },
          onclick: (event) => {
            event.preventDefault();
            download(doc.url, doc.name).catch((err) => toast(err.message));
          },
        }, "⬇ ", t("download"), ": ", doc.name)),
      );
    }
  }
  if (photos.childElementCount) box.prepend(photos);
  return box;
}

function decisionBox(view, item, rerender) {
  const box = h("div", { class: "card", id: "decision" });
  if (!item.actions || !item.actions.length) {
    box.appendChild(h("p", { class: "muted" }, t("decided"), item.decision_comment ? ": " + item.decision_comment : ""));
    return box;
  }
  const send = async (action, reason) => {
    box.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      const updated = await api("/app/api/statements/" + item.id + "/decision", {
        method: "POST", body: { action, reason: reason || "" },
      });
      toast(t("saved"));
      rerender(updated);
    } catch (err) {
      box.querySelectorAll("button").forEach((b) => (b.disabled = false));
      toast(err.message);
    }
  };
  const ask = (action) => {
    const reason = h("textarea", {
      id: "reason", maxlength: 1000,
      placeholder: t(action === "reject" ? "reason_reject_placeholder" : "reason_more_placeholder"),
    });
    const hint = h("p", { class: "error small", hidden: true });
    reason.addEventListener("input", () => (hint.hidden = true));
    const submit = () => {
      if (!reason.value.trim()) {
        hint.textContent = t("reason_required");
        hint.hidden = false;
        reason.focus();
        return;
      }
      mainButton(null);
      send(action, reason.value.trim());
    };
    const label = t(action);
    clear(box).append(
      field(t("reason"), reason), hint,
      h("div", { class: "actions" },
        h("button", { class: "plain", type: "button", onclick: () => rerender(item) }, t("cancel")),
        h("button", { class: action === "reject" ? "danger" : "", type: "button", id: "send-decision", onclick: submit }, label),
      ),
    );
    mainButton(label, submit);
    reason.focus();
  };
  box.appendChild(
    h("div", { class: "actions" },
      item.actions.map((action) =>
        h("button", {
          type: "button", id: "action-" + action, class: action === "reject" ? "danger" : action === "more" ? "plain" : "",
          onclick: () => (action === "approve" ? send(action, "") : ask(action)),
        }, t(action)),
      ),
    ),
  );
  return box;
}

export async function statement(view, { arg }) {
  const urls = [];
  const render = (item) => {
    mainButton(null);
    clear(view).append(
      h("h1", {}, t("statement_number", { number: item.id })),
      h("div", { class: "card" },
        h("div", { class: "row" }, h("span", { class: "grow" }, item.kind_label), statusBadge(item)),
        facts([
          [t("student"), item.student.name],
          [t("record_book"), item.student.record_book],
          [t("group"), item.student.group],
          [t("exam"), item.exam.discipline + " · " + when(item.exam.starts_at)],
          [t("filed_at"), when(item.filed_at)],
          [t("roll_mark"), item.roll_mark_label || item.roll_mark],
          [t("grade"), item.grade_label || item.grade],
        ]),
      ),
      item.text ? h("div", { class: "card" }, h("h2", {}, t("text")), h("div", { class: "pre", id: "statement-text" }, item.text)) : "",
      h("h2", {}, t("documents")),
      documents(item, urls),
      decisionBox(view, item, render),
    );
  };
  render(await api("/app/api/statements/" + encodeURIComponent(arg)));
  return () => urls.forEach((url) => URL.revokeObjectURL(url));
}

export async function additional(view) {
  const data = await api("/app/api/additional");
  const list = h("div", { id: "additional" });
  if (!data.items.length) list.appendChild(h("p", { class: "muted polite" }, t("additional_empty")));
  for (const item of data.items) {
    list.appendChild(
      h("div", { class: "card" },
        h("div", { class: "name" }, item.student),
        h("div", { class: "small muted" }, item.group, " · ", item.record_book),
        h("div", { class: "small" }, item.discipline, " · ", when(item.starts_at)),
        h("span", { class: "badge" }, item.mark_label),
      ),
    );
  }
  clear(view).append(h("h1", {}, t("tab_additional")), list);
}

export async function reports(view) {
  const names = ["additional", "statements", "attendance"];
  clear(view).append(
    h("h1", {}, t("tab_reports")),
    ...names.map((name) =>
      h("div", { class: "card row" },
        h("span", { class: "grow" }, t("report_" + name)),
        h("button", {
          id: "report-" + name,
          onclick: (event) => {
            const button = event.currentTarget;
            button.disabled = true;
            download("/app/api/reports/" + name)
              .catch((err) => toast(err.message))
              .finally(() => (button.disabled = false));
          },
        }, "⬇ ", t("download")),
      ),
    ),
  );
}

export async function announce(view) {
  let timer = null;
  const targets = await api("/app/api/announcements/targets");
  const audience = h(
    "select",
    { id: "announce-audience" },
    (targets.faculties || []).map((f) => h("option", { value: "faculty:" + f.id }, f.name)),
    (targets.groups || []).map((g) => h("option", { value: "group:" + g.id }, g.name + " · " + g.faculty)),
    (targets.exams || []).map((e) =>
      h("option", { value: "exam:" + e.id }, e.discipline + " · " + e.group + " · " + when(e.starts_at)),
    ),
  );
  const text = h("textarea", { id: "announce-text", maxlength: 4000 });
  const progress = h("p", { id: "announce-progress", class: "muted" });
  const button = h("button", { id: "announce-send", type: "button" }, t("announce_send"));
  const watch = (state) => {
    progress.textContent = t("announce_progress", state);
    progress.dataset.done = state.done ? "1" : "";
    if (state.done) return;
    timer = setTimeout(async () => {
      try {
        watch(await api("/app/api/announcements/" + state.id));
      } catch (err) {
        progress.textContent = err.message;
      }
    }, 1000);
  };
  const send = async () => {
    if (!text.value.trim() || button.disabled) return;
    const [kind, id] = audience.value.split(":");
    button.disabled = true;
    try {
      const state = await api("/app/api/announcements", {
        method: "POST", body: { text: text.value, audience: kind, target_id: Number(id) },
      });
      mainButton(null);
      text.disabled = true;
      audience.disabled = true;
      watch(state);
    } catch (err) {
      button.disabled = false;
      toast(err.message);
    }
  };
  button.addEventListener("click", send);
  clear(view).append(
    h("h1", {}, t("tab_announce")),
    h("div", { class: "card" },
      field(t("announce_audience"), audience),
      field(t("announce_text"), text),
      h("div", { class: "actions" }, button)),
    progress,
  );
  mainButton(t("announce_send"), send);
  return () => clearTimeout(timer);
}
