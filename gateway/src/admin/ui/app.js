"use strict";
// The operator page. Reads `auth_token` from its URL (as Clockify's iframe
// passes it), keeps it in memory, sends it as X-Addon-Token and removes it
// from the address bar. Everything shown is set through textContent.
(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const token = params.get("auth_token");
  if (token) {
    params.delete("auth_token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
  }

  // The workspace the token is for; the gateway verifies the token itself.
  function workspaceOf(t) {
    try {
      const part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const padded = part + "===".slice((part.length + 3) % 4);
      return JSON.parse(atob(padded)).workspaceId || null;
    } catch (_) {
      return null;
    }
  }
  const ws = token ? workspaceOf(token) : null;
  const enc = encodeURIComponent;

  async function api(method, path, body) {
    const headers = { "X-Addon-Token": token || "" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await resp.json(); } catch (_) { data = null; }
    return { status: resp.status, data };
  }

  function problem(r) {
    return (r.data && (r.data.detail || r.data.title)) || "HTTP " + r.status;
  }

  function when(ms) {
    return ms ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "";
  }

  function row(cells, cls) {
    const tr = document.createElement("tr");
    if (cls) tr.className = cls;
    for (const c of cells) {
      const td = document.createElement("td");
      if (c instanceof Node) td.appendChild(c); else td.textContent = c == null ? "" : String(c);
      tr.appendChild(td);
    }
    return tr;
  }

  function stateCell(text) {
    const span = document.createElement("span");
    span.className = "state-" + text;
    span.textContent = text;
    return span;
  }

  // Installation and webhooks.
  async function loadInstallation() {
    const r = await api("GET", `/admin/installations/${enc(ws)}`);
    if (r.status !== 200) {
      $("problem").hidden = false;
      $("problem").textContent = problem(r);
      $("inst-status").textContent = "unavailable";
      return;
    }
    const i = r.data;
    $("inst-status").textContent = i.status;
    // The host the gateway calls: only the signed backendUrl (apiUrl is never used).
    $("inst-host").textContent = i.backendUrl || "none (the token carried no backendUrl)";
    $("inst-installed").textContent = when(i.installedAt);
    $("inst-updated").textContent = when(i.updatedAt);
    const rows = $("webhook-rows");
    rows.replaceChildren();
    for (const w of i.webhooks) {
      const tr = row([w.event, w.source, stateCell(w.state), w.webhookId || "", w.failure || ""]);
      tr.dataset.event = w.event;
      rows.appendChild(tr);
    }
    const hooks = $("lifecycle-rows");
    hooks.replaceChildren();
    for (const h of i.lifecycleHooks) {
      const tr = row([h.kind, stateCell(h.state), String(h.attempts), when(h.receivedAt), h.lastError || ""]);
      tr.dataset.hook = h.id;
      hooks.appendChild(tr);
    }
  }

  $("reregister").addEventListener("click", async () => {
    $("reregister-result").textContent = "re-registering…";
    const r = await api("POST", `/admin/installations/${enc(ws)}/webhooks/reregister`);
    if (r.status !== 200) { $("reregister-result").textContent = problem(r); return; }
    const d = r.data;
    const parts = [`retried ${d.retried.length}`, `registered ${d.registered.length}`, `adopted ${d.adopted.length}`, `failed ${d.failed.length}`];
    if (d.registered.length) parts.push("(" + d.registered.join(", ") + ")");
    if (d.deferred) parts.push("deferred: " + d.deferred);
    $("reregister-result").textContent = parts.join(" · ");
    await loadInstallation();
  });

  // Deliveries.
  let next = null;
  function filters() {
    const f = {};
    const event = $("filter-event").value.trim();
    const status = $("filter-status").value;
    if (event) f.event = event;
    if (status) f.status = status;
    return f;
  }

  async function loadDeliveries(append) {
    const q = new URLSearchParams(filters());
    q.set("limit", "50");
    if (append && next) q.set("before", next);
    const r = await api("GET", `/admin/deliveries/${enc(ws)}?${q}`);
    const rows = $("delivery-rows");
    if (!append) rows.replaceChildren();
    if (r.status !== 200) { $("replay-result").textContent = problem(r); return; }
    for (const d of r.data.items) {
      const replay = document.createElement("button");
      replay.type = "button";
      replay.className = "replay";
      replay.textContent = "Replay";
      replay.addEventListener("click", () => doReplay({ ids: [d.id] }));
      const view = document.createElement("button");
      view.type = "button";
      view.className = "view";
      view.textContent = "Body";
      view.addEventListener("click", () => {
        $("delivery-body").hidden = false;
        $("delivery-body").textContent = JSON.stringify(d.body, null, 2);
      });
      const actions = document.createElement("span");
      actions.append(replay, " ", view);
      const tr = row([when(d.receivedAt), d.event, stateCell(d.status), d.attempts, d.lastError || "", actions]);
      tr.dataset.id = d.id;
      tr.dataset.status = d.status;
      rows.appendChild(tr);
    }
    next = r.data.next || null;
    $("more-deliveries").hidden = !next;
  }

  async function doReplay(selection) {
    selection.force = $("force").checked;
    $("replay-result").textContent = "replaying…";
    const r = await api("POST", `/admin/deliveries/${enc(ws)}/replay`, selection);
    if (r.status !== 200) { $("replay-result").textContent = problem(r); return; }
    $("replay-result").textContent = `replayed ${r.data.replayed} · skipped ${r.data.skipped} · failed ${r.data.failed}`;
    // Show the replays' outcome: reload until none of them waits any more.
    const waiting = new Set(r.data.details.replayed);
    for (let i = 0; i < 20 && waiting.size; i++) {
      await new Promise((done) => setTimeout(done, 500));
      await loadDeliveries(false);
      for (const tr of $("delivery-rows").children) {
        if (tr.dataset.status === "done" || tr.dataset.status === "dead") waiting.delete(tr.dataset.id);
      }
    }
  }

  $("load-deliveries").addEventListener("click", () => loadDeliveries(false));
  $("more-deliveries").addEventListener("click", () => loadDeliveries(true));
  $("replay-dead").addEventListener("click", () => doReplay({ status: "dead" }));

  // Bootstrap.
  let polling = null;
  async function loadBootstrap() {
    const r = await api("GET", `/bootstrap/${enc(ws)}/status`);
    if (r.status !== 200) { $("bootstrap-state").textContent = problem(r); return; }
    showBootstrap(r.data);
  }

  function showBootstrap(s) {
    $("bootstrap-state").textContent = s.state;
    $("bootstrap-requests").textContent = String(s.requests);
    $("bootstrap-throttled").textContent = String(s.throttled);
    const rows = $("bootstrap-rows");
    rows.replaceChildren();
    for (const o of s.operations) {
      const tr = row([o.operation, o.entityType, o.items, o.done + o.truncated, o.pending, o.failed, o.pages, o.rows]);
      tr.dataset.op = o.operation;
      rows.appendChild(tr);
    }
    const busy = s.state === "queued" || s.state === "running";
    if (busy && !polling) polling = setInterval(loadBootstrap, 1000);
    if (!busy && polling) { clearInterval(polling); polling = null; }
  }

  async function bootstrapAction(method, mode) {
    $("bootstrap-result").textContent = "…";
    const path = `/bootstrap/${enc(ws)}` + (mode ? `?mode=${mode}` : "");
    const r = await api(method, path);
    if (r.status !== 200 && r.status !== 202) { $("bootstrap-result").textContent = problem(r); return; }
    $("bootstrap-result").textContent = method === "DELETE" ? "cancelled" : `queued (${mode})`;
    showBootstrap(r.data);
  }

  $("bootstrap-resume").addEventListener("click", () => bootstrapAction("POST", "resume"));
  $("bootstrap-cancel").addEventListener("click", () => bootstrapAction("DELETE"));
  $("bootstrap-restart").addEventListener("click", () => { $("restart-confirm").hidden = false; });
  $("restart-no").addEventListener("click", () => { $("restart-confirm").hidden = true; });
  $("restart-yes").addEventListener("click", () => {
    $("restart-confirm").hidden = true;
    bootstrapAction("POST", "restart");
  });

  if (!token || !ws) {
    $("auth-state").textContent = "No usable auth_token in the URL: open this page from Clockify.";
    return;
  }
  $("auth-state").textContent = `Workspace ${ws}`;
  loadInstallation();
  loadDeliveries(false);
  loadBootstrap();
})();
