// AIArena explorer: one page, routed by the URL fragment (#/, #/task/N, #/address/0x…),
// drawn from the JSON API of ape_arena.tools.explorer. Amounts arrive as numbers or, past
// 2**53, as decimal strings; they are formatted through BigInt so no wei is lost.
"use strict";

const WEI = 10n ** 18n;
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2",
                "#ca8a04", "#db2777", "#4b5563", "#65a30d"];
const state = { info: null, infoAt: 0, block: null, route: null, busy: false };

// ------------------------------------------------------------------ formatting
function big(x) { return BigInt(x ?? 0); }
function tokens(x) {  // wei -> "1234.5678" (4 decimals, truncated, trailing zeros trimmed)
  const wei = big(x);
  const sign = wei < 0n ? "-" : "";
  const abs = wei < 0n ? -wei : wei;
  const whole = abs / WEI;
  const frac = (abs % WEI).toString().padStart(18, "0").slice(0, 4).replace(/0+$/, "");
  return sign + whole.toString() + (frac ? "." + frac : "");
}
function tokenNumber(x) { return Number(big(x)) / 1e18; }  // for charts only
function loss(x) { return x === null || x === undefined ? "—" : Number(x).toFixed(6); }
function frac(x) { return x === null || x === undefined ? "—" : Number(x).toFixed(4); }
function short(a) { return a ? a.slice(0, 6) + "…" + a.slice(-4) : ""; }
function esc(s) {
  return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;" })[c]);
}
function addr(a) { return `<a class="addr" href="#/address/${esc(a)}" title="${esc(a)}">${esc(short(a))}</a>`; }
function chainNow() {
  if (!state.info) return Math.floor(Date.now() / 1000);
  return state.info.time + Math.floor((Date.now() - state.infoAt) / 1000);
}
function countdown(end) {
  let s = Number(end) - chainNow();
  if (s <= 0) return "due";
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  s = s % 60;
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
}
function table(id, cls, head, rows) {
  return `<table id="${id}" class="${cls}"><thead><tr>${head.map(h => `<th>${h}</th>`).join("")}` +
    `</tr></thead><tbody>${rows.map(r => `<tr>${r.map(c => `<td>${c}</td>`).join("")}</tr>`).join("")}` +
    `</tbody></table>`;
}

// ------------------------------------------------------------------ data
async function api(path) {
  const res = await fetch(path, { cache: "no-store" });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}
function chart(id, config) {
  const old = Chart.getChart(id);
  if (old) old.destroy();
  const canvas = document.getElementById(id);
  if (!canvas) return null;
  config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false },
                                 config.options || {});
  return new Chart(canvas, config);
}

// ------------------------------------------------------------------ pages
async function tasksPage(main) {
  const data = await api("/api/tasks?limit=50");
  if (!data.tasks.length) {
    main.innerHTML = `<h1>Tasks</h1><p class="muted">No tasks on arena ${esc(data.arena)} yet.</p>`;
    return;
  }
  const rows = data.tasks.map(t => [
    `<a href="#/task/${t.task}">${t.task}</a>`, esc(t.status),
    t.status === "active" && t.round >= 0 ? `${t.round}/${t.rounds}` : "—",
    t.status === "active" ? esc(t.phase) : "—",
    t.status === "active" ? `<span class="countdown" data-end="${t.phase_end}">${countdown(t.phase_end)}</span>` : "—",
    tokens(t.bounty), t.participants, t.validators, addr(t.creator),
  ]);
  main.innerHTML = `<h1>Tasks</h1>` + table("tasks", "grid",
    ["task", "status", "round", "phase", "phase ends in", "bounty", "participants", "validators", "creator"], rows) +
    (data.next_below ? `<p class="muted">older tasks: ids below ${data.next_below}</p>` : "");
}

async function taskPage(main, id) {
  const t = await api(`/api/task/${id}`);
  const p = t.params;
  let html = `<h1>Task ${t.task} <span class="badge">${esc(t.status)}</span></h1>
    <dl class="facts">
      <dt>creator</dt><dd>${addr(t.creator)}</dd>
      <dt>bounty</dt><dd id="bounty">${tokens(p.bounty)}</dd>
      <dt>rounds</dt><dd>${t.finalized_rounds} of ${p.num_rounds} finalized</dd>
      <dt>now</dt><dd>${t.status === "active" && t.now.round >= 0 ? `round ${t.now.round}, ${esc(t.now.phase)},
        ends in <span class="countdown" data-end="${t.now.phase_end}">${countdown(t.now.phase_end)}</span>` : esc(t.now.phase)}</dd>
      <dt>participants</dt><dd>${t.participants} (validators ${t.validators})</dd>
      <dt>carry</dt><dd>${tokens(t.carry)}</dd>
      <dt>refund</dt><dd>${tokens(t.refund)}${t.refund_claimed ? " (claimed)" : ""}</dd>
      <dt>committees</dt><dd class="muted">none in this protocol version: every revealing validator scores every submission</dd>
    </dl>
    <div class="charts">
      <figure><figcaption>Consensus loss per node, by round (lower is better)</figcaption>
        <div class="chartbox"><canvas id="loss-chart"></canvas></div></figure>
      <figure><figcaption>Where each round's pot went</figcaption>
        <div class="chartbox"><canvas id="pot-chart"></canvas></div></figure>
    </div>`;
  for (const rr of t.rounds.slice().reverse()) {
    const subs = rr.submissions.map(s => [
      s.rank ?? "—", s.slot, addr(s.node), loss(s.consensus), esc(s.status ?? "—"),
      frac(s.weight), tokens(s.reward), tokens(s.stake),
    ]);
    const vals = rr.validators.map(v => [
      addr(v.validator) + (big(v.slash) > 0n ? ' <span class="slashed">slashed</span>' : ""),
      tokens(v.stake), v.revealed ? "yes" : "no", frac(v.deviation), frac(v.agreement),
      tokens(v.reward), tokens(v.slash),
    ]);
    html += `<section class="round" id="round-${rr.round}">
      <h2>Round ${rr.round} <span class="badge">${esc(rr.stage)}</span>${rr.void ? ` <span class="badge void">void: ${esc(rr.void)}</span>` : ""}</h2>
      <p class="muted">pot ${tokens(rr.pot)} (emission ${tokens(rr.emission)}), paid ${tokens(rr.paid)}, slashed ${tokens(rr.slashed)}, ${rr.commits} commits</p>
      <h3>Leaderboard</h3>` +
      table(`leaderboard-${rr.round}`, "grid leaderboard",
        ["rank", "slot", "node", "consensus loss", "status", "rank weight", "reward", "stake"], subs) +
      `<h3>Validators</h3>` +
      table(`validators-${rr.round}`, "grid", ["validator", "stake", "revealed", "deviation D", "agreement F", "reward", "slash"], vals) +
      `<figure><figcaption>Each validator's scores against the consensus, per submission</figcaption>
        <div class="chartbox"><canvas id="scores-${rr.round}"></canvas></div></figure>
    </section>`;
  }
  main.innerHTML = html;

  const L = t.charts.loss;
  chart("loss-chart", {
    type: "line",
    data: {
      labels: L.rounds.map(r => `round ${r}`),
      datasets: Object.entries(L.nodes).map(([node, ys], i) => ({
        label: short(node), node, data: ys, borderColor: COLORS[i % COLORS.length],
        backgroundColor: COLORS[i % COLORS.length], spanGaps: false,
      })),
    },
    options: { scales: { y: { title: { display: true, text: "consensus loss" } } } },
  });
  const P = t.charts.pot;
  const parts = [["nodes", "#2563eb"], ["validators", "#16a34a"], ["slashed", "#dc2626"],
                 ["rolled_over", "#ca8a04"], ["refunded", "#6b7280"]];
  chart("pot-chart", {
    type: "bar",
    data: {
      labels: P.map(x => `round ${x.round}`),
      datasets: parts.map(([k, c]) => ({ label: k.replace("_", " "), key: k, backgroundColor: c,
                                          data: P.map(x => tokenNumber(x[k])) })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "ARENA" } } } },
  });
  for (const S of t.charts.scores) {
    chart(`scores-${S.round}`, {
      type: "line",
      data: {
        labels: S.slots.map((k, i) => `slot ${k} ${short(S.nodes[i])}`),
        datasets: [{ label: "consensus", data: S.consensus, borderColor: "#111827",
                     backgroundColor: "#111827", borderWidth: 2, pointRadius: 0 }].concat(
          S.validators.map((v, i) => ({
            label: short(v.validator) + ` D=${frac(v.deviation)} F=${frac(v.agreement)}` +
                   (big(v.slash) > 0n ? " slashed" : ""),
            validator: v.validator, data: v.scores, showLine: false, pointRadius: 5,
            pointStyle: big(v.slash) > 0n ? "crossRot" : "circle",
            borderColor: COLORS[(i + 1) % COLORS.length], backgroundColor: COLORS[(i + 1) % COLORS.length],
          }))),
      },
      options: { scales: { y: { title: { display: true, text: "loss" } } } },
    });
  }
}

async function addressPage(main, who) {
  const a = await api(`/api/address/${who}`);
  const pos = a.tasks.map(r => [
    `<a href="#/task/${r.task}">${r.task}</a>`, esc(r.role), esc(r.status),
    r.participant ? addr(r.participant) : "—",
    r.stake !== undefined ? tokens(r.stake) : "—",
    r.claimable !== undefined ? tokens(r.claimable) : "—",
    r.vesting !== undefined ? tokens(r.vesting) + (r.vesting_exact === false ? " (≈)" : "") : "—",
    r.slashed !== undefined ? tokens(r.slashed) : "—",
    r.refund !== undefined ? tokens(r.refund) + (r.refund_claimed ? " (claimed)" : "") : "—",
  ]);
  const dels = a.delegations.map(d => [
    `<a href="#/task/${d.task}">${d.task}</a>`, addr(d.participant), tokens(d.delegated),
    tokens(d.claimed), tokens(d.withdrawn), tokens(d.claimable), tokens(d.value),
    d.return === null ? "—" : (100 * d.return).toFixed(2) + "%",
  ]);
  main.innerHTML = `<h1>Account <span class="mono">${esc(a.account)}</span></h1>
    <h2>Positions</h2>` +
    (pos.length ? table("positions", "grid", ["task", "role", "status", "backs", "stake", "claimable now",
      "vesting until the end", "slashed", "refund"], pos) : `<p class="muted">No positions.</p>`) +
    `<h2>Rewards over time</h2>
     <div class="chartbox"><canvas id="rewards-chart"></canvas></div>
     <h2>Delegations</h2>` +
    (dels.length ? table("delegations", "grid", ["task", "backs", "delegated", "claimed", "withdrawn",
      "claimable now", "value now", "realised return"], dels) : `<p class="muted">No delegations.</p>`);
  chart("rewards-chart", {
    type: "bar",
    data: {
      labels: a.rewards.map(r => `task ${r.task} round ${r.round}`),
      datasets: [
        { label: "owner part", key: "owner_part", backgroundColor: "#2563eb", data: a.rewards.map(r => tokenNumber(r.owner_part)) },
        { label: "delegators' part", key: "delegator_part", backgroundColor: "#9333ea", data: a.rewards.map(r => tokenNumber(r.delegator_part)) },
      ],
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "ARENA" } } } },
  });
}

// ------------------------------------------------------------------ routing and live refresh
async function render() {
  if (state.busy) return;
  state.busy = true;
  const main = document.getElementById("main");
  const hash = location.hash || "#/";
  let m;
  try {
    if ((m = hash.match(/^#\/task\/(\d+)$/))) await taskPage(main, m[1]);
    else if ((m = hash.match(/^#\/address\/(0x[0-9a-fA-F]{40})$/))) await addressPage(main, m[1]);
    else await tasksPage(main);
    main.dataset.block = state.block;
    main.dataset.route = hash;
  } catch (e) {
    main.innerHTML = `<p class="error">${esc(e.message)}</p>`;
  } finally {
    state.busy = false;
  }
}

async function poll() {
  try {
    const info = await api("/api/info");
    state.info = info; state.infoAt = Date.now();
    document.getElementById("chain").textContent =
      `${info.network ? info.network + " · " : ""}chain ${info.chain_id} · arena ${short(info.arena)} · block ${info.block}`;
    document.getElementById("chain").title = `arena ${info.arena}`;
    document.getElementById("live").classList.add("on");
    if (info.block !== state.block || location.hash !== state.route) {
      state.block = info.block; state.route = location.hash;
      await render();
    }
  } catch (e) {
    document.getElementById("live").classList.remove("on");
    document.getElementById("chain").textContent = "chain unreachable: " + e.message;
  }
}

function tick() {
  for (const el of document.querySelectorAll(".countdown")) el.textContent = countdown(el.dataset.end);
}

document.getElementById("goto").addEventListener("submit", ev => {
  ev.preventDefault();
  const v = document.getElementById("goto-text").value.trim();
  if (/^\d+$/.test(v)) location.hash = `#/task/${v}`;
  else if (/^0x[0-9a-fA-F]{40}$/.test(v)) location.hash = `#/address/${v}`;
});
window.addEventListener("hashchange", () => { state.route = null; poll(); });
poll();
setInterval(poll, 2000);
setInterval(tick, 1000);
