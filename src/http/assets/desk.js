// The follow-up desk: the work list (overdue first, as the server orders it), one ticket
// with its history, and the actions the command line has, through /api/v1/followups.
let items = [], selected = null;
const STATUS_KEY = { answered: "answered_st" };
function when(s) { return s ? new Date(s).toLocaleString(LANG, { dateStyle: "short", timeStyle: "short" }) : "–"; }
function nextDue(f) {
  const due = [["forward", f.due_forward, f.forwarded_at], ["contact", f.due_contact, f.contacted_at],
    ["answer", f.due_answer, f.answered_at], ["resolve", f.due_resolve, f.resolved_at]]
    .filter(([, d, done]) => d && !done).map(([, d]) => d).sort();
  return due[0];
}
async function api(path, opts) {
  const r = await fetch("/api/v1" + path, Object.assign({ headers: { "Content-Type": "application/json" } }, opts));
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.detail || r.statusText);
  return body;
}
async function load() {
  const q = new URLSearchParams();
  if (document.getElementById("f-overdue").checked) q.set("overdue", "true");
  if (document.getElementById("f-all").checked) q.set("all", "true");
  const kind = document.getElementById("f-kind").value;
  if (kind) q.set("kind", kind);
  q.set("limit", "500");
  items = (await api("/followups?" + q)).items;
  renderList();
}
function renderList() {
  document.getElementById("list").replaceChildren(...items.map(f => {
    const row = el("tr", { class: "item" + (f.id === selected ? " sel" : ""), "data-id": f.id, onclick: () => show(f.id) },
      el("td", {}, f.id),
      el("td", {}, t(f.kind)),
      el("td", {}, t(STATUS_KEY[f.status] || f.status)),
      el("td", {}, String(f.urgency)),
      el("td", { class: f.overdue.length ? "overdue" : "" }, when(nextDue(f)) + (f.overdue.length ? " ⚠" : "")),
      el("td", {}, (f.owner || f.department || "–") + (f.flagged ? " ⚑" : "")));
    return row;
  }));
}
async function act(id, action, body) {
  const msg = document.getElementById("msg");
  try {
    const r = await api(`/followups/${encodeURIComponent(id)}/${action}`, { method: "POST", body: JSON.stringify(body || {}) });
    await load();
    await show(id);
    const m = document.getElementById("msg");
    m.textContent = r.result; m.className = "msg ok";
  } catch (e) { msg.textContent = e.message; msg.className = "msg error"; }
}
function ask(key) { const v = prompt(t(key)); return v && v.trim() ? v.trim() : null; }
async function show(id) {
  selected = id;
  renderList();
  const f = await api(`/followups/${encodeURIComponent(id)}`);
  if (selected !== id) return; // another ticket was picked meanwhile
  const rows = [["kind", t(f.kind)], ["status", t(STATUS_KEY[f.status] || f.status)], ["number", f.number],
    ["category", f.category || "–"], ["owner", f.owner || f.department || "–"], ["created", when(f.created_at)],
    ["due", when(nextDue(f)) + (f.overdue.length ? " ⚠ " + f.overdue.join(", ") : "")]];
  const dl = el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", { "data-field": k }, v)]));
  if (f.recording) dl.append(el("dt", {}, t("recording")), el("dd", {}, f.recording));
  const b = (key, fn) => el("button", { "data-action": key, onclick: fn }, t(key));
  const actions = el("div", { class: "actions" },
    b("forward", () => { const to = ask("forward"); if (to) act(id, "forward", { to }); }),
    b("note", () => { const text = ask("note"); if (text) act(id, "note", { text }); }),
    b("contact", () => act(id, "contact")),
    b("answer", () => act(id, "answer")),
    b("resolve", () => { const outcome = ask("resolve"); if (outcome) act(id, "resolve", { outcome }); }),
    b("close", () => act(id, "close")),
    b("call", () => act(id, "call")));
  if (f.kind === "revisit") {
    actions.append(b("satisfied", () => act(id, "revisit", { satisfied: true })),
      b("unsatisfied", () => act(id, "revisit", { satisfied: false })));
  }
  const notes = el("ul", { class: "notes" }, ...(f.notes || []).map(n => el("li", {}, `${when(n.at)} ${n.author}: ${n.text}`)));
  const attempts = el("ul", { class: "notes" }, ...(f.dial_attempts || []).map(a => el("li", {}, `${when(a.at)} ${a.result} ${a.agent || ""}`)));
  document.getElementById("detail").replaceChildren(
    el("h2", {}, f.id + (f.flagged ? " ⚑" : "")), dl, actions, el("p", { id: "msg", class: "msg" }),
    el("h3", {}, t("notes")), notes, el("h3", {}, t("attempts")), attempts);
}
window.rerender = () => { renderList(); if (selected) show(selected); };
document.addEventListener("DOMContentLoaded", () => {
  for (const id of ["f-overdue", "f-all", "f-kind"]) document.getElementById(id).addEventListener("change", load);
  load();
  setInterval(load, 15000);
});
