(function () {
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem("fs_console_token");
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const pill = (s) => {
    const cls = { shipped: "ok", done: "ok", packed: "ok", accepted: "ok", weight_hold: "bad", cancelled: "bad", failed: "bad",
                  unknown: "bad", short: "bad", error: "bad", offline: "bad", online: "ok", on_hold: "warn", queued: "warn", recount_required: "warn", sent: "warn" }[s] || "";
    return '<span class="pill ' + cls + '">' + esc(s) + "</span>";
  };
  const hhmm = (v) => esc(String(v || "").slice(11, 19));
  const when = (v) => esc(String(v || "").slice(5, 16).replace("T", " "));
  function table(rows, cols) {
    if (!rows || !rows.length) return '<p class="empty">nothing here</p>';
    return "<table><tr>" + cols.map((c) => "<th>" + esc(c[0]) + "</th>").join("") + "</tr>" +
      rows.map((r) => "<tr>" + cols.map((c) => "<td>" + (c[2] ? c[2](r[c[1]], r) : esc(r[c[1]])) + "</td>").join("") + "</tr>").join("") + "</table>";
  }
  async function load() {
    const r = await fetch("/api/console", { headers: { Authorization: "Bearer " + (token || "") } });
    if (r.status === 401 || r.status === 403) { $("dash").classList.add("hidden"); $("login").classList.remove("hidden"); return; }
    const d = await r.json();
    $("login").classList.add("hidden"); $("dash").classList.remove("hidden");
    const s = d.orders_by_status || {};
    const tiles = [["released", s.released], ["picking", s.picking], ["picked", s.picked], ["packed", s.packed],
                   ["shipped", s.shipped, "ok"], ["weight holds", s.weight_hold, "bad"], ["on hold", s.on_hold, "bad"],
                   ["cancelled", s.cancelled, "bad"], ["short picks", d.short_picks.length, "bad"],
                   ["print failed/unknown", (d.print_states.failed || 0) + (d.print_states.unknown || 0), "bad"],
                   ["outbox (unsynced)", d.outbox_depth]];
    $("tiles").innerHTML = tiles.map((t) => '<div class="tile ' + ((t[2] && t[1]) ? t[2] : "") + '"><div class="n">' + (t[1] || 0) +
      '</div><div class="l">' + esc(t[0]) + "</div></div>").join("");
    $("weight").innerHTML = table(d.weight_holds, [["order", "fo_id"], ["carton", "carton"], ["expected g", "expected_weight_g"],
                                                   ["actual g", "weight_g"], ["since", "updated_at", hhmm]]);
    $("holds").innerHTML = table(d.holds, [["order", "fo_id"], ["status", "status", pill], ["reason", "hold_reason", (v, r) => esc(v || r.cancel_reason)]]);
    $("shorts").innerHTML = table(d.short_picks, [["order", "fo_id"], ["SKU", "sku"], ["bin", "location"], ["picked", "picked"], ["of", "qty"]]);
    $("runs").innerHTML = table(d.runs, [["run", "run_id"], ["method", "method"], ["picker", "username"], ["open tasks", "open_tasks"], ["tasks", "tasks"]]);
    $("orders").innerHTML = table(d.open_orders, [["order", "fo_id"], ["status", "status", pill], ["ship by", "ship_by", when],
                                                  ["urgent", "urgent", (v) => v ? "⚡" : ""], ["lines", "lines"], ["units", "units"], ["carrier", "carrier"]]);
    $("prints").innerHTML = table(d.print_jobs, [["job", "job_id", (v) => esc(String(v).slice(0, 8))], ["kind", "kind"], ["order", "fo_id"],
                                                 ["state", "state", pill], ["error", "error"]]);
    $("exceptions").innerHTML = table(d.exceptions, [["time", "at", hhmm], ["who", "username"], ["step", "action"], ["why", "code"], ["message", "message"]]);
    if (d.device_health) {
      const banner = d.printers_ok ? "" : '<p class="pill bad">No label printer online — central stops routing new orders here</p>';
      const st = d.station ? '<p>Pack station ' + esc(d.station.device) + " · " + esc(d.station.user) + " · order " +
        esc(d.station.fo_id || "—") + " · " + esc(d.station.last ? d.station.last.next : "waiting for a scan") + "</p>" : "";
      $("devices").innerHTML = banner + table(d.device_health, [["device", "device"], ["kind", "kind"], ["state", "state", pill],
                                               ["last error", "last_error"], ["since", "since", hhmm], ["checked", "checked_at", hhmm]]) + st;
    } else {
      $("devices").innerHTML = table(d.devices, [["device", "device_id"], ["address", "address"], ["status", "status", pill],
                                                 ["detail", "detail"], ["seen", "last_seen", hhmm]]);
    }
    $("counts").innerHTML = table(d.counts, [["bin", "location"], ["SKU", "sku"], ["counted", "counted"], ["expected", "expected"],
                                             ["status", "status", pill], ["by", "counted_by"]]);
  }
  $("loginBtn").onclick = async () => {
    const r = await fetch("/api/login", { method: "POST", headers: { "Content-Type": "application/json" },
                                          body: JSON.stringify({ username: $("user").value.trim(), pin: $("pin").value, device: "console" }) });
    const d = await r.json();
    if (!d.ok) { $("err").textContent = d.message; return; }
    token = d.token; sessionStorage.setItem("fs_console_token", token); $("who").textContent = d.username + " · " + d.role; load();
  };
  $("pin").addEventListener("keydown", (e) => { if (e.key === "Enter") $("loginBtn").click(); });
  load();
  setInterval(load, 5000);
})();
