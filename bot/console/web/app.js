// The demo channel: renders the bot's platform-neutral messages, sends commands and button clicks, and
// refreshes whenever the server says something changed (server-sent events).
"use strict";
const $ = (s) => document.querySelector(s);
let state = null;
let viewer = localStorage.getItem("signoutbot-viewer") || "";
let seq = 0;

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
// The bot's markup: *bold*, _italic_, `code`, and :emoji: names. Escaped first, so names can't inject HTML.
// User text arrives as a literal (U+E000 … U+E001) and a person as a mention (U+E002 platform␟id␟name U+E003):
// both stand aside as placeholders while the markup is applied, so a name or reason can never restyle the card.
const emoji = { white_check_mark: "✅", x: "❌", hourglass: "⏳", lock: "🔒", no_entry: "⛔", warning: "⚠️", grey_question: "❔",
  shield: "🛡️", information_source: "ℹ️", mag: "🔍" };
function markup(s) {
  const kept = [];
  const held = String(s).replace(/\ue000([^\ue001]*)\ue001|\ue002([^\ue003]*)\ue003/g, (m, lit, mention) => {
    kept.push(lit !== undefined ? esc(lit) : "<strong>@" + esc((mention.split("\x1f")[2] || "")) + "</strong>");
    return "\ue010" + (kept.length - 1) + "\ue011";
  });
  return esc(held)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*([^*\n]+)\*/g, "<strong>$1</strong>")
    .replace(/(^|[\s(])_([^_\n]+)_/g, "$1<em>$2</em>")
    .replace(/:([a-z_]+):/g, (m, n) => emoji[n] || m)
    .replace(/\ue010(\d+)\ue011/g, (m, i) => kept[Number(i)]);
}

// Times in the chosen person's time zone (as Slack's users.info tz would give it) with UTC beside it; the date
// only when it is not today there.
function local(t) {
  if (!t || t.startsWith("0001")) return "—";
  const d = new Date(t);
  const p = state && state.people.find((x) => x.ID === viewer);
  const zone = p && p.TimeZone ? { timeZone: p.TimeZone } : {};
  const day = (x) => x.toLocaleDateString("en-CA", zone);
  const today = day(d) === day(new Date());
  const opts = Object.assign(today ? { hour: "2-digit", minute: "2-digit", second: "2-digit" }
    : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }, zone, { timeZoneName: "short" });
  return d.toLocaleString(undefined, opts) + " (" + d.toISOString().slice(today ? 11 : 5, 19).replace("T", " ") + " UTC)";
}

function renderBlocks(msg) {
  const out = [];
  for (const b of msg.blocks || []) {
    const kind = b.Kind;
    if (kind === "header") out.push(`<div class="block-header" role="heading" aria-level="3">${markup(b.Text)}</div>`);
    if (kind === "section") {
      if (b.Text) out.push(`<div class="block-section">${markup(b.Text)}</div>`);
      if (b.Fields && b.Fields.length) out.push(`<div class="fields">${b.Fields.map((f) => `<div>${markup(f)}</div>`).join("")}</div>`);
    }
    if (kind === "context") out.push(`<div class="block-context">${markup(b.Text)}</div>`);
    if (kind === "divider") out.push("<hr>");
    if (kind === "actions") {
      out.push(`<div class="actions">` + (b.Buttons || []).map((btn, i) =>
        `<button type="button" class="action ${esc(btn.Style || "")}" data-msg="${esc(msg.id)}" data-block="${esc(i)}" data-action="${esc(btn.ID)}" data-value="${esc(btn.Value)}">${esc(btn.Label)}</button>`).join("") + `</div>`);
    }
  }
  return out.join("");
}

function renderMessage(m) {
  const eph = m.for ? ` ephemeral` : "";
  const who = m.for ? "signoutbot · only visible to you" : "signoutbot";
  const edited = m.edited && !m.edited.startsWith("0001") ? " · edited" : "";
  const replies = (m.replies || []).map(renderMessage).join("");
  return `<article class="msg${eph}" data-id="${esc(m.id)}"><div class="meta">${who}${edited}</div>${renderBlocks(m)}` +
    (replies ? `<div class="replies" aria-label="Thread">${replies}</div>` : "") + `</article>`;
}

function findButton(msgID, action) {
  const all = [];
  const walk = (list) => list.forEach((m) => { all.push(m); walk(m.replies || []); });
  walk(state.messages);
  const m = all.find((x) => x.id === msgID);
  for (const b of (m && m.blocks) || []) for (const btn of b.Buttons || []) if (btn.ID === action) return btn;
  return null;
}

function render() {
  const who = $("#who");
  if (!who.options.length) {
    for (const p of state.people) {
      const o = document.createElement("option");
      o.value = p.ID;
      o.textContent = `${p.Name} (${p.admin ? "admin" : "not an admin"}, ${p.TimeZone})`;
      who.appendChild(o);
    }
    if (!state.people.some((p) => p.ID === viewer)) viewer = state.people[0].ID;
    who.value = viewer;
  }
  $("#notes").innerHTML = state.notes.map((n) => `<li>${markup(n)}</li>`).join("");
  const ch = $("#channel");
  const atBottom = ch.scrollHeight - ch.scrollTop - ch.clientHeight < 40;
  ch.innerHTML = state.messages.map(renderMessage).join("");
  if (atBottom) ch.scrollTop = ch.scrollHeight;
  renderTenant();
}

function renderTenant() {
  const q = $("#tenant-filter").value.trim().toLowerCase();
  const rows = (state.tenant || []).filter((u) => !q || u.upn.toLowerCase().includes(q) || u.displayName.toLowerCase().includes(q));
  const shown = rows.slice(0, 60);
  const fresh = Date.now() - 10 * 60 * 1000;
  $("#tenant tbody").innerHTML = shown.map((u) =>
    `<tr class="${new Date(u.sessionsValidFrom).getTime() > fresh ? "fresh" : ""}"><td>${esc(u.displayName)}<br><span class="small">${esc(u.upn)}${u.guest ? " · guest" : ""}${u.enabled ? "" : " · disabled"}</span></td><td>${esc(local(u.sessionsValidFrom))}</td></tr>`).join("");
  $("#tenant-count").textContent = `Showing ${shown.length} of ${rows.length} users (most recently signed out first)` +
    (rows.length > shown.length ? " — filter to see the rest." : ".");
}

async function refresh() {
  const r = await fetch(`api/state?user=${encodeURIComponent(viewer)}`);
  state = await r.json();
  render();
}

async function post(path, body) {
  body.ID = `${Date.now()}-${++seq}`;
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!r.ok) alert(await r.text());
}

function confirmDialog(c) {
  return new Promise((resolve) => {
    const dlg = $("#confirm");
    $("#confirm-title").textContent = c.Title;
    $("#confirm-text").innerHTML = markup(c.Text);
    $("#confirm-ok").textContent = c.OK;
    $("#confirm-cancel").textContent = c.Cancel;
    dlg.hidden = false;
    $("#confirm-ok").focus();
    const done = (v) => { dlg.hidden = true; $("#confirm-ok").onclick = $("#confirm-cancel").onclick = null; resolve(v); };
    $("#confirm-ok").onclick = () => done(true);
    $("#confirm-cancel").onclick = () => done(false);
    dlg.onkeydown = (e) => { if (e.key === "Escape") done(false); };
  });
}

document.addEventListener("click", async (e) => {
  const b = e.target.closest("button.action");
  if (!b) return;
  const btn = findButton(b.dataset.msg, b.dataset.action);
  if (btn && btn.Confirm && !(await confirmDialog(btn.Confirm))) return;
  await post("api/action", { User: viewer, Action: b.dataset.action, Value: b.dataset.value, Message: b.dataset.msg });
});

$("#composer").addEventListener("submit", async (e) => {
  e.preventDefault();
  let text = $("#text").value.trim();
  if (!text) return;
  if (!/^\/signout\b/.test(text)) { alert("Commands start with /signout"); return; }
  text = text.replace(/^\/signout\s*/, "");
  $("#text").value = "";
  await post("api/command", { User: viewer, Text: text });
});

$("#who").addEventListener("change", (e) => { viewer = e.target.value; localStorage.setItem("signoutbot-viewer", viewer); refresh(); });
$("#tenant-filter").addEventListener("input", renderTenant);

const events = new EventSource("api/events");
events.addEventListener("change", refresh);
refresh();
