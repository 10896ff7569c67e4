// The status page: follows one user's deployment over the WebSocket (a token from the dev
// server, then {"action":"status"} for a snapshot) and shows every status record in version
// order; Deploy and Retry POST to the dev server, which publishes to the deploy queue.
"use strict";
(function () {
  const params = new URLSearchParams(location.search);
  const user = params.get("user") || "demo-user";
  const config = params.get("config") || "default";
  const $ = (id) => document.getElementById(id);
  $("user").textContent = user;
  $("config").textContent = config;
  let lastVersion = -1;
  let retryDelay = 500;

  async function post(path) {
    const resp = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ userId: user, configId: config }),
    });
    const text = await resp.text();
    if (!resp.ok) throw new Error(text.trim() || resp.statusText);
    return JSON.parse(text);
  }

  function show(rec) {
    if (rec.configId && rec.configId !== config) return;
    if (typeof rec.version === "number" && rec.version <= lastVersion) return; // stale or repeated
    lastVersion = rec.version;
    const st = rec.deploymentStatus || "unknown";
    $("status").textContent = st;
    $("status").dataset.status = st;
    $("stage").textContent = rec.stage || "–";
    $("progress").textContent = rec.deploymentProgress || "–";
    $("schemaVersion").textContent = rec.schemaVersion ? "v" + rec.schemaVersion : "–";
    $("lastSchemaDeploy").textContent = rec.lastSchemaDeploy || "–";
    $("error").textContent = rec.connectionError ? (rec.errorClass ? rec.errorClass + ": " : "") + rec.connectionError : "–";
    $("hint").textContent = rec.errorHint || "–";
    $("notice").textContent = rec.notice || "–";
    const li = document.createElement("li");
    li.textContent = [rec.updatedAt, st, rec.stage, rec.deploymentProgress].filter(Boolean).join(" · ");
    $("timeline").appendChild(li);
  }

  async function connect() {
    let token, url;
    try {
      ({ token, webSocket: url } = await post("/api/token"));
    } catch (e) {
      $("ws").textContent = "cannot get a token: " + e.message;
      return setTimeout(connect, retryDelay);
    }
    const ws = new WebSocket(url + "?token=" + encodeURIComponent(token));
    ws.onopen = () => {
      retryDelay = 500;
      $("ws").textContent = "live";
      ws.send(JSON.stringify({ action: "status" }));
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg && msg.type === "status" && msg.record) show(msg.record);
    };
    ws.onclose = () => {
      $("ws").textContent = "reconnecting…";
      retryDelay = Math.min(retryDelay * 2, 10000);
      setTimeout(connect, retryDelay);
    };
  }

  for (const action of ["deploy", "retry"]) {
    $(action).addEventListener("click", async () => {
      $("message").textContent = "";
      try {
        const { requestId } = await post("/api/" + action);
        $("message").textContent = action + " requested (" + requestId + ")";
      } catch (e) {
        $("message").textContent = action + " failed: " + e.message;
      }
    });
  }
  connect();
})();
