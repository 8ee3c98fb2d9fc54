// The teacher's exam day: today's exams, and the roll on one screen. A tap marks at once on
// the screen (optimistic), is saved at once (one request queue per student, so two quick taps
// on one line arrive in order), and the server's answer corrects the screen if it refused.

import { api, clear, clockText, download, h, haptic, mainButton, t, toast, when } from "./dom.js";

export async function today(view) {
  const data = await api("/app/api/exams/today");
  const items = Array.isArray(data) ? data : data.items || [];
  const list = h("div", { id: "exams-today" });
  if (!items.length) list.appendChild(h("p", { class: "muted polite" }, t("no_exams_today")));
  for (const exam of items) {
    list.appendChild(
      h("a", { class: "card exam-card", href: "#/roll/" + exam.id, dataset: { id: exam.id } },
        h("div", { class: "name" }, exam.discipline),
        h("div", { class: "small muted" }, [exam.group, exam.kind_label].filter(Boolean).join(" · ")),
        h("div", { class: "small" }, when(exam.starts_at)),
      ),
    );
  }
  clear(view).append(h("h1", {}, t("tab_today")), list);
}

const POLL_MS = 5000; // the chat's marks show here too
// The chat console's symbols for the marks (the teacher knows them from there).
const ICONS = { present: "✅", absent: "❌", excused: "📄", outage: "⚡", resolved: "↩" };

export async function roll(view, { arg }) {
  const base = "/app/api/roll/" + encodeURIComponent(arg);
  let state = await api(base);
  const pending = new Map(); // student id -> requests in flight
  const queues = new Map(); // student id -> the promise of its last request
  const rows = new Map(); // student id -> its line element
  const deadlines = new Map(); // student id (or "exam") -> ms when the outage clock runs out
  let ticking = null;
  let polling = null;

  const locked = () => Boolean(state.confirmed || (state.exam && state.exam.confirmed_at));
  const busy = () => [...pending.values()].some((n) => n > 0);
  const label = (list, value) => {
    const found = (list || []).find((o) => o.value === value);
    return found ? found.label : value;
  };

  const counts = h("div", { class: "counts small muted", id: "roll-counts" });
  const banner = h("div", { id: "roll-outage" });
  const list = h("div", { id: "roll" });
  const footer = h("div", { id: "roll-footer" });

  function setDeadline(key, outage) {
    if (outage && outage.seconds_left !== undefined && outage.seconds_left !== null) {
      deadlines.set(key, Date.now() + outage.seconds_left * 1000);
    } else deadlines.delete(key);
  }

  function tick() {
    for (const clock of view.querySelectorAll(".clock[data-key]")) {
      const deadline = deadlines.get(clock.dataset.key);
      if (deadline === undefined) continue;
      clock.textContent = clockText((deadline - Date.now()) / 1000);
    }
  }

  function chip(student, value, labelText, onclick) {
    const on = student.mark === value;
    return h("button", {
      type: "button", class: "chip " + value + (on ? " on" : ""), dataset: { mark: value },
      disabled: locked(), "aria-pressed": on ? "true" : "false", title: labelText, onclick,
    }, h("span", { class: "icon", "aria-hidden": "true" }, ICONS[value] || ""), h("span", { class: "label" }, labelText));
  }

  function chips(student) {
    const box = h("div", { class: "chips" });
    for (const mark of state.marks || []) {
      if (mark.value === "outage" && student.mark === "outage") {
        // The clock runs: the chip ends it (resolved, the student is back).
        box.appendChild(chip(student, "resolved", t("mark_resolved"), () => tap(student.id, "resolved")));
      } else {
        box.appendChild(chip(student, mark.value, mark.label, () => tap(student.id, mark.value)));
      }
    }
    return box;
  }

  function gradeBox(student) {
    if (!(state.grades || []).length || student.mark !== "present") return "";
    const select = h("select", {
      class: "grade", disabled: locked(), "aria-label": t("grade"), title: t("grade"),
      onchange: () => setGrade(student.id, select.value),
    }, student.grade ? "" : h("option", { value: "" }, "—"), state.grades.map((g) => h("option", { value: g.value }, g.label)));
    select.value = student.grade || "";
    return select;
  }

  function line(student) {
    const meta = [];
    if (student.ticket) meta.push(t("ticket") + " " + student.ticket);
    if (student.subgroup) meta.push(t("subgroup") + " " + student.subgroup);
    if (student.handed_in) meta.push("✓ " + t("handed_in"));
    const marked = (state.marks || []).some((m) => m.value === student.mark);
    return h("div", {
      class: "card roll-line" + ((pending.get(student.id) || 0) > 0 ? " saving" : ""),
      dataset: { id: student.id, mark: student.mark || "" },
    },
      h("div", { class: "row" },
        h("span", { class: "name grow" }, student.name),
        !marked && student.mark_label ? h("span", { class: "badge" }, student.mark_label) : "",
        student.mark === "outage" ? h("span", { class: "clock", dataset: { key: String(student.id) } }) : "",
        gradeBox(student),
      ),
      meta.length ? h("div", { class: "meta" }, meta.join(" · ")) : "",
      chips(student),
    );
  }

  const drawn = new Map(); // student id -> what its line shows (redrawn only on a change)

  function drawLine(student) {
    const key = JSON.stringify([student, locked(), (pending.get(student.id) || 0) > 0]);
    if (drawn.get(student.id) === key && rows.has(student.id)) return;
    drawn.set(student.id, key);
    const fresh = line(student);
    const old = rows.get(student.id);
    if (old) old.replaceWith(fresh);
    else list.appendChild(fresh);
    rows.set(student.id, fresh);
    setDeadline(String(student.id), student.mark === "outage" ? student.outage || null : null);
  }

  function drawCounts() {
    const tally = new Map();
    for (const s of state.students) tally.set(s.mark, (tally.get(s.mark) || 0) + 1);
    clear(counts).append(
      (state.marks || []).filter((m) => tally.get(m.value)).map((m) => m.label + ": " + tally.get(m.value)).join(" · ") ||
        "—",
    );
  }

  function drawBanner() {
    clear(banner);
    setDeadline("exam", state.outage);
    const written = state.exam && state.exam.written;
    setDeadline("written", written);
    if (state.outage) {
      banner.appendChild(h("div", { class: "card row", id: "outage-banner" },
        h("span", { class: "grow" }, t("mark_outage")), h("span", { class: "clock", dataset: { key: "exam" } })));
    }
    if (written) {
      banner.appendChild(h("div", { class: "card row", id: "written-banner" },
        h("span", { class: "grow" }, t("handed_in"), ": ", String(state.students.filter((s) => s.handed_in).length), " / ", String(state.students.length)),
        h("span", { class: "clock", dataset: { key: "written" } })));
    }
  }

  function drawFooter() {
    clear(footer);
    const aloud = state.texts_aloud || [];
    if (aloud.length) {
      footer.append(
        h("h2", {}, t("texts_aloud")),
        h("ol", { class: "card aloud", id: "texts-aloud" },
          aloud.map((text) => h("li", { class: "pre" }, typeof text === "string" ? text : text.text))),
      );
    }
    if (locked()) {
      footer.append(
        h("p", { class: "muted", id: "roll-confirmed" }, t("confirmed")),
        h("div", { class: "actions" }, h("button", {
          type: "button", class: "plain", id: "sheet",
          onclick: () => download(base + "/sheet").catch((err) => toast(err.message)),
        }, "⬇ ", t("download"))),
      );
    }
    else if (state.can_confirm) {
      footer.appendChild(h("div", { class: "actions" }, h("button", { type: "button", id: "confirm", onclick: confirm }, t("confirm_roll"))));
    }
    mainButton(!locked() && state.can_confirm ? t("confirm_roll") : null, confirm);
  }

  function drawAll() {
    const exam = state.exam || {};
    for (const student of state.students) drawLine(student);
    drawCounts();
    drawBanner();
    drawFooter();
    heading.textContent = [exam.discipline, exam.group].filter(Boolean).join(" · ");
    tick();
  }

  let gone = false; // the teacher left the page: late answers draw nothing (nor the Main button)

  // The server's roll, except the lines whose own requests are still in flight.
  function adopt(server) {
    if (gone) return;
    const mine = new Map(state.students.map((s) => [s.id, s]));
    state = server;
    state.students = server.students.map((s) => ((pending.get(s.id) || 0) > 0 && mine.has(s.id) ? mine.get(s.id) : s));
    drawAll();
  }

  async function reload() {
    try {
      adopt(await api(base));
    } catch (err) {
      toast(err.message);
    }
  }

  function enqueue(studentId, path, body) {
    pending.set(studentId, (pending.get(studentId) || 0) + 1);
    const previous = queues.get(studentId) || Promise.resolve();
    const next = previous.then(async () => {
      try {
        const server = await api(base + "/" + path, { method: "POST", body });
        pending.set(studentId, pending.get(studentId) - 1);
        adopt(server);
      } catch (err) {
        pending.set(studentId, pending.get(studentId) - 1);
        haptic("error");
        toast(err.message);
        if (!busy()) await reload();
      }
    });
    queues.set(studentId, next);
    return next;
  }

  function tap(studentId, mark) {
    const student = state.students.find((s) => s.id === studentId);
    if (!student || locked()) return;
    haptic("selection");
    student.mark = mark === "resolved" ? "present" : mark;
    student.outage = null; // the server's clock arrives with its answer
    if (mark === "outage" || mark === "resolved") {
      enqueue(studentId, "outage", { student_id: studentId, action: mark === "outage" ? "start" : "end" });
    } else enqueue(studentId, "mark", { student_id: studentId, mark });
    drawLine(student);
    drawCounts();
  }

  function setGrade(studentId, grade) {
    const student = state.students.find((s) => s.id === studentId);
    if (!student || !grade) return;
    haptic("selection");
    student.grade = grade;
    enqueue(studentId, "grade", { student_id: studentId, grade });
  }

  async function post(path, body) {
    try {
      adopt(await api(base + "/" + path, { method: "POST", body }));
      haptic("success");
    } catch (err) {
      haptic("error");
      toast(err.message);
    }
  }

  function confirm() {
    if (busy()) return;
    post("confirm", {});
  }

  const heading = h("h1", { id: "roll-title" });
  clear(view).append(heading, counts, banner, list, footer);
  drawAll();
  ticking = setInterval(tick, 1000);
  polling = setInterval(() => {
    if (!busy() && !document.hidden) reload();
  }, POLL_MS);
  return () => {
    gone = true;
    clearInterval(ticking);
    clearInterval(polling);
  };
}
