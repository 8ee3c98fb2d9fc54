// The administrator: exams past and upcoming (cancel, move), and imports checked before
// anything is written (the dry run lists the file's row errors).

import { api, clear, field, h, query, t, toast, when } from "./dom.js";

function localInput(iso) {
  // <input type=datetime-local> wants "YYYY-MM-DDTHH:MM" in the browser's time.
  const moment = iso ? new Date(iso) : new Date();
  const shifted = new Date(moment.getTime() - moment.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

function examCard(exam, reload) {
  const box = h("div", { class: "card exam-card", dataset: { id: exam.id } });
  const draw = () => {
    clear(box).append(
      h("div", { class: "row" },
        h("span", { class: "name grow" }, exam.discipline),
        exam.cancelled ? h("span", { class: "badge rejected" }, t("exam_cancelled")) : ""),
      h("div", { class: "small muted" }, [exam.group, exam.teacher].filter(Boolean).join(" · ")),
      h("div", { class: "small" }, when(exam.starts_at)),
      exam.cancelled || exam.past ? "" : h("div", { class: "actions" },
        h("button", { class: "plain", type: "button", onclick: moveForm }, t("exam_move")),
        h("button", { class: "danger", type: "button", onclick: cancel }, t("exam_cancel"))),
    );
  };
  const cancel = async () => {
    if (!window.confirm(t("exam_cancel") + ": " + exam.discipline + "?")) return;
    try {
      await api("/app/api/admin/exams/" + exam.id + "/cancel", { method: "POST", body: {} });
      toast(t("saved"));
      reload();
    } catch (err) {
      toast(err.message);
    }
  };
  const moveForm = () => {
    const input = h("input", { type: "datetime-local", value: localInput(exam.starts_at), class: "new-start" });
    clear(box).append(
      h("div", { class: "name" }, exam.discipline),
      field(t("new_start"), input),
      h("div", { class: "actions" },
        h("button", { class: "plain", type: "button", onclick: draw }, t("cancel")),
        h("button", {
          type: "button", class: "save-move",
          onclick: async () => {
            if (!input.value) return;
            try {
              await api("/app/api/admin/exams/" + exam.id + "/move", {
                method: "POST", body: { starts_at: new Date(input.value).toISOString() },
              });
              toast(t("saved"));
              reload();
            } catch (err) {
              toast(err.message);
            }
          },
        }, t("save"))),
    );
  };
  draw();
  return box;
}

export async function exams(view, { params, go }) {
  const whenParam = params.get("when") === "past" ? "past" : "upcoming";
  const data = await api("/app/api/admin/exams" + query({ when: whenParam }));
  const items = Array.isArray(data) ? data : data.items || [];
  const reload = () => go("exams", "", new URLSearchParams({ when: whenParam, r: Date.now() }));
  const switcher = h("div", { class: "actions" },
    ["upcoming", "past"].map((name) =>
      h("button", {
        type: "button", id: "exams-" + name, class: name === whenParam ? "" : "plain",
        onclick: () => go("exams", "", new URLSearchParams({ when: name })),
      }, t("exams_" + name))));
  const list = h("div", { id: "admin-exams" });
  if (!items.length) list.appendChild(h("p", { class: "muted polite" }, t("nothing_found")));
  for (const exam of items) list.appendChild(examCard(exam, reload));
  clear(view).append(h("h1", {}, t("tab_exams")), switcher, list);
}

function counts(result) {
  const c = result.counts;
  return c ? " (" + [c.added, c.updated, c.unchanged, c.total].join(" / ") + ")" : "";
}

function errorList(result) {
  const errors = result.errors || [];
  if (!errors.length) return h("p", { class: "muted", id: "import-result" }, t("import_no_errors"), counts(result));
  return h("div", { id: "import-result" },
    h("h2", { class: "error" }, t("import_errors")),
    h("ul", { class: "card err-list" },
      errors.map((e) => h("li", {}, typeof e === "string" ? e : e.text || e.message || ""))));
}

export async function importer(view) {
  const kind = h("select", { id: "import-kind", name: "kind" },
    ["roster", "schedule", "plan"].map((name) => h("option", { value: name }, t("import_" + name))));
  const file = h("input", { type: "file", id: "import-file", accept: ".csv,.xlsx,.txt" });
  const result = h("div", {});
  const write = h("button", { type: "button", id: "import-write", disabled: true }, t("import_write"));
  const send = async (dryRun) => {
    if (!file.files.length) return;
    const form = new FormData();
    form.append("file", file.files[0]);
    try {
      const answer = await api("/app/api/admin/import" + query({ kind: kind.value, dry_run: dryRun ? 1 : 0 }), {
        method: "POST", form,
      });
      clear(result).appendChild(errorList(answer));
      write.disabled = !dryRun || (answer.errors || []).length > 0;
      if (!dryRun) toast(t("saved"));
    } catch (err) {
      clear(result).appendChild(h("p", { class: "error" }, err.message));
      write.disabled = true;
    }
  };
  write.addEventListener("click", () => send(false));
  const reset = () => {
    write.disabled = true;
    clear(result);
  };
  kind.addEventListener("change", reset);
  file.addEventListener("change", reset);
  clear(view).append(
    h("h1", {}, t("tab_import")),
    h("div", { class: "card" },
      field(t("filter_kind"), kind),
      field("", file),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "plain", id: "import-check", onclick: () => send(true) }, t("import_check")),
        write)),
    result,
  );
}
