// openpool status page: polls /status and renders it. Every value from the
// node (some of which peers chose, such as GPU model names) is inserted with
// textContent, never as HTML.
"use strict";

const REFRESH_MS = 2000;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function bytes(n) {
  if (typeof n !== "number" || !isFinite(n)) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
}

function ago(iso) {
  const t = Date.parse(iso);
  if (!isFinite(t) || t <= 0) return "";
  const s = Math.max(0, (Date.now() - t) / 1000);
  return s < 60 ? s.toFixed(1) + " s ago" : (s / 60).toFixed(1) + " min ago";
}

function hardware(hw) {
  if (!hw) return "";
  const parts = [];
  if (hw.gpus) parts.push(hw.gpus + "× " + (hw.gpu_model || "GPU") + (hw.gpu_memory_mib ? " " + bytes(hw.gpu_memory_mib * 1048576) : ""));
  if (hw.cpu_cores) parts.push(hw.cpu_cores + " cores");
  if (hw.memory_mib) parts.push(bytes(hw.memory_mib * 1048576) + " RAM");
  if (hw.bandwidth_mbps) parts.push(hw.bandwidth_mbps + " Mbit/s");
  return parts.join(", ");
}

function table(headers, rows) {
  const t = el("table");
  t.append(el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))));
  const body = el("tbody");
  for (const r of rows) body.append(r);
  t.append(body);
  return t;
}

function kvTable(pairs, attrs) {
  const t = el("table", Object.assign({ class: "kv" }, attrs || {}));
  for (const [k, v] of pairs) t.append(el("tr", {}, el("th", {}, k), el("td", {}, v)));
  return t;
}

// generic renders any JSON value: a list of objects as a table with the
// union of their keys, an object as key/value rows, anything else as text.
function generic(v, depth) {
  depth = depth || 0;
  if (v === null || v === undefined) return el("span", { class: "muted" }, "none");
  if (depth > 4) return el("span", { class: "mono" }, JSON.stringify(v));
  if (Array.isArray(v)) {
    if (v.length === 0) return el("span", { class: "muted" }, "empty");
    if (v.every((x) => x && typeof x === "object" && !Array.isArray(x))) {
      const keys = [];
      for (const x of v) for (const k of Object.keys(x)) if (!keys.includes(k)) keys.push(k);
      return table(keys, v.map((x) => el("tr", {}, ...keys.map((k) => el("td", {}, cell(x[k], depth))))));
    }
    return el("span", {}, v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", "));
  }
  if (typeof v === "object") {
    return kvTable(Object.entries(v).map(([k, x]) => [k, cell(x, depth)]));
  }
  return el("span", {}, String(v));
}

function cell(x, depth) {
  return x !== null && typeof x === "object" ? generic(x, depth + 1) : (x === undefined ? "" : String(x));
}

function renderOverview(st) {
  const bw = st.bandwidth || {};
  const rs = st.resources || {};
  const t = kvTable([
    ["peer ID", st.peer],
    ["version", st.version],
    ["uptime", st.uptime],
    ["addresses", (st.addrs || []).join("\n")],
    ["identity file", st.identity_path || "ephemeral"],
    ["connected peers", st.connected_peers],
    ["DHT routing table", st.dht_routing_table],
    ["bandwidth in", bytes(bw.total_in_bytes) + " (" + bytes(bw.rate_in_bytes_per_s) + "/s)"],
    ["bandwidth out", bytes(bw.total_out_bytes) + " (" + bytes(bw.rate_out_bytes_per_s) + "/s)"],
    ["connections in/out", (rs.conns_inbound || 0) + " / " + (rs.conns_outbound || 0) +
      (rs.limits ? " (limits " + rs.limits.conns_inbound + " / " + rs.limits.conns_outbound + ")" : " (unlimited)")],
    ["streams in/out", (rs.streams_inbound || 0) + " / " + (rs.streams_outbound || 0) +
      (rs.limits ? " (limit " + rs.limits.streams + " in all)" : "")],
    ["file descriptors (libp2p)", (rs.fds || 0) + (rs.limits ? " (limit " + rs.limits.fds + ")" : "")],
    ["goroutines", rs.goroutines],
    ["hardware", hardware(st.hardware)],
  ], { id: "overview-table" });
  t.querySelectorAll("td")[3].classList.add("mono");
  document.getElementById("overview-table").replaceWith(t);
}

function renderPools(st) {
  const body = el("div", { id: "pools-body" });
  const names = Object.keys(st.pools || {}).sort();
  if (names.length === 0) body.append(el("p", { class: "muted" }, "not a member of any pool"));
  for (const name of names) {
    const p = st.pools[name];
    const members = (p.members || []).slice().sort((a, b) => (a.id < b.id ? -1 : 1));
    const counts = {};
    for (const m of members) counts[m.state] = (counts[m.state] || 0) + 1;
    const rows = members.map((m) => el("tr", {
      class: "member state-" + m.state + (m.self ? " self" : ""),
      "data-peer": m.id, "data-state": m.state,
    },
      el("td", { class: "id" }, m.id + (m.self ? " (this node)" : "")),
      el("td", { class: "state" }, m.state),
      el("td", {}, m.outer_step),
      el("td", {}, m.checkpoint_version),
      el("td", {}, hardware(m.hardware)),
      el("td", {}, m.self ? "" : ago(m.last_seen)),
      el("td", {}, ago(m.since)),
    ));
    const stats = p.stats || {};
    const rejected = Object.entries(stats.rejected || {}).map(([k, v]) => k + " " + v).join(", ") || "none";
    body.append(el("div", { class: "pool", "data-pool": name },
      el("h3", {}, "pool ", el("span", { class: "mono pool-name" }, name), " — ",
        Object.entries(counts).map(([k, v]) => v + " " + k).join(", ") || "no members"),
      table(["peer", "state", "outer step", "checkpoint", "hardware", "last heartbeat", "in state since"], rows),
      el("p", { class: "muted" }, "messages delivered " + (stats.delivered || 0) + "; rejected: " + rejected),
    ));
  }
  document.getElementById("pools-body").replaceWith(body);
}

function renderPeers(st) {
  const peers = st.peers || [];
  document.getElementById("peers-count").textContent =
    "(" + st.connected_peers + (peers.length < st.connected_peers ? ", first " + peers.length + " listed" : "") + ")";
  const rows = peers.map((p) => el("tr", { class: "peer", "data-peer": p.id },
    el("td", { class: "id" }, p.id),
    el("td", { class: "mono" }, (p.addrs || []).join("\n")),
    el("td", {}, p.direction + (p.relayed ? " (relayed)" : "")),
    el("td", {}, p.streams),
    el("td", {}, p.latency_ms ? p.latency_ms.toFixed(2) + " ms" : ""),
  ));
  const body = el("div", { id: "peers-body" },
    rows.length ? table(["peer", "addresses", "direction", "streams", "latency"], rows) : el("p", { class: "muted" }, "none"));
  document.getElementById("peers-body").replaceWith(body);
}

function renderSections(st) {
  const wrap = el("section", { id: "sections" });
  for (const name of Object.keys(st.sections || {}).sort()) {
    wrap.append(el("div", { class: "extra", "data-section": name }, el("h2", {}, name), generic(st.sections[name])));
  }
  document.getElementById("sections").replaceWith(wrap);
}

async function refresh() {
  const state = document.getElementById("state");
  try {
    const resp = await fetch("/status", { cache: "no-store" });
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    const st = await resp.json();
    document.getElementById("peer").textContent = st.peer;
    renderOverview(st);
    renderPools(st);
    renderPeers(st);
    renderSections(st);
    state.className = "muted";
    state.textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.rendered = "true";
  } catch (err) {
    // Keep the last good view; say that it is stale.
    state.className = "error";
    state.textContent = "cannot read /status: " + err.message + " (showing the last update)";
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
