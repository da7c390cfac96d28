// The demo channel: renders the bot's platform-neutral messages, sends commands and button clicks, and keeps
// the page current from the server-sent events. Only what changed is fetched and redrawn (a message, the tenant
// panel), so an idle page stays still and a text selection survives other messages changing.
"use strict";
const $ = (s) => document.querySelector(s);

let people = [];
// Who you are is per tab (sessionStorage, or ?as=ID in the address): two tabs can be two admins, and reloading
// one never turns it into the person another tab chose last.
let viewer = new URLSearchParams(location.search).get("as") || sessionStorage.getItem("signoutbot-viewer") || "";
let epoch = "";    // the server's run: versions start again in a new one
let version = 0;   // the channel shows every change up to this version
const byID = new Map();    // message id → message, for the buttons' confirmations
const nodes = new Map();   // message id → its <article>
let tenant = { total: 0, matching: 0, rows: [] };
let seq = 0;

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
// escWrap escapes user text and lets an address wrap after its "@" (rather than anywhere) when it does not fit.
function escWrap(s) { return esc(s).replace(/@/g, "@<wbr>"); }

// The bot's markup (bot/markup.go): *bold*, _italic_, `code`, and :emoji: names from older text. Escaped first,
// so names can't inject HTML. User text arrives as a literal (U+E000 … U+E001), a person as a mention
// (U+E002 platform␟id␟name U+E003) and a moment as a time (U+E004 unix-seconds U+E005): each stands aside as a
// placeholder while the markup is applied, so a name, a reason or a formatted date can never restyle the card
// nor be restyled.
const emoji = { white_check_mark: "✅", x: "❌", hourglass: "⏳", lock: "🔒", no_entry: "⛔", warning: "⚠️", grey_question: "❔",
  shield: "🛡️", information_source: "ℹ️", mag: "🔍" };
function markup(s) {
  const kept = [];
  const held = String(s).replace(/\ue000([^\ue001]*)\ue001|\ue002([^\ue003]*)\ue003|\ue004(-?\d+)\ue005/g, (m, lit, mention, secs) => {
    if (lit !== undefined) kept.push(escWrap(lit));
    else if (mention !== undefined) kept.push("<strong>@" + esc(mention.split("\x1f")[2] || "") + "</strong>");
    else kept.push(timeHTML(new Date(Number(secs) * 1000)));
    return "\ue010" + (kept.length - 1) + "\ue011";
  });
  return esc(held)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*([^*\n]+)\*/g, "<strong>$1</strong>")
    .replace(/(^|[\s(])_([^_\n]+)_/g, "$1<em>$2</em>")
    .replace(/:([a-z_]+):/g, (m, n) => emoji[n] || m)
    .replace(/\ue010(\d+)\ue011/g, (m, i) => kept[Number(i)]);
}

// Times: one format, in one zone, the chosen person's (as Slack's users.info tz would give it), with UTC beside
// it: "14:05 CET (13:05 UTC)". The date is added when the moment is not today there, and to UTC when UTC's date
// differs from the local one, so "00:30 CET (23:30 UTC)" can never be read as the same day.
const formatters = new Map();
function formatter(zone, locale, opts) {
  const key = [zone, locale, JSON.stringify(opts)].join("|");
  if (!formatters.has(key)) {
    let f;
    try { f = new Intl.DateTimeFormat(locale, Object.assign({ timeZone: zone }, opts)); }
    catch (e) { f = new Intl.DateTimeFormat(locale, Object.assign({ timeZone: "UTC" }, opts)); } // an unknown zone name
    formatters.set(key, f);
  }
  return formatters.get(key);
}
function partsIn(d, zone) {
  const o = {};
  const f = formatter(zone, "en-GB", { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  for (const p of f.formatToParts(d)) o[p.type] = p.value;
  return o;
}
// zoneName prefers an abbreviation people know (CET, EST, AEDT); English locales differ in which they have.
function zoneName(d, zone) {
  let first = "";
  for (const locale of ["en-US", "en-GB", "en-AU", "en-IN"]) {
    const p = formatter(zone, locale, { timeZoneName: "short" }).formatToParts(d).find((x) => x.type === "timeZoneName");
    const n = p ? p.value : "";
    if (!first) first = n;
    if (n && !/^(GMT|UTC)[+\-−]/.test(n)) return n;
  }
  return first;
}
function viewerZone() {
  const p = people.find((x) => x.ID === viewer);
  return (p && p.TimeZone) || undefined; // undefined: the browser's own zone
}
function when(d) {
  if (!(d instanceof Date) || isNaN(d) || d.getUTCFullYear() < 1000) return "—";
  const zone = viewerZone();
  const local = partsIn(d, zone), utc = partsIn(d, "UTC"), now = partsIn(new Date(), zone);
  const sameDay = (a, b) => a.year === b.year && a.month === b.month && a.day === b.day;
  const date = (x) => `${x.day} ${x.month}` + (x.year !== now.year ? ` ${x.year}` : "") + " ";
  const name = zoneName(d, zone);
  let s = (sameDay(local, now) ? "" : date(local)) + `${local.hour}:${local.minute} ${name}`;
  if (name !== "UTC") s += " (" + (sameDay(utc, local) ? "" : date(utc)) + `${utc.hour}:${utc.minute} UTC)`;
  return s;
}
function timeHTML(d) {
  if (isNaN(d)) return "—";
  const iso = d.toISOString();
  return `<time datetime="${iso}" title="${iso}">${esc(when(d))}</time>`;
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

function bodyHTML(m) {
  const who = m.for ? "signoutbot · only visible to you" : "signoutbot";
  const edited = m.edited && !m.edited.startsWith("0001") ? " · edited" : "";
  return `<div class="meta">${who}${edited}</div>${renderBlocks(m)}`;
}

// upsert shows one message: a new one is added where it belongs (the channel, or its thread), a changed one has
// its own body replaced; nothing else on the page is touched.
function upsert(m) {
  byID.set(m.id, m);
  const html = bodyHTML(m);
  let el = nodes.get(m.id);
  if (el) {
    if (el._html !== html) {
      el.querySelector(":scope > .body").innerHTML = html;
      el._html = html;
    }
    return;
  }
  el = document.createElement("article");
  el.className = "msg" + (m.for ? " ephemeral" : "");
  el.dataset.id = m.id;
  el.innerHTML = `<div class="body">${html}</div><div class="replies" aria-label="Thread" hidden></div>`;
  el._html = html;
  if (m.thread) {
    const parent = nodes.get(m.thread);
    if (!parent) return; // a reply under a message this viewer does not see
    const box = parent.querySelector(":scope > .replies");
    box.hidden = false;
    box.appendChild(el);
  } else {
    $("#channel").appendChild(el);
  }
  nodes.set(m.id, el);
}

// The channel follows new messages while it is scrolled to the bottom, as chat apps do, also when the window
// is resized; once someone scrolls up to read, it stays where they are.
let following = true;
function follow() { if (following) $("#channel").scrollTop = $("#channel").scrollHeight; }
$("#channel").addEventListener("scroll", () => {
  const ch = $("#channel");
  following = ch.scrollHeight - ch.scrollTop - ch.clientHeight < 40;
});
new ResizeObserver(follow).observe($("#channel"));

function apply(list) {
  const sorted = list.slice().sort((a, b) => Number(a.id) - Number(b.id));
  for (const m of sorted) upsert(m);
  $("#empty").hidden = nodes.size > 0;
  if (sorted.length) follow();
}

function flatten(messages) {
  const out = [];
  for (const m of messages || []) {
    out.push(m);
    for (const r of m.replies || []) out.push(r);
  }
  return out;
}

function clearChannel() {
  for (const el of nodes.values()) if (!el.closest(".replies")) el.remove();
  nodes.clear();
  byID.clear();
}

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

// load draws the whole page for the chosen person: at start, when the person changes, and when the server is a
// new run. Calls while one is under way share it.
let loading = null;
function load() {
  if (!loading) loading = loadNow().finally(() => { loading = null; });
  return loading;
}
async function loadNow() {
  const st = await getJSON(`api/state?user=${encodeURIComponent(viewer)}`);
  people = st.people || [];
  const who = $("#who");
  if (who.options.length !== people.length) {
    who.textContent = "";
    for (const p of people) {
      const o = document.createElement("option");
      o.value = p.ID;
      o.textContent = `${p.Name} (${p.admin ? "admin" : "not an admin"}, ${p.TimeZone || "browser time zone"})`;
      who.appendChild(o);
    }
  }
  if (people.length && !people.some((p) => p.ID === viewer)) {
    if (viewer) say(`There is no demo person ${viewer}; you are ${people[0].Name}.`);
    choose(people[0].ID);
    return loadNow();
  }
  who.value = viewer;
  following = true;
  $("#notes").innerHTML = (st.notes || []).map((n) => `<li>${markup(n)}</li>`).join("");
  clearChannel();
  epoch = st.epoch;
  version = st.version;
  apply(flatten(st.messages));
  if (!$("#tenant-filter").value.trim()) { tenant = st.tenant; renderTenant(); } else refreshTenant();
}

// sync fetches the messages that changed after the version shown. Events that arrive meanwhile are folded into
// one more round, so a burst of edits costs a few small requests, never a redraw.
let syncing = null, again = false;
function sync() {
  if (syncing) { again = true; return syncing; }
  syncing = (async () => {
    try {
      do {
        again = false;
        const d = await getJSON(`api/messages?user=${encodeURIComponent(viewer)}&since=${version}`);
        if (d.epoch !== epoch) { await load(); continue; } // a new run: start over
        apply(d.messages || []);
        version = Math.max(version, d.version);
      } while (again);
    } catch (e) {
      disconnected();
    } finally {
      syncing = null;
    }
  })();
  return syncing;
}

// refreshTenant fetches the panel for the filter typed. The server filters: a tenant can be too big to send.
let tenantAsked = 0;
async function refreshTenant() {
  const n = ++tenantAsked;
  try {
    const page = await getJSON(`api/tenant?q=${encodeURIComponent($("#tenant-filter").value.trim())}`);
    if (n !== tenantAsked) return; // an answer for an older filter
    tenant = page;
    renderTenant();
  } catch (e) {
    disconnected();
  }
}

function renderTenant() {
  const shown = tenant.rows || [];
  const fresh = Date.now() - 10 * 60 * 1000;
  $("#tenant tbody").innerHTML = shown.map((u) => {
    const t = new Date(u.sessionsValidFrom);
    return `<tr class="${t.getTime() > fresh ? "fresh" : ""}"><td>${esc(u.displayName)}<br><span class="small upn">${escWrap(u.upn)}${u.guest ? " · guest" : ""}${u.enabled ? "" : " · disabled"}</span></td><td>${timeHTML(t)}</td></tr>`;
  }).join("");
  const q = $("#tenant-filter").value.trim();
  $("#tenant-count").textContent = `Showing ${shown.length} of ${tenant.matching} users` + (q ? ` matching “${q}”` : "") +
    ` (most recently signed out first)` + (tenant.matching > shown.length ? " — filter to see the rest." : ".");
}

// say shows a line under the composer (refusals of the page itself, sending problems); "" clears it.
function say(text) { $("#status").textContent = text; }

// The connection. The page is only as alive as its event stream: when it breaks, a banner says so and the page
// reconnects with a growing pause; on reconnecting it catches up and sends what is waiting.
let events = null, retryDelay = 500, retryTimer = null, watchdog = null;
function disconnected() {
  document.body.classList.add("offline");
  $("#offline").hidden = false;
  if (events) { events.close(); events = null; }
  if (!retryTimer) {
    retryTimer = setTimeout(() => { retryTimer = null; connect(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 5000);
  }
}
function alive() {
  clearTimeout(watchdog);
  // The server sends at least a heartbeat every 15 s; silence for longer means the connection is dead.
  watchdog = setTimeout(disconnected, 40000);
}
function connect() {
  if (events) events.close();
  const es = new EventSource("api/events");
  events = es;
  es.addEventListener("open", () => {
    const wasOffline = !$("#offline").hidden;
    retryDelay = 500;
    document.body.classList.remove("offline");
    $("#offline").hidden = true;
    alive();
    if (!epoch) { load().catch(disconnected); return; } // the first load failed: do it now
    if (wasOffline) {
      // Catch up on what happened meanwhile (sync also notices a new run), then send what waited.
      sync();
      refreshTenant();
      sendPending();
    }
  });
  es.addEventListener("change", (e) => { alive(); if (Number(e.data) !== version) sync(); });
  es.addEventListener("tenant", () => { alive(); refreshTenant(); });
  es.addEventListener("ping", alive);
  es.addEventListener("error", () => { if (events === es) disconnected(); });
}

function newID() { return `${Date.now()}-${++seq}`; }

// post sends a command or a click. It resolves to the response, or null when the server could not be reached.
async function post(path, body) {
  try {
    return await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  } catch (e) {
    disconnected();
    return null;
  }
}

// A typed command leaves the box only once the server has accepted it. One that could not be sent waits, with
// its delivery id, and is sent again when the page reconnects: the id makes a second delivery harmless.
let pending = null, sending = false;
async function sendPending() {
  if (!pending || sending) return;
  sending = true;
  const p = pending;
  const r = await post("api/command", p.body);
  sending = false;
  if (pending !== p) return sendPending(); // replaced while sending
  if (r && r.ok) {
    pending = null;
    if ($("#text").value === p.typed) $("#text").value = "";
    say("");
  } else if (!r || r.status >= 500) {
    say("Not sent yet: the demo server is unreachable. Your command is kept and sent when it is back.");
    setTimeout(sendPending, 3000);
  } else {
    pending = null;
    say(`Not sent: ${(await r.text()).trim()}`);
  }
}

$("#composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const typed = $("#text").value;
  // The text after the command word goes to the bot exactly as typed: quotes, <angle brackets> and & included.
  const m = /^\s*\/signout(?:\s+([\s\S]*))?$/.exec(typed);
  if (!m) { say("Commands start with /signout, e.g. /signout help"); return; }
  if (!pending || pending.typed !== typed || pending.body.User !== viewer) {
    pending = { typed, body: { User: viewer, Text: m[1] || "", ID: newID() } };
  }
  sendPending();
});

function findButton(msgID, action) {
  const m = byID.get(msgID);
  for (const b of (m && m.blocks) || []) for (const btn of b.Buttons || []) if (btn.ID === action) return btn;
  return null;
}

// modal shows a dialog and resolves with what its buttons decide; Escape is "back".
function modal(dlg, first, wire) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    dlg.hidden = false;
    first.focus();
    const done = (v) => {
      dlg.hidden = true;
      dlg.onkeydown = null;
      unwire();
      if (opener && opener.isConnected) opener.focus();
      resolve(v);
    };
    const unwire = wire(done);
    dlg.onkeydown = (e) => { if (e.key === "Escape") done(null); };
  });
}

function confirmDialog(c) {
  $("#confirm-title").textContent = c.Title;
  $("#confirm-text").innerHTML = markup(c.Text);
  $("#confirm-ok").textContent = c.OK;
  $("#confirm-cancel").textContent = c.Cancel;
  return modal($("#confirm"), $("#confirm-ok"), (done) => {
    $("#confirm-ok").onclick = () => done(true);
    $("#confirm-cancel").onclick = () => done(null);
    return () => { $("#confirm-ok").onclick = $("#confirm-cancel").onclick = null; };
  });
}

// denyDialog asks for the optional reason of a deny; it resolves with the reason ("" for none), or null for Back.
function denyDialog(c) {
  $("#deny-title").textContent = (c && c.Title) || "Deny this request?";
  if (c && c.Text) $("#deny-text").innerHTML = markup(c.Text);
  $("#deny-reason").value = "";
  return modal($("#deny"), $("#deny-reason"), (done) => {
    $("#deny-form").onsubmit = (e) => { e.preventDefault(); done($("#deny-reason").value.trim()); };
    $("#deny-back").onclick = () => done(null);
    $("#deny-reason").onkeydown = (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("#deny-form").requestSubmit(); };
    return () => { $("#deny-form").onsubmit = $("#deny-back").onclick = $("#deny-reason").onkeydown = null; };
  });
}

document.addEventListener("click", async (e) => {
  const b = e.target.closest("button.action");
  if (!b) return;
  const btn = findButton(b.dataset.msg, b.dataset.action);
  const body = { User: viewer, Action: b.dataset.action, Value: b.dataset.value, Message: b.dataset.msg };
  if (b.dataset.action === "deny") {
    const note = await denyDialog(btn && btn.Confirm);
    if (note === null) return;
    body.Note = note;
  } else if (btn && btn.Confirm && !(await confirmDialog(btn.Confirm))) {
    return;
  }
  body.ID = newID();
  const r = await post("api/action", body);
  if (!r) say("Not sent: the demo server is unreachable. Click again once it is back.");
  else if (!r.ok) say(`Not sent: ${(await r.text()).trim()}`);
});

function choose(id) {
  viewer = id;
  sessionStorage.setItem("signoutbot-viewer", id);
  // Keep the address in step, so reloading (or ?as= from a bookmark) shows the same person.
  const u = new URL(location.href);
  u.searchParams.set("as", id);
  history.replaceState(null, "", u);
}

$("#who").addEventListener("change", (e) => {
  choose(e.target.value);
  // A load under way asked for the previous person: let it finish, then load this person's view.
  (loading || Promise.resolve()).catch(() => {}).then(load).catch(disconnected);
});
let filterTimer = null;
$("#tenant-filter").addEventListener("input", () => { clearTimeout(filterTimer); filterTimer = setTimeout(refreshTenant, 150); });

load().catch(() => {}); // when the server is away, the event stream's error says so and retries
connect();
