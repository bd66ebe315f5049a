// The dashboard page: renders the server's snapshots (offchain/dashboard/snapshot.ts, bigints as
// decimal strings) as tables, updates on every `snapshot` server-sent event, and counts the time
// left of each job down from the chain time of the last snapshot. Plain JS, no framework; every
// text goes through textContent (nothing from the chain is parsed as HTML).

/** @type {any} */
let snap = null;
let receivedAt = 0;

/** Create an element: h("td", { class: "num" }, "12", child) */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function tokens(v) {
  if (v === undefined || v === null) return "";
  const d = snap.pool.token.decimals;
  let x = BigInt(v);
  const neg = x < 0n;
  if (neg) x = -x;
  const base = 10n ** BigInt(d);
  const whole = x / base;
  let frac = (x % base).toString().padStart(d, "0").replace(/0+$/, "");
  if (frac.length > 6) frac = frac.slice(0, 6);
  return `${neg ? "-" : ""}${whole}${frac ? "." + frac : ""}`;
}
const unit = () => snap.pool.token.symbol || "tokens";
const withSymbol = (v) => `${tokens(v)}${snap.pool.token.symbol ? " " + snap.pool.token.symbol : ""}`;

function addr(a) {
  const names = roles();
  const name = names.get(a.toLowerCase());
  return h("span", { class: "addr", title: a }, `${a.slice(0, 6)}…${a.slice(-4)}`, name ? ` (${name})` : "");
}
function hex(x, n = 10) {
  return h("span", { class: "hex", title: x }, x.length > n + 4 ? `${x.slice(0, n)}…` : x);
}

function roles() {
  const m = new Map();
  if (snap.pool.treasury) m.set(snap.pool.treasury.toLowerCase(), "treasury");
  return m;
}

/** A window length: "1 h", "1 d 2 h", "10 min", "45 s". */
function duration(s) {
  const parts = [];
  let a = Math.abs(Math.round(s));
  for (const [n, u] of [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]]) {
    if (a >= n) {
      parts.push(`${Math.floor(a / n)} ${u}`);
      a %= n;
    }
  }
  return parts.length ? parts.join(" ") : "0 s";
}
/** A countdown: "1 h 02 min 05 s", "4 min 10 s", "9 s". */
function countdown(s) {
  const a = Math.max(0, Math.floor(Math.abs(s)));
  const hh = Math.floor(a / 3600);
  const mm = Math.floor((a % 3600) / 60);
  const ss = a % 60;
  return hh > 0 ? `${hh} h ${String(mm).padStart(2, "0")} min ${String(ss).padStart(2, "0")} s` : mm > 0 ? `${mm} min ${String(ss).padStart(2, "0")} s` : `${ss} s`;
}
function chainNow() {
  return snap.block.timestamp + (Date.now() - receivedAt) / 1000;
}
function timeLeftText(deadline) {
  if (!deadline) return "—";
  const left = deadline - chainNow();
  return left >= 0 ? `${countdown(left)} left` : `passed ${countdown(left)} ago`;
}
function tickClocks() {
  if (!snap) return;
  for (const el of document.querySelectorAll("[data-deadline]")) el.textContent = timeLeftText(Number(el.getAttribute("data-deadline")));
}

function table(headers, rows, empty) {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
}

function renderPool() {
  const p = snap.pool;
  const q = p.params;
  const pct = (bps) => `${(bps / 100).toFixed(2).replace(/\.00$/, "")} %`;
  const rows = [
    ["pool", addr(p.address)],
    ["stake token", [addr(p.token.address), ` ${p.token.symbol || ""} (${p.token.decimals} decimals)`]],
    ["treasury", addr(p.treasury)],
    ["parameters", `#${p.paramsId}`],
    ["α (user deposit share)", `${q.alphaBps / 10000} (${q.alphaBps} bps)`],
    ["β (stake multiple)", `${q.betaBps / 10000} (${q.betaBps} bps)`],
    ["windows", `commit ${duration(q.commitWindow)}, challenge ${duration(q.challengeWindow)}, verify ${duration(q.verifyWindow)}, draw ${duration(q.drawWindow)}`],
    ["stages", `at most ${q.maxStages}; a model needs ${p.minVerifiers} verifiers and ${withSymbol(q.minModelStake)} of weight`],
    ["bonds", `minimum ${withSymbol(q.minBond)}; largest βCv ${withSymbol(p.largestBetaCv)} (${pct(q.maxStakeBps)} of the minimum); unbond delay ${duration(q.unbondDelay)}`],
    ["decline fee", `${pct(q.declineFeeBps)} of βCv`],
  ];
  return h("table", { class: "kv" }, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))));
}

const SLASHING = new Set(["Verifier upheld", "Stalemate", "Generator forfeited"]);

function stateBadge(j) {
  const cls = ["state"];
  if (j.final) cls.push(SLASHING.has(j.stateLabel) ? "slashing" : "final");
  return h("span", { class: cls.join(" "), title: j.stateText }, j.stateLabel);
}

function answerCell(j) {
  const a = j.answer;
  if (a.visibility === "none") return h("span", { class: "muted" }, "not committed yet");
  if (a.visibility === "private") return h("span", { class: "muted", title: "only the job's user sees it: start the dashboard with --user-store" }, "private");
  return h("span", { class: "answer" }, a.text !== undefined ? a.text : `tokens ${a.tokens.join(", ")}`);
}

function jobBody(j) {
  const main = h(
    "tr",
    { class: "job" },
    h("td", {}, `#${j.jobId}`),
    h("td", {}, stateBadge(j)),
    h("td", {}, addr(j.user)),
    h("td", {}, addr(j.generator)),
    h("td", {}, hex(j.modelId)),
    h("td", { class: "num" }, withSymbol(BigInt(j.amounts.alphaCg) + BigInt(j.amounts.alphaCv))),
    h("td", { class: "num" }, `${tokens(j.amounts.betaCg)} / ${tokens(j.amounts.betaCv)}`),
    h(
      "td",
      { class: "timeleft" },
      h("span", j.deadline ? { "data-deadline": j.deadline } : {}, timeLeftText(j.deadline)),
      j.deadlineFor ? h("div", { class: "muted" }, `to the ${j.deadlineFor} deadline`) : "",
    ),
    h("td", {}, answerCell(j)),
  );
  const lines = [h("div", {}, `${j.stateText}. Next: ${j.next}.`)];
  if (j.committed) lines.push(h("div", {}, "receipt ", hex(j.committed.receiptRoot), ` with ${j.committed.numChecks} checks`));
  if (j.challenged) lines.push(h("div", {}, `challenged by the user in block ${j.challenged.block}`));
  if (j.stages.length > 0) {
    lines.push(
      h(
        "ul",
        { class: "stages" },
        j.stages.map((s) =>
          h(
            "li",
            {},
            `stage ${s.stage}: verifier `,
            addr(s.verifier),
            ` (stake ${tokens(s.stake)}) ${s.resultText}`,
            s.matched !== undefined && j.committed ? ` (${s.matched}/${j.committed.numChecks} checks matched)` : "",
            s.answeredBy.length ? `; seed answered by ${s.answeredBy.map((i) => (i === 0 ? "the generator" : `stage ${i}`)).join(", ")}` : "",
          ),
        ),
      ),
    );
  }
  if (j.payouts) {
    const p = j.payouts;
    const items = [h("li", {}, `user ${withSymbol(p.user)}`), h("li", {}, `generator ${withSymbol(p.generator)}`)];
    for (const v of p.verifiers) items.push(h("li", {}, "verifier ", addr(v.verifier), ` ${withSymbol(v.payout)}`));
    if (BigInt(p.treasury) > 0n) items.push(h("li", {}, `treasury ${withSymbol(p.treasury)}`));
    lines.push(h("div", { class: "payouts" }, `Payouts (total ${withSymbol(p.total)}):`, h("ul", {}, items)));
  } else if (BigInt(j.escrow) > 0n) lines.push(h("div", {}, `escrow: ${withSymbol(j.escrow)} held by the pool`));
  const detail = h("tr", { class: "detail" }, h("td", { colspan: 9 }, lines));
  return h("tbody", { id: `job-${j.jobId}` }, main, detail);
}

function renderJobs() {
  if (snap.jobs.length === 0) return h("p", { class: "empty" }, "no jobs yet");
  const head = h("thead", {}, h("tr", {}, ["Job", "State", "User", "Generator", "Model", "User paid", `Stakes βCg / βCv (${unit()})`, "Time left", "Answer"].map((x) => h("th", {}, x))));
  return h("table", {}, head, snap.jobs.map(jobBody));
}

function renderVerifiers() {
  const rows = snap.verifiers.map((v) => {
    const r = v.record;
    return h(
      "tr",
      { id: `verifier-${v.address.toLowerCase()}` },
      h("td", {}, addr(v.address)),
      h("td", { class: "num" }, tokens(v.bond), BigInt(v.pendingBond) > 0n ? ` (+${tokens(v.pendingBond)} pending)` : "", BigInt(v.unbonding) > 0n ? `, ${tokens(v.unbonding)} unbonding` : ""),
      h("td", {}, v.drawable ? "yes" : "no"),
      h("td", {}, v.models.length === 0 ? "none declared" : v.models.map((m) => h("div", {}, hex(m.modelId), ` ${(m.shareBps / 100).toFixed(1)} % of the weight — ${m.drawText}`))),
      h("td", {}, `${r.drawn} drawn: ${r.agreed} agreed, ${r.dissented} dissented, ${r.upheld} upheld, ${r.noShow} no-show, ${r.declined} declined, ${r.slashed} slashed${r.pending ? `, ${r.pending} in progress` : ""}`),
      h("td", { class: "num" }, tokens(r.earned)),
    );
  });
  return table(["Verifier", `Bond (${unit()})`, "Drawable", "Models", "Record", `Earned (${unit()})`], rows, "no verifiers yet");
}

function renderGenerators() {
  const rows = snap.generators.map((g) => {
    const r = g.record;
    return h(
      "tr",
      { id: `generator-${g.address.toLowerCase()}` },
      h("td", {}, addr(g.address)),
      h("td", {}, g.models.length ? g.models.map((m) => h("div", {}, hex(m))) : "—"),
      h("td", {}, g.pricePerToken !== undefined ? `${withSymbol(g.pricePerToken)} per token` : h("span", { class: "muted" }, "not listed")),
      h("td", {}, g.endpoint || "—"),
      h(
        "td",
        {},
        `${r.jobs} jobs: ${r.finalized} finalized, ${r.upheld} upheld, ${r.slashed} slashed, ${r.forfeited} forfeited, ${r.skipped} skipped${r.unverified ? `, ${r.unverified} unverified` : ""}${r.stalemates ? `, ${r.stalemates} stalemates` : ""}${r.active ? `, ${r.active} in progress` : ""}`,
      ),
      h("td", { class: "num" }, tokens(r.earned)),
    );
  });
  return table(["Generator", "Models", "Price", "Endpoint", "Record", `Earned (${unit()})`], rows, "no generators yet");
}

function render() {
  document.getElementById("where").textContent = `chain ${snap.chainId} · block ${snap.block.number} · ${new Date(snap.block.timestamp * 1000).toISOString().replace(".000Z", "Z")}`;
  const put = (id, el) => document.querySelector(`#${id} .body`).replaceChildren(el);
  put("pool", renderPool());
  put("jobs", renderJobs());
  put("verifiers", renderVerifiers());
  put("generators", renderGenerators());
  document.body.setAttribute("data-block", String(snap.block.number));
}

function accept(text) {
  snap = JSON.parse(text);
  receivedAt = Date.now();
  render();
}

function connect() {
  const live = document.getElementById("live");
  const es = new EventSource("/api/events");
  es.addEventListener("snapshot", (e) => accept(e.data));
  es.addEventListener("open", () => {
    live.textContent = "live";
    live.classList.add("live");
  });
  es.addEventListener("error", () => {
    live.textContent = "reconnecting";
    live.classList.remove("live");
  });
}

connect();
setInterval(tickClocks, 1000);
