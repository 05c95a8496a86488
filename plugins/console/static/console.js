// Medlytt console: a little build-free JavaScript over Medlytt's own JSON API.
// Every call goes through the same routes and access rules as the CLI; the session
// cookie identifies the user and every change carries the CSRF token (X-CSRF-Token).
"use strict";

const W = JSON.parse(document.getElementById("console-words").textContent);
const CTX = JSON.parse(document.getElementById("console-context").textContent);
const CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
const LOCALE = CTX.lang === "nb" ? "nb-NO" : "en-GB";
let clockOffset = 0; // server time minus browser time, ms

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function toast(message, bad) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = bad ? "toast bad" : "toast";
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, bad ? 8000 : 4000);
}

async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) { window.location = "/console/login"; throw new Error("401"); }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error((data && data.error) || response.statusText);
    error.status = response.status;
    throw error;
  }
  return data;
}

function explain(error) {
  const prefix = { 403: W.err_403, 409: W.err_409, 502: W.err_502 }[error.status] || W.err_other;
  return `${prefix}${error.message} (${error.status || "?"})`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined || isNaN(seconds)) return "–";
  seconds = Math.max(0, Math.floor(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

function since(iso) {
  if (!iso) return null;
  return (Date.now() + clockOffset - Date.parse(iso)) / 1000;
}

function percent(ratio) {
  if (ratio === null || ratio === undefined) return "–";
  return new Intl.NumberFormat(LOCALE, { style: "percent", maximumFractionDigits: 0 }).format(ratio);
}

function number(value, digits) {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(LOCALE, { maximumFractionDigits: digits || 0 }).format(value);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString(LOCALE) : "–";
}

function stateWord(state) { return W["state_" + state] || state; }

// ------------------------------------------------------------------ live (SSE)

let snapshot = null;

function connectLive() {
  const status = document.getElementById("live-status");
  const source = new EventSource("/console/live");
  source.onopen = () => { status.textContent = W.connected; status.classList.add("on"); };
  source.onerror = () => {
    status.textContent = W.reconnecting;
    status.classList.remove("on");
    // Refused (the session ended): the page itself then goes to the login.
    if (source.readyState === EventSource.CLOSED) setTimeout(() => window.location.reload(), 1000);
  };
  source.addEventListener("snapshot", (message) => {
    snapshot = JSON.parse(message.data);
    clockOffset = Date.parse(snapshot.now) - Date.now();
    render();
  });
}

function render() {
  if (!snapshot) return;
  if (document.getElementById("queues")) renderQueues();
  const table = document.getElementById("agents");
  if (table) renderAgents(table);
  if (document.getElementById("session")) renderSession();
}

function renderQueues() {
  const body = document.querySelector("#queues tbody");
  body.replaceChildren(...snapshot.queues.map((q) => {
    const levelLow = q.service_level !== null && q.service_level < q.service_level_target;
    return el("tr", { "data-queue": q.name },
      el("th", { scope: "row" }, q.name),
      el("td", { class: "num", "data-field": "waiting" }, number(q.waiting)),
      el("td", { class: "num", "data-since": q.oldest_since || "" }, duration(q.longest_wait_seconds)),
      el("td", { class: "num" + (levelLow ? " bad" : "") }, percent(q.service_level)),
      el("td", { class: "num" }, number(q.answered)),
      el("td", { class: "num" }, number(q.abandoned)),
      el("td", { class: "num" }, number(q.agents_required, 1)));
  }));
}

function ownSession(agentId) {
  return (snapshot.sessions || []).find(
    (s) => s.supervisor === CTX.name && (agentId === undefined || s.agent_id === agentId));
}

function actionButtons(agent) {
  const box = el("div", { class: "actions" });
  const session = ownSession(agent.agent_id);
  const label = agent.name || agent.agent_id;
  for (const mode of ["listen", "whisper", "barge"]) {
    box.append(el("button", {
      type: "button", "data-action": mode, "aria-pressed": session && session.mode === mode ? "true" : "false",
      "aria-label": `${W[mode]}: ${label}`,
      onclick: () => monitor(agent, mode),
    }, W[mode]));
  }
  if (CTX.quality && (agent.call || session)) {
    const target = session ? `monitoring=${encodeURIComponent(session.session_id)}`
      : `call=${encodeURIComponent(agent.call.call_id)}`;
    box.append(el("a", { href: `/console/evaluate?${target}`, "data-action": "evaluate" }, W.evaluate_call));
  }
  box.append(el("button", {
    type: "button", class: "secondary", "data-action": "stop", "aria-label": `${W.stop}: ${label}`,
    disabled: session ? null : "disabled", onclick: () => stopSession(session),
  }, W.stop));
  return box;
}

function renderAgents(table) {
  const view = table.dataset.view;
  const body = table.querySelector("tbody");
  const seen = new Set();
  for (const agent of snapshot.agents) {
    seen.add(agent.agent_id);
    let row = body.querySelector(`tr[data-agent="${CSS.escape(agent.agent_id)}"]`);
    if (!row) {
      row = el("tr", { "data-agent": agent.agent_id });
      body.append(row);
    }
    const call = agent.call;
    const key = `${agent.state}|${call ? call.call_id : ""}`;
    if (row.dataset.key !== key) { // first shown now: what the event-to-display lag is read from
      row.dataset.key = key;
      row.dataset.renderedAt = String(Date.now());
    }
    row.dataset.state = agent.state;
    row.dataset.call = call ? call.call_id : "";
    const cells = [
      el("th", { scope: "row" }, agent.name || agent.agent_id),
      el("td", { class: "state-" + agent.state }, stateWord(agent.state)),
    ];
    if (view === "wallboard") {
      cells.push(el("td", { class: "num", "data-since": agent.state_since || "" }, duration(since(agent.state_since))));
      cells.push(el("td", {}, (agent.queues || []).join(", ")));
    } else {
      cells.push(el("td", {}, call ? call.queue || "–" : W.no_call));
      cells.push(el("td", { class: "num", "data-since": call ? call.answered_at || "" : "" },
        call ? duration(since(call.answered_at)) : W.no_call));
      cells.push(el("td", {}, call ? (call.caller === null ? W.hidden : call.caller || "–") : W.no_call));
    }
    const signature = view === "agents" ? `${call ? call.call_id : ""}|${JSON.stringify(ownSession(agent.agent_id) || null)}` : "";
    const old = row.querySelector("td.actions-cell");
    row.replaceChildren(...cells);
    if (view === "agents") {
      if (old && old.dataset.signature === signature) row.append(old);
      else {
        const cell = el("td", { class: "actions-cell", "data-signature": signature });
        if (call || ownSession(agent.agent_id)) cell.append(actionButtons(agent));
        row.append(cell);
      }
    }
  }
  for (const row of [...body.querySelectorAll("tr[data-agent]")]) {
    if (!seen.has(row.dataset.agent)) row.remove();
  }
}

function renderSession() {
  const text = document.getElementById("session-text");
  const session = ownSession();
  if (!session) { text.textContent = W.no_session; text.dataset.mode = ""; return; }
  text.dataset.mode = session.mode;
  text.dataset.since = session.started_at;
  const agent = snapshot.agents.find((a) => a.agent_id === session.agent_id);
  const who = (agent && agent.name) || session.agent_id;
  text.textContent = `${W[session.mode]} · ${who} · ${duration(since(session.started_at))}`;
}

async function monitor(agent, mode) {
  const session = ownSession(agent.agent_id);
  try {
    if (session) {
      await api("PATCH", `/api/monitor/${encodeURIComponent(session.session_id)}`, { mode });
    } else {
      const phone = (document.getElementById("phone") || {}).value || CTX.phone;
      toast(W.ringing_you);
      const body = { agent: agent.agent_id, mode };
      if (phone) body.supervisor = phone;
      await api("POST", "/api/monitor", body);
    }
    toast(`${W[mode]}: ${agent.name || agent.agent_id}`);
  } catch (error) {
    toast(explain(error), true);
  }
}

async function stopSession(session) {
  if (!session) return;
  try {
    await api("DELETE", `/api/monitor/${encodeURIComponent(session.session_id)}`);
    toast(W.stop);
  } catch (error) {
    toast(explain(error), true);
  }
}

function tick() { // timers move every second between events
  for (const cell of document.querySelectorAll("td[data-since]")) {
    if (cell.dataset.since) cell.textContent = duration(since(cell.dataset.since));
  }
  const text = document.getElementById("session-text");
  if (text && text.dataset.since && text.dataset.mode) renderSession();
}

// ------------------------------------------------------------------ the agent's page

function rows(table, items, cells, empty) {
  const body = document.querySelector(`#${table} tbody`);
  if (!items.length) {
    const width = document.querySelectorAll(`#${table} thead th`).length;
    body.replaceChildren(el("tr", {}, el("td", { colspan: width }, empty || W.nothing_yet)));
    return;
  }
  body.replaceChildren(...items.map((item) => el("tr", {}, ...cells(item))));
}

async function agentPage(page) {
  const agent = encodeURIComponent(page.dataset.agent);
  try {
    const audit = await api("GET", `/api/audit/monitoring?agent=${agent}&limit=100`);
    rows("audit", audit.audit, (r) => [
      el("td", {}, when(r.at)), el("td", {}, r.supervisor || "–"),
      el("td", {}, r.action), el("td", {}, r.mode ? W[r.mode] || r.mode : "–")]);
  } catch (error) { toast(explain(error), true); }
  try {
    const scores = await api("GET", `/api/surveys/scores?agent=${agent}`);
    const items = [];
    for (const row of scores.scores) {
      for (const [question, score] of Object.entries(row.questions)) {
        items.push({ question, ...score, surveys: row.completed });
      }
    }
    rows("scores", items, (r) => [
      el("td", {}, `${r.answers}`), el("td", {}, r.question), el("td", { class: "num" }, number(r.mean, 2))]);
  } catch (error) {
    if (error.status !== 404) toast(explain(error), true);
  }
  if (page.dataset.quality === "yes") {
    await plans(page.dataset.agent);
    await evaluations(page, agent);
  }
}

// The plans of the agent's teams and, per plan, how far this agent is this month.
async function plans(agentId) {
  try {
    const data = await api("GET", "/api/plans");
    const items = [];
    for (const plan of data.plans) {
      let mine = null;
      try {
        const status = await api("GET", `/api/plans/${encodeURIComponent(plan.team)}/status`);
        mine = status.agents.find((a) => a.agent_id === agentId) || null;
      } catch (error) { if (![403, 404].includes(error.status)) throw error; }
      if (mine || CTX.role === "agent") items.push({ plan, mine });
    }
    rows("plans", items, ({ plan, mine }) => [
      el("td", {}, plan.team), el("td", { class: "num" }, number(plan.per_agent_per_month)),
      el("td", { class: "num" }, number(plan.live_at_least)),
      el("td", { class: "num" }, mine ? `${number(mine.done)} (${number(mine.live_done)})` : "–"),
      el("td", { class: "num" + (mine && mine.overdue ? " bad" : "") }, mine ? number(mine.overdue) : "–")]);
  } catch (error) { toast(explain(error), true); }
}

async function evaluations(page, agent) {
  try {
    const data = await api("GET", `/api/evaluations?agent=${agent}`);
    rows("evaluations", data.evaluations || [], (e) => {
      const actions = el("div", { class: "actions" });
      if (page.dataset.own === "yes" && e.status === "open") {
        actions.append(
          el("button", { type: "button", "data-action": "acknowledge", onclick: async () => {
            try { await api("POST", `/api/evaluations/${e.id}/acknowledge`); toast(W.saved); evaluations(page, agent); }
            catch (error) { toast(explain(error), true); }
          } }, W.acknowledge),
          el("button", { type: "button", class: "secondary", "data-action": "dispute", onclick: () => {
            // An inline form, not a prompt(): labelled, and usable by keyboard and screen reader.
            const id = `dispute-${e.id}`;
            const field = el("textarea", { id, rows: 2, cols: 30, required: "required" });
            const form = el("form", { class: "dispute" },
              el("label", { for: id }, W.comment), field,
              el("button", { type: "submit" }, W.dispute));
            form.addEventListener("submit", async (event) => {
              event.preventDefault();
              try {
                await api("POST", `/api/evaluations/${e.id}/dispute`, { comment: field.value.trim() });
                toast(W.saved);
                evaluations(page, agent);
              } catch (error) { toast(explain(error), true); }
            });
            actions.replaceChildren(form);
            field.focus();
          } }, W.dispute));
      }
      const status = { open: "–", acknowledged: W.acknowledged, disputed: W.disputed }[e.status] || e.status;
      const score = e.score === undefined || e.score === null ? "–" : `${number(e.score, 0)} %`;
      return [el("td", {}, when(e.created_at || e.at)), el("td", {}, e.form || "–"),
        el("td", { class: "num" }, score), el("td", { "data-field": "status", "data-status": e.status }, status), el("td", {}, actions)];
    });
  } catch (error) { toast(explain(error), true); }
}

// ------------------------------------------------------------------ mystery calls

async function mysteryPage() {
  const killState = document.getElementById("kill-state");
  const killButton = document.getElementById("kill-toggle");
  async function loadKill() {
    try {
      const state = await api("GET", "/api/mystery-kill-switch");
      killState.textContent = `${W.kill_switch}: ${state.on ? "ON" : "OFF"}`;
      killButton.textContent = state.on ? W.kill_off : W.kill_on;
      killButton.dataset.on = state.on ? "yes" : "no";
    } catch (error) { killState.textContent = explain(error); }
  }
  killButton.addEventListener("click", async () => {
    try { await api("PUT", "/api/mystery-kill-switch", { on: killButton.dataset.on !== "yes" }); }
    catch (error) { toast(explain(error), true); }
    loadKill();
  });
  async function loadLists() {
    try {
      const campaigns = await api("GET", "/api/mystery-campaigns");
      rows("campaigns", campaigns.campaigns || [], (c) => [
        el("td", {}, c.name), el("td", {}, c.queue || c.number || "–"),
        el("td", {}, c.schedule || `${c.calls || "–"}`), el("td", {}, c.active ? "active" : "paused")]);
      const calls = await api("GET", "/api/mystery-calls?limit=50");
      rows("mystery-results", calls.mystery_calls || [], (c) => {
        const recording = el("td", {});
        if (c.recording_id) {
          // The recording plays here; evaluating it opens the Evaluate screen on it.
          recording.append(el("audio", { controls: "controls", preload: "none",
            src: `/api/recordings/${encodeURIComponent(c.recording_id)}`,
            "aria-label": `${W.recording}: ${c.id}` }));
          if (CTX.quality) {
            recording.append(" ", el("a", { href: `/console/evaluate?mystery_call=${encodeURIComponent(c.id)}` }, W.evaluate_call));
          }
        }
        return [el("td", {}, when(c.started_at)), el("td", {}, c.target || "–"),
          el("td", {}, c.agent_id || "–"), el("td", {}, c.outcome || "…"), recording];
      });
    } catch (error) { toast(explain(error), true); }
  }
  document.getElementById("place-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", "/api/mystery-calls", { queue: document.getElementById("place-queue").value });
      toast(W.saved);
    } catch (error) { toast(explain(error), true); }
    loadLists();
  });
  document.getElementById("campaign-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    let body;
    try { body = JSON.parse(document.getElementById("campaign-json").value); }
    catch (error) { toast(`${W.err_other}${error.message}`, true); return; }
    try { await api("POST", "/api/mystery-campaigns", body); toast(W.saved); }
    catch (error) { toast(explain(error), true); }
    loadLists();
  });
  loadKill();
  loadLists();
}

// ------------------------------------------------------------------ evaluation forms

// One fieldset per item: radio buttons over its scale (and N/A when allowed), its
// guidance as the description, and an optional comment. Returns a reader of the answers.
function renderForm(container, form, withComments) {
  container.replaceChildren();
  const inputs = [];
  for (const section of form.sections) {
    container.append(el("h2", {}, section.title));
    for (const item of section.items) {
      const name = `item-${item.id}`;
      const set = el("fieldset", { class: "item", "data-item": item.id,
        "aria-describedby": item.guidance ? `${name}-help` : null });
      set.append(el("legend", {}, item.text + (item.critical ? " *" : "")));
      if (item.guidance) set.append(el("p", { class: "help", id: `${name}-help` }, item.guidance));
      const scale = item.scale || { min: 1, max: 5, labels: {} };
      for (let value = scale.min; value <= scale.max; value++) {
        const id = `${name}-${value}`;
        const label = (scale.labels || {})[String(value)];
        set.append(el("input", { type: "radio", name, id, value: String(value), required: "required" }),
          el("label", { for: id }, label ? `${value} ${label}` : String(value)));
      }
      if (item.allow_na) {
        set.append(el("input", { type: "radio", name, id: `${name}-na`, value: "na" }),
          el("label", { for: `${name}-na` }, W.not_applicable));
      }
      if (withComments) {
        set.append(el("br"), el("label", { for: `${name}-comment` }, W.comment),
          el("input", { id: `${name}-comment`, size: 50 }));
      }
      container.append(set);
      inputs.push(item.id);
    }
  }
  return () => {
    const scores = {}, comments = {};
    for (const id of inputs) {
      const checked = container.querySelector(`input[name="item-${CSS.escape(id)}"]:checked`);
      if (checked) scores[id] = checked.value === "na" ? "na" : Number(checked.value);
      const comment = container.querySelector(`#item-${CSS.escape(id)}-comment`);
      if (comment && comment.value.trim()) comments[id] = comment.value.trim();
    }
    return { scores, comments };
  };
}

async function evaluatePage() {
  const kind = document.getElementById("subject-kind");
  const subject = document.getElementById("subject-id");
  const player = document.getElementById("player");
  const choice = document.getElementById("form-choice");
  const items = document.getElementById("form-items");
  let forms = [], read = null;
  function showPlayer() {
    const box = document.getElementById("player-box");
    box.hidden = kind.value !== "recording" || !subject.value.trim();
    if (!box.hidden) player.src = `/api/recordings/${encodeURIComponent(subject.value.trim())}`;
  }
  kind.addEventListener("change", showPlayer);
  subject.addEventListener("change", showPlayer);
  document.getElementById("speed").addEventListener("change", (event) => {
    player.playbackRate = Number(event.target.value);
  });
  for (const button of document.querySelectorAll("[data-seek]")) {
    button.addEventListener("click", () => { player.currentTime += Number(button.dataset.seek); });
  }
  choice.addEventListener("change", () => {
    const form = forms.find((f) => f.id === choice.value);
    if (form) read = renderForm(items, form, true);
  });
  try {
    forms = (await api("GET", "/api/forms")).forms;
    const mine = forms.filter((f) => (f.language || "en") === CTX.lang);
    choice.replaceChildren(...(mine.length ? mine : forms).map(
      (f) => el("option", { value: f.id }, `${f.title} (v${f.version})`)));
    choice.dispatchEvent(new Event("change"));
  } catch (error) { toast(explain(error), true); }
  showPlayer();
  document.getElementById("evaluation-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { scores, comments } = read();
    const body = { form: choice.value, subject: { [kind.value]: subject.value.trim() }, scores, comments };
    const comment = document.getElementById("overall-comment").value.trim();
    if (comment) body.comment = comment;
    const result = document.getElementById("evaluation-result");
    try {
      const saved = await api("POST", "/api/evaluations", body);
      result.textContent = `${W.saved} ${W.score}: ${number(saved.score, 0)} %`;
      result.dataset.evaluation = saved.id;
    } catch (error) { result.textContent = explain(error); toast(explain(error), true); }
  });
}

// ------------------------------------------------------------------ calibration

async function calibrationPage() {
  let forms = [];
  try { forms = (await api("GET", "/api/forms")).forms; } catch (error) { toast(explain(error), true); }
  async function openRound(id) {
    const round = await api("GET", `/api/calibrations/${encodeURIComponent(id)}`);
    const box = document.getElementById("round-box");
    box.hidden = false;
    box.dataset.round = round.id;
    document.getElementById("round-title").textContent = `${W.round} ${round.id} · ${round.team} · ${round.form}`;
    const closed = Boolean(round.closed_at);
    document.getElementById("round-scoring").hidden = closed;
    document.getElementById("round-report").hidden = !closed;
    if (closed) {
      const report = await api("GET", `/api/calibrations/${encodeURIComponent(id)}/report`);
      rows("report-items", report.items, (r) => [el("td", {}, r.item),
        el("td", { class: "num" }, number(r.alpha, 2)), el("td", { class: "num" }, percent(r.agreement)),
        el("td", {}, r.flagged ? "⚑" : "")]);
      rows("report-evaluators", report.evaluators, (r) => [el("td", {}, r.evaluator),
        el("td", { class: "num" }, number(r.mean_deviation, 2))]);
      return;
    }
    const select = document.getElementById("round-subject");
    select.replaceChildren(...round.subjects.map((s) => el("option", { value: s }, s)));
    const form = forms.find((f) => f.id === round.form);
    const read = form ? renderForm(document.getElementById("round-items"), form, false) : () => ({ scores: {} });
    document.getElementById("round-save").onclick = async () => {
      try {
        await api("PUT", `/api/calibrations/${encodeURIComponent(round.id)}/scores`,
          { subject: select.value, scores: read().scores });
        toast(W.saved);
        loadRounds();
      } catch (error) { toast(explain(error), true); }
    };
  }
  async function loadRounds() {
    try {
      const data = await api("GET", "/api/calibrations");
      rows("rounds", data.calibrations, (r) => [el("td", {}, r.id), el("td", {}, r.team),
        el("td", {}, r.form), el("td", {}, r.progress ? JSON.stringify(r.progress) : "–"),
        el("td", {}, r.closed_at ? W.closed : "–"),
        el("td", {}, el("button", { type: "button", class: "secondary", "data-round": r.id,
          onclick: () => openRound(r.id).catch((error) => toast(explain(error), true)) }, W.open))]);
    } catch (error) { toast(explain(error), true); }
  }
  document.getElementById("round-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    let body;
    try { body = JSON.parse(document.getElementById("round-json").value); }
    catch (error) { toast(`${W.err_other}${error.message}`, true); return; }
    try { await api("POST", "/api/calibrations", body); toast(W.saved); }
    catch (error) { toast(explain(error), true); }
    loadRounds();
  });
  loadRounds();
}

// ------------------------------------------------------------------ start

document.addEventListener("DOMContentLoaded", () => {
  if (document.getElementById("live-status")) {
    connectLive();
    setInterval(tick, 1000);
  }
  const page = document.getElementById("agent-page");
  if (page) agentPage(page);
  if (document.getElementById("mystery-page")) mysteryPage();
  if (document.getElementById("evaluate-page")) evaluatePage();
  if (document.getElementById("calibration-page")) calibrationPage();
});
