// ragsim replay: the page's script (inlined into replay.html by replay.py). Vanilla JS, no
// network: everything it shows is in the JSON of <script id="replay-data">.
// The state a test reads is in the DOM: body[data-t], .panel[data-variant], and on each node
// g.node[data-node][data-state][data-queue][data-util][data-mem]; on each edge g.edge[data-breaker].
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("replay-data").textContent);
  const SVGNS = "http://www.w3.org/2000/svg";
  const STATES = D.states;
  const COLORS = {up: "#43a047", starting: "#fbc02d", cold: "#64b5f6", killed: "#37474f", saturated: "#e53935",
                  "breaker-open": "#8e24aa", "breaker-half-open": "#ce93d8", absent: "#e0e0e0"};
  const STATUS_COLORS = ["#2e7d32", "#c62828", "#ef6c00", "#6a1b9a", "#424242"];   // ok error timeout rejected unavailable
  const RANK = {absent: 7, killed: 6, starting: 5, "breaker-open": 4, "breaker-half-open": 3, saturated: 2, cold: 1, up: 0};
  const MAX_DOTS = 400;

  // -- decoding the compact arrays -----------------------------------------------------------
  function bytesOf(b64) {
    const s = atob(b64), u = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
    return u.buffer;
  }
  function series(enc, n) {
    if (!enc) return null;
    const out = new Float32Array(n);
    if ("c" in enc) { out.fill(enc.c === null ? NaN : enc.c); return out; }
    const q = new Uint16Array(bytesOf(enc.b)), off = enc.o || 0;
    for (let i = 0; i < n && i < q.length; i++) out[i] = q[i] === 65535 ? NaN : q[i] * enc.s + off;
    return out;
  }
  function el(tag, attrs, parent, text) {
    const e = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  // -- formatting (units on every figure) --------------------------------------------------------
  function clock(t) {
    const s = Math.max(0, t), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = sec.toFixed(1).padStart(4, "0");
    return (h ? h + ":" : "") + mm + ":" + ss;
  }
  function fmt(v, unit) {
    if (v === null || v === undefined || !isFinite(v)) return "n/a";
    if (unit === "bytes") {
      const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0, x = v;
      while (Math.abs(x) >= 1024 && i < u.length - 1) { x /= 1024; i++; }
      return x.toFixed(x >= 100 || i === 0 ? 0 : 1) + " " + u[i];
    }
    if (unit === "ratio") return (100 * v).toFixed(0) + "%";
    if (unit === "s") return v < 1 ? (1000 * v).toFixed(0) + " ms" : v.toFixed(2) + " s";
    if (unit === "1" && Number.isInteger(v)) return String(v);
    const a = Math.abs(v), s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
    return unit === "1/s" ? s + "/s" : s;
  }

  // -- model of each panel -------------------------------------------------------------------
  const panels = D.panels.map(function (P) {
    const n = P.n;
    P.nodes.forEach(function (N) {
      N.v = {};
      for (const role in N.s) N.v[role] = series(N.s[role], n);
      N.extra.forEach(function (x) { x.a = series(x.v, n); });
      N.iv = P.iv[N.id] || [];
    });
    P.edges.forEach(function (E) {
      E.r = series(E.rate, n); E.re = series(E.retries, n); E.f = series(E.failures, n);
    });
    P.h = {ok: series(P.headline.success_ratio, n), fl: series(P.headline.in_flight, n), p95: series(P.headline.p95, n)};
    P.byId = {};
    P.nodes.forEach(function (N) { P.byId[N.id] = N; });
    if (P.spans) {
      const S = P.spans;
      S.reqA = new Int32Array(bytesOf(S.req));
      S.startA = S.f8 ? new Float64Array(bytesOf(S.start)) : Float64Array.from(new Float32Array(bytesOf(S.start)));
      const dur = new Float32Array(bytesOf(S.dur));
      S.endA = new Float64Array(S.n);
      for (let i = 0; i < S.n; i++) S.endA[i] = S.startA[i] + dur[i];
      S.edgeA = new Uint8Array(bytesOf(S.edge));
      S.statusA = new Uint8Array(bytesOf(S.status)); S.attA = new Uint8Array(bytesOf(S.attempt));
      S.gwA = new Uint8Array(bytesOf(S.gw)); S.outA = new Uint8Array(bytesOf(S.outcome));
    }
    return P;
  });
  const allEvents = [];
  panels.forEach(function (P, pi) { P.events.forEach(function (e) { allEvents.push([e[0], pi, e]); }); });
  allEvents.sort(function (a, b) { return a[0] - b[0]; });
  const T_END = D.duration;

  // -- page skeleton ---------------------------------------------------------------------------
  const header = el("header", {}, document.body);
  const h1 = el("h1", {}, header, "ragsim replay: " + D.scenario + " ");
  el("small", {}, h1, "(" + D.trace + ", replication " + panels[0].replication + ", samples every " + panels[0].dt + " s)");
  const ctl = el("div", {class: "controls"}, header);
  const bPlay = el("button", {id: "play", type: "button", title: "play / pause (space)"}, ctl, "\u25B6 play");
  const speed = el("select", {id: "speed", title: "simulated seconds per second"}, ctl);
  [1, 5, 10, 30, 60, 120, 300, 600].forEach(function (s) {
    const o = el("option", {value: s}, speed, s + "\u00D7"); if (s === 60) o.selected = true;
  });
  const bPrev = el("button", {id: "prev-event", type: "button", title: "previous event"}, ctl, "\u25C0 previous event");
  const bNext = el("button", {id: "next-event", type: "button", title: "next event (n)"}, ctl, "next event \u25B6");
  const scrub = el("input", {id: "scrub", type: "range", min: 0, max: T_END, step: "any", value: 0}, ctl);
  const clk = el("span", {id: "clock"}, ctl);
  const TLW = 1000, TLROW = 16, TLH = 14 + panels.length * (TLROW + 18);
  const tl = el("svg:svg", {id: "timeline", viewBox: "0 0 " + TLW + " " + TLH, preserveAspectRatio: "none"}, header);
  tl.style.height = (1.6 * TLH) + "px";
  const legend = el("div", {class: "legend"}, header, "state:");
  STATES.forEach(function (s) { const i = el("i", {}, legend); i.style.background = COLORS[s]; legend.appendChild(document.createTextNode(s)); });
  legend.appendChild(document.createTextNode(" \u2014 bar under a node: utilisation; blue gauge: memory against its limit; dots: sampled requests (colour: the call's status; ringed: a retry). Click a node for its series."));
  const main = el("main", {}, document.body);
  const details = el("section", {id: "details"}, document.body);
  el("footer", {}, document.body, "ragsim " + D.ragsim_version + " replay. Queue: calls waiting at the sample time; " +
     "utilisation: busy servers / servers over the sample interval; saturated: utilisation \u2265 " +
     Math.round(100 * D.saturated_util) + "% with at least as many calls waiting as servers. Edge retries and failures " +
     "are estimated from the sampled requests (docs/replay.md).");

  // timeline: per panel the success ratio and the events
  const tx = function (t) { return 4 + (TLW - 8) * t / Math.max(T_END, 1e-9); };
  const KCOL = function (k) {
    if (/oom|killed|fault_start|crash|failed/.test(k)) return "#d50000";
    if (/restarted|ready|recovered|fault_end|closed|healed/.test(k)) return "#2e7d32";
    if (/breaker/.test(k)) return "#8e24aa";
    if (/change|canary|rollback|precheck|promoted/.test(k)) return "#6a1b9a";
    if (/config|watch|lease/.test(k)) return "#1565c0";
    if (/scale|removed/.test(k)) return "#00838f";
    return "#9e9e9e";
  };
  panels.forEach(function (P, pi) {
    const y0 = 4 + pi * (TLROW + 18);
    el("svg:text", {x: 6, y: y0 + 9, "font-size": 10, fill: "#333"}, tl, P.variant);
    let d = "";
    for (let i = 0; i < P.n; i++) {
      const v = P.h.ok ? P.h.ok[i] : NaN;
      if (!isFinite(v)) continue;
      d += (d ? "L" : "M") + tx((i + 1) * P.dt).toFixed(1) + "," + (y0 + 2 + TLROW * (1 - v)).toFixed(1);
    }
    if (d) el("svg:path", {d: d, fill: "none", stroke: "#1565c0", "stroke-width": 1.2, "vector-effect": "non-scaling-stroke"}, tl);
    P.events.forEach(function (e) {
      if (/^overflow_/.test(e[1])) return;
      el("svg:line", {x1: tx(e[0]), x2: tx(e[0]), y1: y0 + TLROW + 3, y2: y0 + TLROW + 12, stroke: KCOL(e[1]),
                      "stroke-width": 1.5, "vector-effect": "non-scaling-stroke"}, tl);
    });
  });
  const cursor = el("svg:line", {y1: 0, y2: TLH, stroke: "#000", "stroke-width": 1.5, "vector-effect": "non-scaling-stroke"}, tl);
  tl.addEventListener("click", function (ev) {
    const r = tl.getBoundingClientRect();
    seek(Math.max(0, Math.min(T_END, ((ev.clientX - r.left) / r.width * TLW - 4) / (TLW - 8) * T_END)), true);
  });

  // one panel: the graph
  let selected = null;   // [panel index, node id]
  panels.forEach(function (P, pi) {
    const sec = el("section", {class: "panel", "data-variant": P.variant}, main);
    el("h2", {}, sec, P.variant);
    if (P.description) el("div", {class: "desc"}, sec, P.description);
    P.kpi = el("div", {class: "kpi"}, sec);
    const H = P.height;
    const svg = el("svg:svg", {viewBox: "0 0 " + P.width + " " + H}, sec);
    svg.style.maxWidth = (1.4 * P.width) + "px";
    const gE = el("svg:g", {}, svg), gN = el("svg:g", {}, svg), gD = el("svg:g", {}, svg);
    P.edges.forEach(function (E) {
      const g = el("svg:g", {class: "edge", "data-edge": E.id, "data-breaker": "closed"}, gE);
      const mx = (E.x1 + E.x2) / 2;
      E.path = el("svg:path", {d: "M" + E.x1 + "," + E.y1 + " C" + mx + "," + E.y1 + " " + mx + "," + E.y2 + " " + E.x2 + "," + E.y2}, g);
      E.label = E.to === "etcd" ? el("svg:text", {x: E.x1 + 6, y: (E.y1 + E.y2) / 2, "text-anchor": "start"}, g)
                                : el("svg:text", {x: E.x2 - 4, y: E.y2 - 6, "text-anchor": "end"}, g);
      E.g = g;
    });
    const groups = {};
    P.nodes.forEach(function (N) {
      const g = el("svg:g", {class: "node", "data-node": N.id, "data-component": N.comp, "data-replica": N.replica,
                             transform: "translate(" + N.x + "," + N.y + ")"}, gN);
      N.box = el("svg:rect", {class: "box", x: -22, y: -22, width: 44, height: 44, rx: 6}, g);
      N.ub = el("svg:rect", {x: -22, y: 16, width: 0, height: 6, fill: "rgba(0,0,0,0.55)"}, g);
      if (N.memlimit) el("svg:rect", {x: 24, y: -22, width: 5, height: 44, fill: "#eceff1", stroke: "#b0bec5", "stroke-width": 0.5}, g);
      N.mb = el("svg:rect", {x: 24, y: 22, width: 5, height: 0, fill: "#1e88e5", stroke: "none"}, g);
      N.qt = el("svg:text", {class: "q", x: 0, y: -4, "text-anchor": "middle"}, g);
      N.st = el("svg:text", {x: 0, y: 10, "text-anchor": "middle"}, g);
      N.badge = el("svg:text", {class: "badge", x: 0, y: -26, "text-anchor": "middle"}, g);
      el("svg:title", {}, g, N.label);
      if (N.replica <= 0 || N.comp === "gateway") {
        if (!groups[N.comp]) {
          groups[N.comp] = true;
          const lx = N.comp === "gateway" ? N.x : N.x - 26;
          const gl = el("svg:text", {class: "grouplabel", x: lx, y: N.y - 30, "text-anchor": N.comp === "gateway" ? "middle" : "start"}, gN,
             N.replica >= 0 ? N.comp + " (" + P.nodes.filter(function (x) { return x.comp === N.comp; }).length + ")" : N.label);
          // events on the component as a whole (a change, a breaker, a fault) go beside its name
          P.groupBadge = P.groupBadge || {};
          if (N.replica >= 0) {
            P.groupBadge[N.comp] = el("svg:text", {class: "badge gbadge", "data-component": N.comp, x: lx + (N.comp === "gateway" ? 0 : 7.5 * gl.textContent.length + 10),
                                                  y: N.comp === "gateway" ? N.y - 44 : N.y - 30, "text-anchor": N.comp === "gateway" ? "middle" : "start"}, gN);
          }
        }
      }
      g.addEventListener("click", function () { selected = [pi, N.id]; lastDetailKey = ""; render(now); });
      N.g = g; N.last = "";
    });
    P.dots = [];
    for (let i = 0; i < MAX_DOTS; i++) {
      const c = el("svg:circle", {class: "dot", r: 4, cx: -10, cy: -10, visibility: "hidden"}, gD);
      c.addEventListener("click", function () { const k = +c.getAttribute("data-span"); if (k >= 0) showRequest(pi, k); });
      P.dots.push(c);
    }
    P.log = el("div", {class: "log"}, sec);
    P.sec = sec;
  });

  // -- state at time t -------------------------------------------------------------------------
  // the last sample taken at or before t (samples are at dt, 2 dt, ...; before the first one: the first)
  function idxAt(P, t) { return Math.max(0, Math.min(P.n - 1, Math.floor(t / P.dt + 1e-9) - 1)); }
  function inIv(iv, t) {   // the highest-ranked interval holding t
    let best = null;
    for (let i = 0; i < iv.length; i++) {
      if (iv[i][0] > t) break;
      if (t < iv[i][1]) { const s = STATES[iv[i][2]]; if (!best || RANK[s] > RANK[best]) best = s; }
    }
    return best;
  }
  function nodeState(P, N, t, k) {
    let s = inIv(N.iv, t) || "up";
    P.edges.forEach(function (E) {
      if (E.to === N.comp) { const b = inIv(E.iv, t); if (b && RANK[b] > RANK[s]) s = b; }
    });
    if (RANK[s] < RANK.saturated) {
      const q = N.v.queue ? N.v.queue[k] : NaN, u = N.v.util ? N.v.util[k] : NaN;
      let sat = false;
      if (N.comp === "llm") sat = (N.v.mem && N.v.mem[k] >= D.saturated_util) || (isFinite(q) && q >= N.servers);
      else if (N.comp === "etcd") sat = u >= D.saturated_util;
      else sat = u >= D.saturated_util && q >= N.servers;
      if (sat) s = "saturated";
    }
    return s;
  }
  const SHORT = {overflow_start: "queue full", overflow_end: "queue drained", oom_kill: "OOM kill", replica_killed: "killed",
                 replica_restarted: "restarted", replica_ready: "ready", breaker_open: "breaker open",
                 breaker_half_open: "half-open", breaker_closed: "breaker closed", config_push: "config push"};
  function shortKind(k) { return SHORT[k] || k.replace(/_/g, " "); }
  const EVENT_SHOW = Math.max(20, 2 * panels[0].dt);   // an event stays on its node this long (simulated s)

  function render(t) {
    document.body.setAttribute("data-t", t.toFixed(3));
    clk.textContent = "t = " + clock(t) + " (" + t.toFixed(1) + " s of " + T_END.toFixed(0) + " s)";
    if (document.activeElement !== scrub) scrub.value = t;
    cursor.setAttribute("x1", tx(t)); cursor.setAttribute("x2", tx(t));
    panels.forEach(function (P) {
      const k = idxAt(P, t);
      P.kpi.textContent = "success " + fmt(P.h.ok ? P.h.ok[k] : NaN, "ratio") + " \u00B7 p95 " +
        fmt(P.h.p95 ? P.h.p95[k] : NaN, "s") + " \u00B7 in flight " + fmt(P.h.fl ? P.h.fl[k] : NaN, "1") +
        "  (sample of " + clock((k + 1) * P.dt) + ", over the " + P.dt + " s before it)";
      // recent events per target
      const recent = {};
      const logLines = [];
      if (!P.evT) P.evT = Float64Array.from(P.events.map(function (e) { return e[0]; }));
      for (let i = lowerBound(P.evT, P.evT.length, t + 1e-9) - 1; i >= 0; i--) {   // the events up to t
        const e = P.events[i];
        if (logLines.length < 7) logLines.push(e);
        if (t - e[0] <= EVENT_SHOW && e[3] && !recent[e[3]]) recent[e[3]] = e;
        if (t - e[0] > EVENT_SHOW && logLines.length >= 7) break;
      }
      P.nodes.forEach(function (N) {
        const s = nodeState(P, N, t, k);
        const q = N.v.queue ? N.v.queue[k] : NaN, u = N.v.util ? N.v.util[k] : NaN, m = N.v.mem ? N.v.mem[k] : NaN;
        const ev = recent[N.id] || (N.replica < 0 ? recent[N.comp] : null);
        const key = s + "|" + q + "|" + u + "|" + m + "|" + (ev ? ev[1] + ev[0] : "");
        if (key === N.last) return;
        N.last = key;
        N.g.setAttribute("data-state", s);
        N.g.setAttribute("data-queue", isFinite(q) ? String(+q.toFixed(3)) : "");
        N.g.setAttribute("data-util", isFinite(u) ? u.toFixed(4) : "");
        N.g.setAttribute("data-mem", isFinite(m) ? String(m) : "");
        N.box.setAttribute("fill", COLORS[s]);
        N.qt.textContent = isFinite(q) && s !== "absent" ? "q " + fmt(Math.round(q), "1") : "";
        N.qt.setAttribute("fill", s === "killed" ? "#fff" : "#000");
        N.st.textContent = s === "up" ? (isFinite(u) ? fmt(u, "ratio") : "") : s.replace("breaker-", "br ");
        N.st.setAttribute("fill", s === "killed" ? "#fff" : "#000");
        N.ub.setAttribute("width", isFinite(u) ? (44 * Math.min(1, Math.max(0, u))).toFixed(1) : 0);
        const lim = N.memlimit;
        const mf = lim && isFinite(m) ? Math.min(1, Math.max(0, m / lim)) : 0;
        N.mb.setAttribute("y", (22 - 44 * mf).toFixed(1)); N.mb.setAttribute("height", (44 * mf).toFixed(1));
        N.mb.setAttribute("fill", mf > 0.9 ? "#ff1744" : "#1e88e5");
        N.g.setAttribute("data-event", ev ? ev[1] : "");
        N.badge.textContent = ev ? shortKind(ev[1]) : "";
        const tt = N.g.lastChild;
        tt.textContent = N.label + ": " + s + "; queue " + fmt(q, "1") + (isFinite(u) ? ", utilisation " + fmt(u, "ratio") : "") +
          (isFinite(m) ? ", memory " + fmt(m, N.comp === "llm" ? "ratio" : "bytes") + (lim ? " of " + fmt(lim, N.comp === "llm" ? "ratio" : "bytes") : "") : "");
      });
      for (const comp in (P.groupBadge || {})) {
        const ev = recent[comp], b = P.groupBadge[comp];
        b.textContent = ev ? shortKind(ev[1]) + " " + clock(ev[0]) : "";
        b.setAttribute("data-event", ev ? ev[1] : "");
      }
      P.edges.forEach(function (E) {
        const r = E.r ? E.r[k] : NaN, re = E.re ? E.re[k] : NaN, f = E.f ? E.f[k] : NaN;
        const b = inIv(E.iv, t) || "closed";
        let pods = 0;   // gateway pods whose breaker on this edge is not closed
        if (b !== "closed") { const seen = {}; E.iv.forEach(function (r) { if (r[0] <= t && t < r[1] && !seen[r[3]]) { seen[r[3]] = 1; pods++; } }); }
        E.g.setAttribute("data-breaker", b);
        E.g.setAttribute("data-breaker-pods", pods);
        E.g.setAttribute("data-rate", isFinite(r) ? r.toFixed(2) : "");
        E.label.textContent = E.call + ": " + fmt(r, "1/s") + (E.re ? " \u00B7 retries \u2248" + fmt(re, "1/s") : "") +
          (E.f ? " \u00B7 failed \u2248" + fmt(f, "1/s") : "") + (b !== "closed" ? " \u00B7 " + b + " (" + pods + " pod" + (pods > 1 ? "s" : "") + ")" : "");
        const w = isFinite(r) ? Math.min(9, 1 + Math.log10(1 + r) * 2) : 1;
        E.path.setAttribute("stroke-width", w.toFixed(1));
        if (b === "closed") E.path.setAttribute("stroke", isFinite(f) && isFinite(r) && r > 0 && f / r > 0.05 ? "#e57373" : "#90a4ae");
        else E.path.removeAttribute("stroke");
      });
      drawDots(P, t);
      P.log.replaceChildren();
      logLines.forEach(function (e) {
        const d = el("div", {class: t - e[0] <= EVENT_SHOW ? "new" : ""}, P.log,
                     clock(e[0]) + "  " + e[1] + "  " + e[2] + (e[5] ? ": " + e[5] : ""));
        d.title = d.textContent;
      });
    });
    renderDetails(t);
  }

  // sampled requests on the edges
  function lowerBound(a, n, x) { let lo = 0, hi = n; while (lo < hi) { const m = (lo + hi) >> 1; if (a[m] < x) lo = m + 1; else hi = m; } return lo; }
  function drawDots(P, t) {
    const S = P.spans; let used = 0;
    if (S && S.n) {
      const hi = lowerBound(S.startA, S.n, t + 1e-12);
      const lo = lowerBound(S.startA, S.n, t - S.maxdur - 1e-9);
      for (let i = hi - 1; i >= lo && used < MAX_DOTS; i--) {
        const a = S.startA[i], b = S.endA[i];
        if (b < t) continue;
        const E = P.edges[S.edgeA[i]]; if (!E) continue;
        const gw = P.byId["gateway/" + S.gwA[i]];
        const x1 = gw ? gw.x + 22 : E.x1, y1 = gw ? gw.y : E.y1;
        const f = b > a ? (t - a) / (b - a) : 1;
        const c = P.dots[used++];
        c.setAttribute("cx", (x1 + (E.x2 - x1) * f).toFixed(1));
        c.setAttribute("cy", (y1 + (E.y2 - y1) * f).toFixed(1));
        c.setAttribute("fill", STATUS_COLORS[S.statusA[i]] || "#000");
        c.setAttribute("class", S.attA[i] > 0 ? "dot retry" : "dot");
        c.setAttribute("data-span", i);
        c.setAttribute("visibility", "visible");
      }
    }
    for (let i = used; i < P.dots.length; i++) {
      if (P.dots[i].getAttribute("visibility") === "hidden") break;
      P.dots[i].setAttribute("visibility", "hidden"); P.dots[i].setAttribute("data-span", -1);
    }
    P.sec.setAttribute("data-requests-shown", used);
  }
  function showRequest(pi, k) {
    const P = panels[pi], S = P.spans, id = S.reqA[k];
    details.replaceChildren();
    el("h3", {}, details, P.variant + ": sampled request " + id + " (" + (S.outcomes[S.outA[k]] || "still held at the end") + ")");
    const tb = el("table", {}, details), hr = el("tr", {}, tb);
    ["call", "attempt", "start", "end", "duration", "status"].forEach(function (h) { el("th", {}, hr, h); });
    for (let i = 0; i < S.n; i++) {
      if (S.reqA[i] !== id) continue;
      const r = el("tr", {}, tb);
      [P.edges[S.edgeA[i]].call + " \u2192 " + P.edges[S.edgeA[i]].to, S.attA[i], clock(S.startA[i]), clock(S.endA[i]),
       fmt(S.endA[i] - S.startA[i], "s"), D.status[S.statusA[i]]].forEach(function (v) { el("td", {}, r, String(v)); });
    }
    selected = null; lastDetailKey = "request";
  }

  // details of the selected node: its series around now
  let lastDetailKey = "";
  const WIN = 300;
  function chart(parent, title, arr, P, t, unit) {
    const fig = el("figure", {}, parent);
    const k0 = Math.max(0, Math.floor((t - WIN) / P.dt)), k1 = Math.min(P.n - 1, Math.ceil((t + WIN) / P.dt));
    let lo = Infinity, hi = -Infinity;
    for (let i = k0; i <= k1; i++) if (isFinite(arr[i])) { lo = Math.min(lo, arr[i]); hi = Math.max(hi, arr[i]); }
    const k = idxAt(P, t);
    el("figcaption", {}, fig, title + ": " + fmt(arr[k], unit) + (isFinite(lo) ? "  (" + fmt(lo, unit) + " \u2013 " + fmt(hi, unit) + " in \u00B1" + WIN + " s)" : ""));
    const svg = el("svg:svg", {viewBox: "0 0 260 90"}, fig);
    if (!isFinite(lo)) return;
    if (hi === lo) { hi = lo + 1; }
    const x = function (tt) { return 4 + 252 * (tt - (t - WIN)) / (2 * WIN); };
    const y = function (v) { return 84 - 78 * (v - Math.min(lo, 0)) / (hi - Math.min(lo, 0)); };
    let d = "";
    for (let i = k0; i <= k1; i++) {
      if (!isFinite(arr[i])) continue;
      d += (d ? "L" : "M") + x((i + 1) * P.dt).toFixed(1) + "," + y(arr[i]).toFixed(1);
    }
    el("svg:path", {d: d, fill: "none", stroke: "#1565c0", "stroke-width": 1.3}, svg);
    el("svg:line", {x1: x(t), x2: x(t), y1: 0, y2: 90, stroke: "#000"}, svg);
  }
  function renderDetails(t) {
    if (!selected) return;
    const P = panels[selected[0]], N = P.byId[selected[1]], k = idxAt(P, t);
    const key = selected.join("/") + "@" + k;
    if (key === lastDetailKey) return;
    lastDetailKey = key;
    P.nodes.forEach(function (x) { x.g.classList.toggle("selected", x === N); });
    details.replaceChildren();
    el("h3", {}, details, P.variant + ": " + N.label + " \u2014 " + N.g.getAttribute("data-state") + " at " + clock(t));
    const ch = el("div", {class: "charts"}, details);
    const U = {queue: ["queue (calls waiting)", "1"], util: ["utilisation", "ratio"],
               mem: [N.comp === "llm" ? "KV cache usage" : "memory" + (N.memlimit ? " (limit " + fmt(N.memlimit, "bytes") + ")" : ""),
                     N.comp === "llm" ? "ratio" : "bytes"]};
    for (const role in N.v) if (N.v[role]) chart(ch, U[role][0], N.v[role], P, t, U[role][1]);
    N.extra.forEach(function (x) { if (x.a) chart(ch, x.label, x.a, P, t, x.unit === "1" ? "1" : x.unit); });
  }

  // -- the clock ---------------------------------------------------------------------------------
  let now = 0, playing = false, lastFrame = 0;
  function seek(t, updateHash) {
    now = Math.max(0, Math.min(T_END, t));
    render(now);
    if (updateHash && history.replaceState) history.replaceState(null, "", "#t=" + Math.round(now * 10) / 10);
  }
  function frame(ts) {
    if (!playing) return;
    const dtr = lastFrame ? Math.min(0.25, (ts - lastFrame) / 1000) : 0;
    lastFrame = ts;
    now += dtr * (+speed.value);
    if (now >= T_END) { now = T_END; setPlaying(false); }
    render(now);
    if (playing) requestAnimationFrame(frame);
  }
  function setPlaying(p) {
    playing = p; bPlay.textContent = p ? "\u23F8 pause" : "\u25B6 play";
    document.body.setAttribute("data-playing", p ? "1" : "0");
    if (p) { lastFrame = 0; requestAnimationFrame(frame); }
    else if (history.replaceState) history.replaceState(null, "", "#t=" + Math.round(now * 10) / 10);
  }
  function jumpEvent(dir) {
    if (dir > 0) { for (let i = 0; i < allEvents.length; i++) if (allEvents[i][0] > now + 1e-6) return seek(allEvents[i][0] + 1e-3, true); }
    else { for (let i = allEvents.length - 1; i >= 0; i--) if (allEvents[i][0] < now - 0.5) return seek(allEvents[i][0] + 1e-3, true); }
  }
  bPlay.addEventListener("click", function () { setPlaying(!playing); });
  bNext.addEventListener("click", function () { setPlaying(false); jumpEvent(1); });
  bPrev.addEventListener("click", function () { setPlaying(false); jumpEvent(-1); });
  scrub.addEventListener("input", function () { seek(+scrub.value, !playing); });
  document.addEventListener("keydown", function (e) {
    if (e.target && e.target.tagName === "SELECT") return;
    if (e.key === " ") { e.preventDefault(); setPlaying(!playing); } else if (e.key === "n") { jumpEvent(1); }
  });
  function fromHash() {
    const m = /(?:^#|&)t=([0-9.]+)/.exec(location.hash || "");
    return m ? +m[1] : 0;
  }
  window.addEventListener("hashchange", function () { const t = fromHash(); if (Math.abs(t - now) > 1e-3) seek(t, false); });
  // #t=T&node=ID (or &node=VARIANT:ID) opens with that node's series shown
  const nm = /(?:^#|&)node=([^&]+)/.exec(location.hash || "");
  if (nm) {
    const want = decodeURIComponent(nm[1]), c = want.indexOf(":");
    panels.forEach(function (P, pi) {
      const v = c >= 0 ? want.slice(0, c) : null, id = c >= 0 ? want.slice(c + 1) : want;
      if (!selected && (v === null || v === P.variant) && P.byId[id]) selected = [pi, id];
    });
  }
  // the first frame is drawn at once (a headless browser dumping the DOM sees it)
  seek(fromHash(), false);
  document.body.setAttribute("data-replay", "ready");
  // load time as the browser measures it: navigation start to the first frame drawn, and to the load event
  document.body.setAttribute("data-first-frame-ms", performance.now().toFixed(1));
  // #t=T&bench=N: draw N frames spread over the run and record the mean time a frame took
  const bm = /(?:^#|&)bench=([0-9]+)/.exec(location.hash || "");
  if (bm) {
    const N = Math.max(1, +bm[1]), t0 = performance.now(), keep = now;
    for (let i = 0; i < N; i++) render(T_END * (i + 0.5) / N);
    document.body.setAttribute("data-frame-ms", ((performance.now() - t0) / N).toFixed(3));
    seek(keep, false);
  }
  window.addEventListener("load", function () { document.body.setAttribute("data-load-ms", performance.now().toFixed(1)); });
  window.ragsimReplay = {seek: seek, get t() { return now; }, play: function () { setPlaying(true); }};
})();
