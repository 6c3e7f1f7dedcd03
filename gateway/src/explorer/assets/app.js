// The API explorer page. Served by the gateway with its own CSP (no inline
// script), so everything is wired here. The Clockify user token arrives as
// `auth_token` in the URL (as Clockify's iframe passes it); it is kept in
// memory, sent as X-Addon-Token, and removed from the address bar.
"use strict";

(function () {
  const params = new URLSearchParams(window.location.search);
  const token = params.get("auth_token");
  if (token) {
    params.delete("auth_token");
    const rest = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : ""));
  }

  const $ = (id) => document.getElementById(id);
  let operations = [];
  let current = null;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c) e.appendChild(c);
    return e;
  }

  function renderList() {
    const q = $("search").value.trim().toLowerCase();
    const box = $("ops");
    box.replaceChildren();
    let shown = 0;
    const byTag = new Map();
    for (const op of operations) {
      const hay = (op.operationId + " " + op.path + " " + op.tag + " " + op.method).toLowerCase();
      if (q && !hay.includes(q)) continue;
      if (!byTag.has(op.tag)) byTag.set(op.tag, []);
      byTag.get(op.tag).push(op);
      shown++;
    }
    for (const [tag, ops] of byTag) {
      const group = el("div", { class: "tag" }, el("h4", { text: tag }));
      for (const op of ops) {
        const b = el("button", { type: "button", class: "op " + op.access, "data-op": op.operationId, title: op.path },
          el("span", { class: "method", text: op.method }), document.createTextNode(" " + op.operationId));
        if (current && current.operationId === op.operationId) b.classList.add("selected");
        b.addEventListener("click", () => select(op));
        group.appendChild(b);
      }
      box.appendChild(group);
    }
    $("count").textContent = shown + " of " + operations.length + " operations";
  }

  function inputFor(p) {
    const s = p.schema || {};
    const name = p.location + "." + p.name;
    if (p.location === "path" && p.name === "workspaceId") {
      return el("input", { name, value: "(your workspace)", disabled: "disabled", "data-fixed": "1" });
    }
    if (Array.isArray(s.enum) || s.type === "boolean") {
      const sel = el("select", { name }, el("option", { value: "", text: "" }));
      for (const v of (s.enum || [true, false])) sel.appendChild(el("option", { value: String(v), text: String(v) }));
      return sel;
    }
    const attrs = { name, type: (s.type === "integer" || s.type === "number") ? "number" : "text" };
    if (s.type === "array") attrs.placeholder = "comma,separated";
    else if (s.default !== undefined) attrs.placeholder = String(s.default);
    if (p.required) attrs.required = "required";
    return el("input", attrs);
  }

  function select(op) {
    current = op;
    renderList();
    $("placeholder").hidden = true;
    $("form").hidden = false;
    $("result").hidden = true;
    $("confirm").hidden = true;
    $("op-method").textContent = op.method;
    $("op-path").textContent = op.path;
    $("op-id").textContent = op.operationId;
    $("op-access").textContent = op.access;
    $("op-access").className = "badge " + op.access;
    $("op-scope").textContent = op.scope ? "scope " + op.scope + (op.scopeDeclared ? "" : " (not declared by this add-on)") : "";
    $("op-uncallable").hidden = op.callable;
    $("dry-run").disabled = !op.callable;
    $("send").disabled = !op.callable;
    $("send").textContent = op.access === "write" ? "Send (write)…" : "Send";
    const box = $("params");
    box.replaceChildren();
    for (const p of op.parameters) {
      const label = el("label", { text: p.name + (p.required ? " *" : "") + " (" + p.location + ")" });
      box.appendChild(el("div", { class: "param" }, label, inputFor(p)));
    }
    const body = op.requestBody;
    $("body-box").hidden = !body || !op.callable;
    $("body").value = body ? JSON.stringify(body.template, null, 2) : "";
    $("body-required").textContent = body && body.required ? "*" : "";
  }

  function collect() {
    const pathParams = {};
    const query = {};
    for (const input of $("params").querySelectorAll("input, select")) {
      if (input.dataset.fixed || input.value === "") continue;
      const [loc, ...rest] = input.name.split(".");
      (loc === "path" ? pathParams : query)[rest.join(".")] = input.value;
    }
    let body;
    if (current.requestBody) {
      const text = $("body").value.trim();
      if (text) body = JSON.parse(text);
    }
    return { operationId: current.operationId, pathParams, query, body };
  }

  function show(kind, status, payload) {
    $("result").hidden = false;
    $("result-kind").textContent = kind;
    const violations = $("violations");
    violations.replaceChildren();
    $("request-view").textContent = "";
    $("headers-view").textContent = "";
    if (status === 200 && payload && payload.operationId) {
      $("status").textContent = payload.dryRun ? "dry run (nothing sent)" : String(payload.status);
      $("duration").textContent = payload.durationMs.toFixed(1);
      const r = payload.request;
      if (r) {
        $("request-view").textContent = r.method + " " + r.url + "\n" +
          r.headers.map((h) => h.name + ": " + h.value).join("\n") + (r.body ? "\n\n" + r.body : "");
        $("request-box").open = !!payload.dryRun;
      }
      $("headers-view").textContent = payload.headers.map((h) => h.name + ": " + h.value).join("\n");
      $("result-body").textContent = payload.body === undefined || payload.body === null ? "" :
        (typeof payload.body === "string" ? payload.body : JSON.stringify(payload.body, null, 2));
      if (payload.note) violations.appendChild(el("li", { text: payload.note }));
    } else {
      $("status").textContent = String(status);
      $("duration").textContent = "0";
      for (const v of (payload && payload.violations) || []) violations.appendChild(el("li", { class: "violation", text: v.pointer + ": " + v.message }));
      $("result-body").textContent = payload && payload.detail ? payload.detail : JSON.stringify(payload, null, 2);
    }
  }

  async function run(dryRun) {
    $("confirm").hidden = true;
    let input;
    try {
      input = collect();
    } catch (e) {
      show("Not sent:", "body is not JSON", { detail: String(e) });
      return;
    }
    input.dryRun = dryRun;
    const started = performance.now();
    let resp;
    try {
      resp = await fetch("/ui/api-explorer/execute", {
        method: "POST",
        headers: { "content-type": "application/json", "x-addon-token": token || "" },
        body: JSON.stringify(input),
      });
    } catch (e) {
      show("Failed:", "network error", { detail: String(e) });
      return;
    }
    let payload = null;
    try { payload = await resp.json(); } catch (_) { payload = null; }
    show(dryRun ? "Dry run." : "Sent.", resp.status, payload);
    if (!(payload && payload.durationMs !== undefined)) $("duration").textContent = (performance.now() - started).toFixed(1);
    loadHistory();
  }

  // The caller's history; a write is replayed only after the page asked.
  let pendingReplay = null;
  async function loadHistory() {
    if (!token) return;
    let data;
    try {
      const resp = await fetch("/ui/api-explorer/history", { headers: { "x-addon-token": token } });
      if (!resp.ok) return;
      data = await resp.json();
    } catch (_) {
      return;
    }
    const rows = $("history-rows");
    rows.replaceChildren();
    for (const h of data.items) {
      const tr = document.createElement("tr");
      tr.dataset.id = h.id;
      tr.dataset.op = h.operationId;
      tr.className = h.access;
      const when = new Date(h.calledAt).toISOString().slice(11, 19);
      for (const text of [when, h.method + " " + h.operationId, h.dryRun ? "dry run" : h.outcome, h.durationMs.toFixed(1)]) {
        tr.appendChild(el("td", { text }));
      }
      const button = el("button", { class: "history-replay", text: "Replay" });
      button.type = "button";
      button.addEventListener("click", () => {
        if (h.access === "write") {
          pendingReplay = h.id;
          $("history-confirm-op").textContent = h.operationId;
          $("history-confirm").hidden = false;
          return;
        }
        replay(h.id, false);
      });
      const td = document.createElement("td");
      td.appendChild(button);
      tr.appendChild(td);
      rows.appendChild(tr);
    }
  }

  async function replay(id, confirm) {
    $("history-confirm").hidden = true;
    const resp = await fetch("/ui/api-explorer/history/" + encodeURIComponent(id) + "/replay", {
      method: "POST",
      headers: { "content-type": "application/json", "x-addon-token": token || "" },
      body: JSON.stringify({ confirm }),
    });
    let payload = null;
    try { payload = await resp.json(); } catch (_) { payload = null; }
    show("Replayed.", resp.status, payload);
    loadHistory();
  }

  $("history-refresh").addEventListener("click", loadHistory);
  $("history-confirm-send").addEventListener("click", () => { if (pendingReplay) replay(pendingReplay, true); });
  $("history-confirm-cancel").addEventListener("click", () => { $("history-confirm").hidden = true; pendingReplay = null; });

  $("search").addEventListener("input", renderList);
  $("dry-run").addEventListener("click", () => run(true));
  $("send").addEventListener("click", () => {
    if (current.access === "write") { $("confirm").hidden = false; return; }
    run(false);
  });
  $("confirm-send").addEventListener("click", () => run(false));
  $("confirm-cancel").addEventListener("click", () => { $("confirm").hidden = true; });

  $("auth-state").textContent = token ? "Calls run with your Clockify user token." : "No auth_token in the URL: calls will be refused (401).";
  loadHistory();
  fetch("/ui/api-explorer/endpoints")
    .then((r) => r.json())
    .then((data) => {
      operations = data.tags.flatMap((t) => t.operations);
      renderList();
    })
    .catch((e) => { $("count").textContent = "Cannot load the catalog: " + e; });
})();
