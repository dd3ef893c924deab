// The control room: sign in as admin, then draw the live feed of
// GET /api/v1/admin/live. Plain JavaScript, no library, no build step.
//
// Why fetch() and not EventSource: EventSource cannot send an
// Authorization header, and the feed is admin-only. The alternatives (a
// token in the URL, or a second kind of short-lived "stream ticket") would
// put a credential in logs and browser history, or add an auth mechanism
// to keep safe. fetch() with a ReadableStream reads the same
// text/event-stream with the ordinary bearer token; the server ends each
// stream after five minutes, and the page reconnects with a current
// (refreshed when needed) token.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const STORE = "stampede.console.tokens";
  const OUTCOMES = [
    ["reserved", "reserved"],
    ["out_of_stock", "out of stock"],
    ["limit", "limit"],
    ["not_on_sale", "not on sale"],
    ["overloaded", "overloaded"],
  ];

  let tokens = loadTokens();
  let stream = null; // AbortController of the open stream
  let clockOffset = 0; // server time minus local time, ms
  let latest = null;

  function loadTokens() {
    try {
      return JSON.parse(sessionStorage.getItem(STORE)) || null;
    } catch (_) {
      return null;
    }
  }

  function saveTokens(t) {
    tokens = t;
    if (t) sessionStorage.setItem(STORE, JSON.stringify(t));
    else sessionStorage.removeItem(STORE);
  }

  function setStatus(state, text) {
    const s = $("status");
    s.dataset.state = state;
    s.textContent = text;
  }

  function showRoom(signedIn) {
    $("login").hidden = signedIn;
    $("room").hidden = !signedIn;
    $("sign-out").hidden = !signedIn;
  }

  async function postJson(path, body) {
    const res = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      data = null;
    }
    return { res, data };
  }

  async function login(event) {
    event.preventDefault();
    $("login-error").textContent = "";
    $("login-submit").disabled = true;
    try {
      const { res, data } = await postJson("/api/v1/auth/login", {
        email: $("email").value,
        password: $("password").value,
      });
      if (!res.ok) {
        $("login-error").textContent = (data && data.detail) || `sign-in failed (${res.status})`;
        return;
      }
      saveTokens({ access: data.access_token, refresh: data.refresh_token });
      $("password").value = "";
      start();
    } catch (e) {
      $("login-error").textContent = `sign-in failed: ${e.message}`;
    } finally {
      $("login-submit").disabled = false;
    }
  }

  async function refresh() {
    if (!tokens || !tokens.refresh) return false;
    const { res, data } = await postJson("/api/v1/auth/refresh", { refresh_token: tokens.refresh });
    if (!res.ok) return false;
    saveTokens({ access: data.access_token, refresh: data.refresh_token });
    return true;
  }

  function signOut() {
    if (stream) stream.abort();
    stream = null;
    if (tokens && tokens.refresh && tokens.access) {
      fetch("/api/v1/auth/logout", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${tokens.access}` },
        body: JSON.stringify({ refresh_token: tokens.refresh }),
      }).catch(() => {});
    }
    saveTokens(null);
    showRoom(false);
    setStatus("signed-out", "signed out");
  }

  function start() {
    showRoom(true);
    connect(0);
    pollCluster();
  }

  // The cluster view is not part of the live snapshot: it is read from
  // the admin API every 2 s while someone is signed in.
  async function pollCluster() {
    if (!tokens) return;
    try {
      const res = await fetch("/api/v1/admin/cluster", {
        headers: { Authorization: `Bearer ${tokens.access}` },
        cache: "no-store",
      });
      if (res.ok) renderCluster(await res.json());
    } catch (e) {
      // The stream shows the connection's state; try again on the next tick.
    }
    setTimeout(pollCluster, 2000);
  }

  // Opens the stream; reconnects after it ends, backing off on errors.
  async function connect(failures) {
    if (!tokens) return;
    const controller = new AbortController();
    stream = controller;
    setStatus("connecting", "connecting…");
    let res;
    try {
      res = await fetch("/api/v1/admin/live", {
        headers: { Authorization: `Bearer ${tokens.access}`, Accept: "text/event-stream" },
        signal: controller.signal,
        cache: "no-store",
      });
    } catch (e) {
      if (controller.signal.aborted) return;
      return retry(failures + 1);
    }
    if (res.status === 401) {
      if (await refresh()) return connect(failures);
      return signOut();
    }
    if (res.status === 403) {
      $("login-error").textContent = "this account is not an admin";
      return signOut();
    }
    if (!res.ok || !res.body) return retry(failures + 1);
    setStatus("live", "live");
    try {
      await read(res.body.getReader());
    } catch (e) {
      if (controller.signal.aborted) return;
    }
    if (controller.signal.aborted) return;
    // Ended by the server (lifetime, or shutdown): come back at once.
    return retry(0);
  }

  function retry(failures) {
    setStatus("reconnecting", "reconnecting…");
    const wait = Math.min(10000, 500 * 2 ** Math.min(failures, 5));
    setTimeout(() => connect(failures), wait);
  }

  // Splits the text/event-stream into events and hands out the snapshots.
  async function read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (event === "snapshot" && data.length) render(JSON.parse(data.join("\n")));
      }
    }
  }

  // ---------------------------------------------------------------- render

  const fmt = new Intl.NumberFormat("en-US");
  const n = (x) => fmt.format(x);
  const ms = (x) => (x >= 100 ? `${Math.round(x)} ms` : `${x.toFixed(x >= 10 ? 1 : 2)} ms`);

  function text(id, value) {
    const el = $(id);
    const s = String(value);
    if (el.textContent !== s) el.textContent = s;
  }

  function render(snap) {
    latest = snap;
    clockOffset = Date.parse(snap.at) - Date.now();
    $("room").dataset.seq = snap.seq;
    renderSkus(snap.skus);
    renderEngine(snap.engine);
    renderOrders(snap.orders);
    renderIncidents(snap.incidents);
    renderChart(snap.requests);
  }

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children || []) e.append(c);
    return e;
  }

  function skuRow(id) {
    const cell = (field, cls) => el("td", { class: cls || "", "data-field": field });
    const bar = el("div", { class: "stock-bar" }, [
      el("span", { class: "sold" }),
      el("span", { class: "reserved" }),
      el("span", { class: "available" }),
    ]);
    const row = el("tr", { "data-sku": id, id: `sku-${id}` }, [
      el("td", { class: "sku-id", "data-field": "sku" }, [`#${id}`]),
      el("td", { class: "bar-cell" }, [bar]),
      cell("available", "num"),
      cell("reserved", "num"),
      cell("sold", "num"),
      cell("window"),
      cell("mailbox", "num"),
      cell("rates", "rates"),
    ]);
    return row;
  }

  function renderSkus(skus) {
    const body = $("sku-rows");
    $("no-skus").hidden = skus.length > 0;
    const keep = new Set(skus.map((s) => String(s.sku_id)));
    for (const row of [...body.children]) if (!keep.has(row.dataset.sku)) row.remove();
    skus.forEach((s, i) => {
      let row = body.querySelector(`tr[data-sku="${s.sku_id}"]`);
      if (!row) row = skuRow(s.sku_id);
      if (body.children[i] !== row) body.insertBefore(row, body.children[i] || null);
      const f = (name) => row.querySelector(`[data-field="${name}"]`);
      const set = (name, v) => {
        const c = f(name);
        const t = String(v);
        if (c.textContent !== t) c.textContent = t;
      };
      row.dataset.available = s.available;
      row.dataset.reserved = s.reserved;
      row.dataset.sold = s.sold;
      row.dataset.onSale = s.on_sale;
      set("available", n(s.available));
      set("reserved", n(s.reserved));
      set("sold", n(s.sold));
      set("mailbox", n(s.mailbox_depth));
      const total = Math.max(1, s.on_hand);
      const [sold, reserved, available] = row.querySelectorAll(".stock-bar span");
      sold.style.width = `${(100 * s.sold) / total}%`;
      reserved.style.width = `${(100 * s.reserved) / total}%`;
      available.style.width = `${(100 * Math.max(0, s.available)) / total}%`;
      const w = f("window");
      w.dataset.opensAt = s.opens_at || "";
      w.dataset.closesAt = s.closes_at || "";
      w.dataset.onSale = s.on_sale;
      windowText(w);
      const rates = f("rates");
      rates.replaceChildren(
        ...OUTCOMES.map(([key, label]) =>
          el("span", { class: `rate ${key}`, "data-outcome": key, title: `${n(s.purchases[key])} since activation` }, [
            `${label} `,
            el("b", {}, [String(s.per_second[key])]),
          ]),
        ),
      );
    });
  }

  function windowText(cell) {
    const now = Date.now() + clockOffset;
    const opens = cell.dataset.opensAt ? Date.parse(cell.dataset.opensAt) : null;
    const closes = cell.dataset.closesAt ? Date.parse(cell.dataset.closesAt) : null;
    let t;
    if (opens && now < opens) t = `opens in ${countdown(opens - now)}`;
    else if (closes && now >= closes) t = "closed";
    else if (closes) t = `on sale · closes in ${countdown(closes - now)}`;
    else t = "on sale";
    if (cell.textContent !== t) cell.textContent = t;
    cell.dataset.state = t.startsWith("opens") ? "waiting" : t === "closed" ? "closed" : "open";
  }

  function countdown(left) {
    const s = Math.max(0, Math.ceil(left / 1000));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    const two = (x) => String(x).padStart(2, "0");
    return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
  }

  function renderEngine(e) {
    text("engine-sku-actors", n(e.active_sku_actors));
    text("engine-mailbox", n(e.sku_mailbox_depth));
    text("engine-persister-queue", `${n(e.persister_queue)} / ${n(e.persister_queue_max)}${e.persister_failing ? " · FAILING" : ""}`);
    text("engine-batch", `${n(e.last_batch_size)} changes`);
    text("engine-flush", ms(e.last_flush_ms));
    text("engine-batches", n(e.batches_committed));
    text("engine-writer-queue", n(e.order_writer_queue));
    const o = e.outbox;
    text(
      "engine-outbox",
      o
        ? `${n(o.unpublished)} unpublished${o.lag_ms != null ? ` · ${ms(o.lag_ms)} behind` : ""}${
            o.broker === "unconfigured" ? " · no broker (admin feed)" : o.connected ? "" : " · broker unreachable"
          }`
        : "no outbox",
    );
    const r = e.restarts;
    text("engine-restarts", `${n(r.sku_actors)} SKU · ${n(r.persister)} persister · ${n(r.sagas)} saga`);
    $("engine-persister-queue").dataset.failing = e.persister_failing;
  }

  function renderCluster(c) {
    if (c.mode !== "cluster") {
      text("cluster-mode", "single process (owns the whole store)");
      for (const id of ["cluster-node", "cluster-held", "cluster-owners", "cluster-forwarded", "cluster-served"]) text(id, "–");
      return;
    }
    const held = c.shards.filter((s) => s.held_here);
    const closing = held.filter((s) => s.closing).length;
    const free = c.shards.filter((s) => !s.owner).length;
    text("cluster-mode", `cluster of ${c.nodes.length} · ${c.shard_count} shards · lease ${ms(c.lease_ms)}`);
    text("cluster-node", c.node);
    text("cluster-held", `${held.length}${closing ? ` (${closing} handing over)` : ""}`);
    text(
      "cluster-owners",
      c.nodes.map((x) => `${x.node}: ${x.shards.length}`).join(" · ") + (free ? ` · ${free} unowned` : ""),
    );
    const f = c.forwarding;
    text("cluster-forwarded", `${n(f.calls_sent)} in ${n(f.batches_sent)} requests${f.failed_batches ? ` · ${n(f.failed_batches)} unanswered` : ""}`);
    text("cluster-served", `${n(f.calls_served)} in ${n(f.batches_served)} requests`);
  }

  function statusList(id, counts) {
    const dl = $(id);
    for (const c of counts) {
      let dd = dl.querySelector(`dd[data-status="${c.status}"]`);
      if (!dd) {
        dl.append(el("dt", {}, [c.status.toLowerCase().replace(/_/g, " ")]));
        dd = el("dd", { "data-status": c.status, id: `${id}-${c.status}` });
        dl.append(dd);
      }
      const t = n(c.count);
      if (dd.textContent !== t) dd.textContent = t;
      dd.dataset.count = c.count;
    }
  }

  function renderOrders(o) {
    statusList("orders-live", o.live.filter((c) => c.status !== "DELIVERED" && c.status !== "CANCELLED" && c.status !== "REJECTED"));
    statusList("orders-ended", o.ended);
    text("orders-live-total", n(o.live_total));
    text("orders-compensating", n(o.compensating));
    text("payments-authorised", n(o.payments.authorised));
    text("payments-declined", n(o.payments.declined));
    text("payments-timed-out", n(o.payments.timed_out));
    text("payments-unreachable", n(o.payments.unreachable));
  }

  function renderIncidents(list) {
    $("no-incidents").hidden = list.length > 0;
    $("incidents").replaceChildren(
      ...list.map((i) =>
        el("li", { class: i.severity, "data-severity": i.severity }, [
          el("time", {}, [new Date(i.at).toLocaleTimeString()]),
          el("span", { class: "source" }, [i.source]),
          el("span", { class: "message" }, [i.message]),
        ]),
      ),
    );
  }

  // ----------------------------------------------------------------- chart

  function renderChart(points) {
    const last = points[points.length - 1] || { requests: 0, p50_ms: 0, p99_ms: 0, server_errors: 0 };
    text("requests-rps", n(last.requests));
    text("requests-p50", last.requests ? ms(last.p50_ms) : "–");
    text("requests-p99", last.requests ? ms(last.p99_ms) : "–");
    text("requests-errors", n(last.server_errors));
    const canvas = $("chart");
    const dpr = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth || 1200;
    const cssH = canvas.clientHeight || 220;
    if (canvas.width !== Math.round(cssW * dpr)) canvas.width = Math.round(cssW * dpr);
    if (canvas.height !== Math.round(cssH * dpr)) canvas.height = Math.round(cssH * dpr);
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cssW, cssH);
    const pad = { l: 52, r: 58, t: 10, b: 22 };
    const w = cssW - pad.l - pad.r;
    const h = cssH - pad.t - pad.b;
    const maxRps = nice(Math.max(10, ...points.map((p) => p.requests)));
    const maxMs = nice(Math.max(1, ...points.map((p) => p.p99_ms)));
    const x = (i) => pad.l + (w * i) / Math.max(1, points.length);
    const bw = Math.max(1, w / Math.max(1, points.length) - 1);
    // grid and axes
    g.font = "11px system-ui, sans-serif";
    g.strokeStyle = "#2a3340";
    g.fillStyle = "#8a96a8";
    g.lineWidth = 1;
    for (let k = 0; k <= 4; k++) {
      const y = pad.t + h - (h * k) / 4;
      g.beginPath();
      g.moveTo(pad.l, y + 0.5);
      g.lineTo(pad.l + w, y + 0.5);
      g.stroke();
      g.textAlign = "right";
      g.fillText(fmt.format(Math.round((maxRps * k) / 4)), pad.l - 6, y + 4);
      g.textAlign = "left";
      g.fillText(`${+((maxMs * k) / 4).toFixed(2)} ms`, pad.l + w + 6, y + 4);
    }
    g.textAlign = "center";
    for (let s = 0; s < points.length; s += 30) {
      const ago = points.length - s;
      g.fillText(`-${ago}s`, x(s), cssH - 6);
    }
    // requests/s as bars
    g.fillStyle = "#3b82c4";
    points.forEach((p, i) => {
      const bh = (h * p.requests) / maxRps;
      g.fillRect(x(i), pad.t + h - bh, bw, bh);
    });
    g.fillStyle = "#e0524f";
    points.forEach((p, i) => {
      if (!p.server_errors) return;
      const bh = Math.max(1, (h * p.server_errors) / maxRps);
      g.fillRect(x(i), pad.t + h - bh, bw, bh);
    });
    // latency lines
    const line = (key, color) => {
      g.strokeStyle = color;
      g.lineWidth = 1.6;
      g.beginPath();
      let pen = false;
      points.forEach((p, i) => {
        if (!p.requests) {
          pen = false;
          return;
        }
        const y = pad.t + h - (h * Math.min(p[key], maxMs)) / maxMs;
        if (pen) g.lineTo(x(i) + bw / 2, y);
        else g.moveTo(x(i) + bw / 2, y);
        pen = true;
      });
      g.stroke();
    };
    line("p50_ms", "#4cc38a");
    line("p99_ms", "#f0a23b");
  }

  function nice(v) {
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  // ------------------------------------------------------------------ clock

  function tick() {
    const now = new Date(Date.now() + clockOffset);
    text("clock", now.toISOString().slice(11, 19) + " UTC");
    if (latest) for (const cell of document.querySelectorAll('#sku-rows [data-field="window"]')) windowText(cell);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", login);
    $("sign-out").addEventListener("click", signOut);
    setInterval(tick, 250);
    if (tokens) start();
    else showRoom(false);
  });
})();
