(function () {
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem("fs_console_token");
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const pill = (s) => {
    const cls = { shipped: "ok", done: "ok", packed: "ok", accepted: "ok", weight_hold: "bad", cancelled: "bad", failed: "bad",
                  unknown: "bad", short: "bad", error: "bad", offline: "bad", online: "ok", on_hold: "warn", queued: "warn", recount_required: "warn", sent: "warn",
                  overdue: "bad", due: "warn", open: "warn", closed: "ok" }[s] || "";
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
                   ["QC waiting", (d.qc || []).length, "bad"], ["counts overdue", (d.count_due || {}).overdue, "bad"],
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
    const qcBusy = $("qc").contains(document.activeElement);
    if (!qcBusy) {
      const reasons = ["damaged", "defective", "expired", "wrong_item", "failed_spec", "contaminated", "other"];
      $("qc").innerHTML = table(d.qc, [["receipt", "receipt_id"], ["from", "source"], ["SKU", "sku"], ["lot", "lot"], ["waiting", "pending"],
        ["of", "qty"], ["received", "created_at", when],
        ["release to bin", "suggested_bin", (v, r) => '<span class="act"><input data-bin="' + r.receipt_id + '" placeholder="' + esc(v || "bin") +
          '" value="' + esc(v || "") + '"> <button data-release="' + r.receipt_id + '">Release</button></span>'],
        ["or reject", "receipt_id", (v) => '<span class="act"><select data-reason="' + v + '">' + reasons.map((x) => "<option>" + x + "</option>").join("") +
          '</select> <select data-disp="' + v + '"><option value="scrap">scrap</option><option value="return_to_vendor">return to vendor</option></select> ' +
          '<button class="rej" data-reject="' + v + '">Reject</button></span>']]) + '<div class="msg" id="qcmsg">' + esc(qcMsg.text) + "</div>";
      $("qcmsg").className = "msg " + qcMsg.cls;
      for (const b of document.querySelectorAll("button[data-release]")) {
        b.onclick = () => act("/api/qc/" + b.dataset.release + "/release", { code: document.querySelector('input[data-bin="' + b.dataset.release + '"]').value.trim() });
      }
      for (const b of document.querySelectorAll("button[data-reject]")) {
        const id = b.dataset.reject;
        b.onclick = () => act("/api/qc/" + id + "/reject", { reason: document.querySelector('select[data-reason="' + id + '"]').value,
                                                              disposition: document.querySelector('select[data-disp="' + id + '"]').value });
      }
    }
    const w = d.wave || { wave: [], deferred: [] };
    const pickup = (v) => v ? esc(new Date(v).toLocaleString("en-GB", { weekday: "short", hour: "2-digit", minute: "2-digit",
                                                                          hour12: false, timeZone: w.timezone || "UTC" })) : "—";
    $("wave").innerHTML = (w.ok === false ? '<p class="pill bad">' + esc(w.message) + "</p>" : "") +
      table(w.wave, [["order", "fo_id"], ["carrier", "carrier"], ["service", "service"], ["cut-off", "pickup_at", pickup],
                     ["ship by", "ship_by", when], ["urgent", "urgent", (v) => v ? "⚡" : ""]]) +
      (w.deferred && w.deferred.length ? "<p><b>Missed today's cut-off</b> (next wave)</p>" +
        table(w.deferred, [["order", "fo_id"], ["carrier", "carrier"], ["next pickup", "pickup_at", pickup], ["ship by", "ship_by", when]]) : "") +
      '<p class="empty">' + esc(w.next || "") + "</p>";
    const cd = d.count_due || { tasks: [] };
    $("countdue").innerHTML = table(cd.tasks.slice(0, 40), [["bin", "location"], ["zone", "zone"], ["class", "abc_class"], ["schedule", "schedule_id"],
                                                            ["due", "due_at", when], ["state", "state", pill]]) +
      '<button class="cardbtn" id="runSched">Create due counts now</button> <span class="msg" id="schedmsg"></span>';
    $("runSched").onclick = async () => {
      const r = await post("/api/counts/schedule", {});
      $("schedmsg").textContent = r.ok ? r.next : r.message; $("schedmsg").className = "msg " + (r.ok ? "ok" : "bad"); setTimeout(load, 800);
    };
    const kg = (g) => esc(((g || 0) / 1000).toFixed(2)) + " kg";
    const files = (id) => '<a href="/api/manifests/' + encodeURIComponent(id) + '/manifest.csv">CSV</a> · ' +
      '<a target="_blank" href="/api/manifests/' + encodeURIComponent(id) + '/manifest.pdf">PDF</a>';
    if (!$("manifests").contains(document.activeElement)) {
      $("manifests").innerHTML = table(d.manifests, [["manifest", "manifest_id"], ["carrier", "carrier"], ["ship date", "day"],
        ["status", "status", pill], ["parcels", "parcels"], ["weight", "weight_g", kg], ["closed by", "closed_by"],
        ["", "manifest_id", (v, r) => files(v) + (r.status === "open"
          ? ' <span class="act"><button data-close="' + esc(r.carrier) + '">Close &amp; print</button></span>' : "")]]) +
        '<div class="msg" id="manmsg">' + esc(manMsg.text) + "</div>";
      $("manmsg").className = "msg " + manMsg.cls;
      document.querySelectorAll("button[data-close]").forEach((b) => {
        b.onclick = async () => {
          const r = await post("/api/ship/manifests/" + encodeURIComponent(b.dataset.close) + "/close", {});
          manMsg = r.ok ? { text: "✔ " + r.parcels + " parcel(s) · " + r.next, cls: "ok" } : { text: "✘ " + r.message, cls: "bad" };
          b.blur(); load();
        };
      });
    }
    $("counts").innerHTML = table(d.counts, [["bin", "location"], ["SKU", "sku"], ["counted", "counted"], ["expected", "expected"],
                                             ["status", "status", pill], ["by", "counted_by"]]);
  }
  let qcMsg = { text: "", cls: "" };
  let manMsg = { text: "", cls: "" };
  async function post(path, body) {
    const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer " + (token || "") },
                                  body: JSON.stringify(body) });
    try { return await r.json(); } catch (e) { return { ok: false, message: "no answer from the edge (" + r.status + ")" }; }
  }
  async function act(path, body) {
    const r = await post(path, body);
    qcMsg = r.ok ? { text: "✔ " + r.next, cls: "ok" } : { text: "✘ " + r.message, cls: "bad" };
    if (document.activeElement) document.activeElement.blur();
    load();
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
