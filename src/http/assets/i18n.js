// The pages' words in Chinese and English; the choice is the viewer's, kept in the browser.
const WORDS = {
  "zh-CN": {
    wallboard: "实时看板", desk: "工单台", agent: "工号", name: "姓名", state: "状态", for: "持续",
    waiting: "排队", longest: "最长等待", available: "空闲", ringing: "振铃", on_call: "通话",
    wrap_up: "话后", paused: "小休", logged_out: "未签入", offered: "呼入", answered: "接通",
    abandoned: "放弃", service_level: "服务水平", avg_wait: "平均等待", avg_handle: "平均处理",
    alert_service_level: "服务水平低于", alert_longest_wait: "等待超过", live: "实时", offline: "连接中断",
    wallboard_link: "看板", worklist: "工单", kind: "类型", status: "状态", urgency: "紧急",
    due: "下一期限", owner: "负责人", overdue_only: "只看超期", all: "含已结", any_kind: "全部类型",
    callback: "回电", complaint: "投诉", revisit: "回访", open: "待处理", forwarded: "已转交",
    answered_st: "已答复", resolved: "已解决", closed: "已关闭", select: "选择左侧工单查看详情",
    notes: "处理记录", attempts: "外呼记录", forward: "转交", note: "备注", contact: "已联系客户",
    answer: "已答复", resolve: "解决", close: "关闭", call: "外呼", satisfied: "回访满意",
    unsatisfied: "回访不满意", number: "号码", category: "类别", created: "创建", recording: "录音",
    logout: "退出", token: "令牌", login: "登录", sec: "秒", min: "分",
  },
  en: {
    wallboard: "Wallboard", desk: "Desk", agent: "Agent", name: "Name", state: "State", for: "For",
    waiting: "waiting", longest: "longest wait", available: "available", ringing: "ringing",
    on_call: "on call", wrap_up: "wrap-up", paused: "paused", logged_out: "logged out",
    offered: "offered", answered: "answered", abandoned: "abandoned", service_level: "service level",
    avg_wait: "avg wait", avg_handle: "avg handle", alert_service_level: "service level below",
    alert_longest_wait: "waiting longer than", live: "live", offline: "disconnected",
    wallboard_link: "Wallboard", worklist: "Work list", kind: "Kind", status: "Status",
    urgency: "Urg.", due: "Next due", owner: "Owner", overdue_only: "overdue only", all: "include done",
    any_kind: "any kind", callback: "callback", complaint: "complaint", revisit: "revisit",
    open: "open", forwarded: "forwarded", answered_st: "answered", resolved: "resolved",
    closed: "closed", select: "Pick a follow-up on the left", notes: "History", attempts: "Call attempts",
    forward: "Forward", note: "Note", contact: "Customer contacted", answer: "Answered",
    resolve: "Resolve", close: "Close", call: "Call now", satisfied: "Revisit: satisfied",
    unsatisfied: "Revisit: not satisfied", number: "Number", category: "Category",
    created: "Created", recording: "Recording", logout: "Log out", token: "Token", login: "Log in",
    sec: "s", min: "min",
  },
};
let LANG = localStorage.getItem("hotline.lang") ||
  (navigator.language && navigator.language.startsWith("zh") ? "zh-CN" : "en");
function t(key) { return (WORDS[LANG] && WORDS[LANG][key]) || WORDS.en[key] || key; }
function applyLang() {
  document.documentElement.lang = LANG;
  document.querySelectorAll("[data-i18n]").forEach(e => { e.textContent = t(e.dataset.i18n); });
  const sel = document.getElementById("lang");
  if (sel) sel.value = LANG;
}
function setLang(l) { LANG = l; localStorage.setItem("hotline.lang", l); applyLang(); }
function dur(secs) {
  secs = Math.max(0, Math.round(secs));
  return secs < 60 ? secs + t("sec") : Math.floor(secs / 60) + t("min") + (secs % 60 ? " " + (secs % 60) + t("sec") : "");
}
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k ?? ""));
  return e;
}
document.addEventListener("DOMContentLoaded", () => {
  applyLang();
  const sel = document.getElementById("lang");
  if (sel) sel.addEventListener("change", () => { setLang(sel.value); if (window.rerender) window.rerender(); });
});
