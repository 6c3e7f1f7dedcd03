"use strict";
// The flows page. Reads `auth_token` from its URL (as Clockify's iframe
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
  const base = `/admin/flows/${enc(ws || "")}`;

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
  function button(text, cls, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
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

  const EXAMPLE = {
    name: "Tag entries without a project",
    enabled: true,
    trigger: { events: ["NEW_TIME_ENTRY"], match: "all", conditions: [{ pointer: "/payload/projectId", op: "exists", value: false }] },
    steps: [{ id: "find_tag", operationId: "getTags", query: { name: "needs-project" } }],
  };

  let editing = null; // the id of the flow in the editor, or null for a new one
  let flows = [];

  function edit(flow) {
    editing = flow ? flow.id : null;
    $("editor-title").textContent = flow ? `Edit “${flow.name}” (version ${flow.version})` : "New flow";
    const doc = flow ? { name: flow.name, enabled: flow.enabled, trigger: flow.trigger, steps: flow.steps } : EXAMPLE;
    $("flow-json").value = JSON.stringify(doc, null, 2);
    $("violations").replaceChildren();
    $("save-result").textContent = "";
  }

  async function loadFlows() {
    const r = await api("GET", base);
    if (r.status !== 200) {
      $("problem").hidden = false;
      $("problem").textContent = problem(r);
      $("auth-state").textContent = "not available";
      return;
    }
    $("auth-state").textContent = `Workspace ${ws}`;
    flows = r.data.items;
    const rows = $("flow-rows");
    rows.replaceChildren();
    for (const f of flows) {
      const toggle = button(f.enabled ? "Disable" : "Enable", "toggle", async () => {
        const t = await api("POST", `${base}/${enc(f.id)}/${f.enabled ? "disable" : "enable"}`);
        $("flow-result").textContent = t.status === 200 ? `${t.data.name}: ${t.data.enabled ? "enabled" : "disabled"}` : problem(t);
        await loadFlows();
      });
      const del = button("Delete", "delete danger", async () => {
        if (!confirm(`Delete the flow “${f.name}”?`)) return;
        const d = await api("DELETE", `${base}/${enc(f.id)}`);
        $("flow-result").textContent = d.status === 204 ? `deleted ${f.name}` : problem(d);
        if (editing === f.id) edit(null);
        await loadFlows();
      });
      const actions = document.createElement("span");
      actions.append(button("Edit", "edit", () => edit(f)), " ", toggle, " ", del);
      const tr = row([f.name, f.trigger.events.join(", "), stateCell(f.enabled ? "enabled" : "disabled"), String(f.version), actions]);
      tr.dataset.flow = f.id;
      rows.appendChild(tr);
    }
  }

  $("save").addEventListener("click", async () => {
    const list = $("violations");
    list.replaceChildren();
    let doc;
    try {
      doc = JSON.parse($("flow-json").value);
    } catch (e) {
      $("save-result").textContent = "not JSON: " + e.message;
      return;
    }
    const r = editing ? await api("PUT", `${base}/${enc(editing)}`, doc) : await api("POST", base, doc);
    if (r.status === 200 || r.status === 201) {
      edit(r.data);
      $("save-result").textContent = `saved ${r.data.name} (version ${r.data.version})`;
      await loadFlows();
      return;
    }
    $("save-result").textContent = problem(r);
    for (const v of (r.data && r.data.violations) || []) {
      const li = document.createElement("li");
      li.textContent = `${v.pointer}: ${v.message}`;
      li.dataset.pointer = v.pointer;
      list.appendChild(li);
    }
  });
  $("new-flow").addEventListener("click", () => edit(null));

  function showSteps(executions) {
    const rows = $("try-rows");
    rows.replaceChildren();
    for (const e of executions) {
      for (const s of e.steps) {
        const req = s.request ? `${s.request.method} ${s.request.url}${s.request.body !== undefined ? " " + JSON.stringify(s.request.body) : ""}` : "";
        const tr = row([s.id, s.operationId, stateCell(s.outcome), req, s.status || "", s.error || ""]);
        tr.dataset.outcome = s.outcome;
        rows.appendChild(tr);
      }
    }
  }

  $("dry-run").addEventListener("click", async () => {
    if (!editing) { $("try-result").textContent = "save the flow first, then try it"; return; }
    const r = await api("POST", `${base}/${enc(editing)}/dry-run`, { deliveryId: $("delivery-id").value.trim() });
    if (r.status !== 200) { $("try-result").textContent = problem(r); return; }
    $("try-result").textContent = `dry run: ${r.data.outcome === "completed" ? "every request resolved" : r.data.outcome}${r.data.error ? " · " + r.data.error : ""} · nothing sent`;
    showSteps([r.data]);
  });
  $("force-run").addEventListener("click", () => { $("force-confirm").hidden = false; });
  $("force-no").addEventListener("click", () => { $("force-confirm").hidden = true; });
  $("force-yes").addEventListener("click", async () => {
    $("force-confirm").hidden = true;
    const body = editing ? { flowId: editing } : {};
    const r = await api("POST", `${base}/deliveries/${enc($("delivery-id").value.trim())}/run`, body);
    if (r.status !== 200) { $("try-result").textContent = problem(r); return; }
    $("try-result").textContent = "ran: " + r.data.executions.map((e) => `${e.flowName} ${e.outcome}`).join(", ");
    showSteps(r.data.executions);
    await loadExecutions();
  });

  async function loadExecutions() {
    const r = await api("GET", `${base}/executions?limit=50`);
    if (r.status !== 200) return;
    const rows = $("execution-rows");
    rows.replaceChildren();
    for (const e of r.data.items) {
      const view = button("Steps", "view", () => {
        $("execution-steps").hidden = false;
        $("execution-steps").textContent = JSON.stringify(e.steps, null, 2);
      });
      const use = button("Try", "try", () => {
        $("delivery-id").value = e.deliveryId;
        const f = flows.find((f) => f.id === e.flowId);
        if (f) edit(f);
      });
      const actions = document.createElement("span");
      actions.append(view, " ", use);
      const tr = row([when(e.startedAt), e.flowName, e.event, e.deliveryId, stateCell(e.outcome), e.error || "", actions]);
      tr.dataset.outcome = e.outcome;
      tr.dataset.delivery = e.deliveryId;
      rows.appendChild(tr);
    }
  }
  $("load-executions").addEventListener("click", loadExecutions);

  if (!token || !ws) {
    $("auth-state").textContent = "Open this page from Clockify (no auth_token in its address).";
    return;
  }
  edit(null);
  loadFlows();
  loadExecutions();
})();
