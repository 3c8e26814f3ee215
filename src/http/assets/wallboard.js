// The wallboard: one Server-Sent Events stream of the board, redrawn on each event.
let last = null, skew = 0;
function pct(v) { return v == null ? "–" : Math.round(v * 100) + "%"; }
function secs(v) { return v == null ? "–" : dur(v); }
function fig(key, value, bad) {
  return el("div", { class: "fig" + (bad ? " bad" : "") }, el("div", { class: "v" }, value), el("div", { class: "k" }, t(key)));
}
function render(b) {
  const now = Date.now() + skew;
  const queues = document.getElementById("queues");
  queues.replaceChildren(...b.queues.map(q => {
    const longest = q.callers.reduce((m, c) => Math.max(m, (now - c.queued_at_ms) / 1000), 0);
    const k = q.today || {};
    const card = el("article", { class: "queue" + (q.alerts.length ? " alert" : ""), "data-queue": q.name },
      el("h2", {}, q.name),
      el("div", { class: "big" },
        el("span", { class: "n waitn", "data-field": "waiting" }, String(q.waiting)), el("span", { class: "l" }, t("waiting")),
        el("span", { class: "n" }, dur(longest)), el("span", { class: "l" }, t("longest"))),
      el("div", { class: "figs" },
        fig("available", q.agents.available), fig("on_call", q.agents.on_call + q.agents.ringing),
        fig("wrap_up", q.agents.wrap_up), fig("paused", q.agents.paused),
        fig("offered", k.queued ?? 0), fig("answered", k.answered_agent ?? 0), fig("abandoned", k.abandoned ?? 0),
        fig("service_level", pct(k.service_level), q.alerts.includes("service_level")),
        fig("avg_wait", secs(k.avg_speed_of_answer)), fig("avg_handle", secs(k.avg_handle_time))));
    return card;
  }));
  const alerts = [];
  for (const q of b.queues) {
    if (q.alerts.includes("service_level")) alerts.push(`${q.name}: ${t("alert_service_level")} ${q.alert.service_level_pct}%`);
    if (q.alerts.includes("longest_wait")) alerts.push(`${q.name}: ${t("alert_longest_wait")} ${dur(q.alert.longest_wait_secs)}`);
  }
  const banner = document.getElementById("banner");
  banner.textContent = alerts.join(" · ");
  banner.classList.toggle("on", alerts.length > 0);
  document.getElementById("agents").replaceChildren(...b.agents.map(a =>
    el("tr", { "data-agent": a.id },
      el("td", {}, a.id), el("td", {}, a.name || ""),
      el("td", {}, el("span", { class: "state s-" + a.state, "data-field": "state", "data-state": a.state }, t(a.state) + (a.reason ? ` (${a.reason})` : ""))),
      el("td", {}, a.since_ms ? dur((now - a.since_ms) / 1000) : ""))));
  document.getElementById("clock").textContent = new Date(now).toLocaleTimeString(LANG);
}
window.rerender = () => last && render(last);
function connect() {
  const conn = document.getElementById("conn");
  const es = new EventSource("/api/v1/live/events");
  es.addEventListener("board", e => {
    last = JSON.parse(e.data);
    skew = last.as_of_ms - Date.now();
    conn.textContent = "● " + t("live");
    render(last);
  });
  es.onerror = () => {
    conn.textContent = "○ " + t("offline");
    // Refused (token revoked, cookie expired): the browser will not retry; log in again.
    if (es.readyState === EventSource.CLOSED) location.href = "/login?next=/";
  };
}
document.addEventListener("DOMContentLoaded", connect);
setInterval(() => window.rerender(), 1000);
