// Handheld: keyboard-wedge scans arrive in #scan and end with Enter.
(function () {
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem("fs_token");
  let mode = null, run = null, fo = null, putback = null, count = null, qc = null;
  const PANELS = ["pickBtns", "packBtns", "gramsRow", "countBtns", "qtyRow", "qcBtns", "rejectPanel"];
  // show only these control rows of the work screen
  function only(...ids) { for (const id of PANELS) $(id).classList.toggle("hidden", !ids.includes(id)); }
  // one id per handheld: duplicate-scan debounce is per device
  let device = localStorage.getItem("fs_device");
  if (!device) { device = "hh-" + Math.random().toString(36).slice(2, 10); localStorage.setItem("fs_device", device); }

  async function call(method, path, body) {
    const r = await fetch(path, { method, headers: { "Content-Type": "application/json", "Authorization": "Bearer " + (token || ""), "X-Device": device },
                                  body: body ? JSON.stringify(body) : undefined });
    let data = {};
    try { data = await r.json(); } catch (e) { data = { ok: false, message: "no answer from the edge (" + r.status + ")" }; }
    if (r.status === 401 && mode !== "login") { show("login"); }
    return data;
  }
  function flash(ok, text) {
    const f = $("flash"); f.className = "flash " + (ok ? "ok" : "bad"); f.textContent = text;
    if (!ok && navigator.vibrate) navigator.vibrate(300);
  }
  function show(which) {
    mode = which;
    for (const s of ["login", "home", "work"]) $(s).classList.toggle("hidden", s !== which);
    const focus = which === "login" ? $("user") : which === "work" ? $("scan") : null;
    if (focus) setTimeout(() => focus.focus(), 0);
  }
  function keepFocus() {
    if (mode === "work" && document.activeElement !== $("grams") && document.activeElement !== $("qty")) $("scan").focus();
  }
  document.addEventListener("click", () => setTimeout(keepFocus, 0));

  function renderPick(d) {
    run = d;
    only("pickBtns");
    $("next").textContent = d.next || "";
    $("alerts").innerHTML = (d.alerts || []).map((a) => '<div class="alert">' + esc(a) + "</div>").join("") +
      (d.returns || []).map((r) => '<button class="warn putback" data-fo="' + esc(r.fo_id) + '">Return items of ' + esc(r.fo_id) +
                                   " to " + esc(r.locations.join(", ")) + "</button>").join("");
    for (const b of document.querySelectorAll("button.putback")) {
      b.onclick = () => { putback = b.dataset.fo; $("next").textContent = "Scan the bin you return the items to"; $("scan").focus(); };
    }
    const t = d.task;
    if (t) {
      $("bigline").textContent = d.expect === "location" ? t.location : t.sku;
      $("meta").textContent = (d.expect === "location" ? t.sku + " · " : "") + t.description + " · pick " + t.remaining +
        (t.lot ? " · lot " + t.lot : "") + " · tote " + t.tote;
    } else { $("bigline").textContent = "Done"; $("meta").textContent = ""; }
    const p = d.progress || { units: 0, picked: 0 };
    $("bar").style.width = (p.units ? Math.round(100 * p.picked / p.units) : 100) + "%";
  }
  function renderPack(d) {
    fo = d;
    only("packBtns", "gramsRow");
    $("next").textContent = d.next || "";
    $("alerts").innerHTML = "";
    $("bigline").textContent = d.fo_id;
    const done_cartons = (d.cartons || []).length;
    $("meta").textContent = d.lines.map((l) => l.sku + " " + l.packed + "/" + l.picked).join(" · ") +
      (d.suggested_carton ? " · carton " + (d.open_carton ? d.open_carton.seq + " " : "") + (d.carton || d.suggested_carton) : "") +
      (done_cartons ? " · " + done_cartons + " closed" : "");
    const total = d.lines.reduce((a, l) => a + l.picked, 0), done = d.lines.reduce((a, l) => a + l.packed, 0);
    $("bar").style.width = (total ? Math.round(100 * done / total) : 0) + "%";
  }
  function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c])); }

  // ---- scheduled (and ad hoc) cycle counts: bin, then item and counted quantity, blind
  async function countStart(note) {
    run = null; fo = null; qc = null; show("work"); only("countBtns"); $("alerts").innerHTML = "";
    const d = await call("GET", "/api/counts/due");
    if (!d.ok) { flash(false, d.message); show("home"); return; }
    const t = d.tasks[0];
    count = { location: t ? t.location : null, step: "bin", code: null };
    $("bigline").textContent = t ? t.location : "—";
    $("meta").textContent = d.due + " due · " + d.overdue + " overdue" + (t ? " · " + t.state : "");
    $("next").textContent = t ? "Go to bin " + t.location + " and scan it" : "No counts due: scan any bin to count it";
    $("bar").style.width = "0";
    if (note) flash(true, note);
  }
  async function countScan(code) {
    if (count.step === "bin") {
      const d = await call("GET", "/api/count/" + encodeURIComponent(code));
      if (!d.ok) { flash(false, "✘ " + d.message); return; }
      count = { location: d.location, step: "item", code: null };
      $("bigline").textContent = d.location; $("meta").textContent = "blind count · " + d.skus.length + " SKU(s) stocked here";
      $("next").textContent = "Scan an item in " + d.location; flash(true, "✔ bin " + d.location);
    } else {
      count.code = code; count.step = "qty";
      $("qtyRow").classList.remove("hidden"); $("qty").value = ""; $("qty").placeholder = "counted quantity, then Enter";
      $("next").textContent = "Count every unit of this item in " + count.location + ", enter the quantity";
      setTimeout(() => $("qty").focus(), 0);
    }
  }
  async function countSubmit() {
    const counted = $("qty").value.trim();
    if (!count || count.step !== "qty" || counted === "") return;
    const d = await call("POST", "/api/count/" + encodeURIComponent(count.location), { code: count.code, counted: parseInt(counted, 10) });
    $("qtyRow").classList.add("hidden"); $("qty").value = "";
    if (!d.ok) { flash(false, "✘ " + d.message); count.step = "item"; $("scan").focus(); return; }
    if (d.count_task && d.count_task.status === "done") { countStart("✔ " + d.next); return; }
    flash(true, "✔ " + d.next); count.step = "item"; $("next").textContent = d.next; $("scan").focus();
  }

  // ---- QC of quarantined receipts: scan the bin to release into, or reject with a reason code
  async function qcStart(note) {
    run = null; fo = null; count = null; show("work"); only("qcBtns", "qtyRow"); $("alerts").innerHTML = "";
    $("qty").value = ""; $("qty").placeholder = "quantity (empty = all waiting)";
    const d = await call("GET", "/api/qc");
    if (!d.ok) { flash(false, d.message); show("home"); return; }
    qc = { receipts: d.receipts, i: 0, disposition: "scrap" };
    renderQc();
    if (note) flash(true, note);
  }
  function renderQc() {
    const r = qc.receipts[qc.i];
    $("bar").style.width = "0";
    if (!r) { $("bigline").textContent = "—"; $("meta").textContent = ""; $("next").textContent = "Nothing waiting in quarantine"; return; }
    $("bigline").textContent = r.sku;
    $("meta").textContent = "receipt " + r.receipt_id + " · " + r.pending + " of " + r.qty + " waiting" + (r.lot ? " · lot " + r.lot : "") +
      " · " + (qc.i + 1) + "/" + qc.receipts.length;
    $("next").textContent = (r.suggested_bin ? "Scan bin " + r.suggested_bin : "Scan a bin") + " to release, or Reject";
  }
  function qcQty() { const v = $("qty").value.trim(); return v === "" ? null : parseInt(v, 10); }
  async function qcDecide(path, body) {
    const d = await call("POST", path, body);
    if (d.ok) qcStart("✔ " + d.next); else flash(false, "✘ " + d.message);
  }

  async function onScan(code) {
    if (!code) return;
    let d;
    if (mode === "work" && count) { await countScan(code); return; }
    if (mode === "work" && qc) {
      const r = qc.receipts[qc.i];
      if (r) await qcDecide("/api/qc/" + r.receipt_id + "/release", { code, qty: qcQty() });
      return;
    }
    if (mode === "work" && putback) {
      d = await call("POST", "/api/pick/putback", { fo_id: putback, code });
      if (d.ok) { flash(true, "✔ returned " + d.returned_units + " to " + d.location); if (d.next === "All items returned") putback = null; reloadRun(); }
      else flash(false, "✘ " + d.message);
      return;
    }
    if (mode === "work" && run && !fo) {
      d = await call("POST", "/api/pick/" + run.run_id + "/scan", { code, task_id: run.task ? run.task.task_id : null });
      if (d.ok) { flash(true, "✔ " + code); renderPick(d); }
      else { flash(false, "✘ " + (d.message || "refused")); if (d.error === "stale_task") reloadRun(); }
    } else if (mode === "work" && fo === null && run === null) {
      d = await call("POST", "/api/pack/start", { code });
      if (d.ok) { flash(true, "✔ order " + d.fo_id); renderPack(d); } else flash(false, "✘ " + d.message);
    } else if (mode === "work" && fo) {
      if (fo.status === "packed") d = await call("POST", "/api/ship/" + fo.fo_id + "/confirm", { code });
      else if (fo.to_verify === 0 && !fo.carton) d = await call("POST", "/api/pack/" + fo.fo_id + "/carton", { code });
      else d = await call("POST", "/api/pack/" + fo.fo_id + "/scan", { code });
      if (d.ok && d.status === "shipped") { flash(true, "✔ shipped " + d.tracking_number); fo = null; packStart(); }
      else if (d.ok) { flash(true, "✔ " + code); renderPack(d); } else flash(false, "✘ " + d.message);
    }
  }
  async function reloadRun() { if (run) { const d = await call("GET", "/api/pick/" + run.run_id); if (d.ok) renderPick(d); } }
  async function pickStart() {
    fo = null; show("work");
    const d = await call("POST", "/api/pick/start", {});
    if (d.ok) { renderPick(d); if (!d.run_id) { run = null; flash(true, d.next); show("home"); } } else flash(false, d.message);
  }
  function packStart() {
    run = null; fo = null; show("work");
    only("packBtns");
    $("next").textContent = "Scan a tote or order"; $("bigline").textContent = ""; $("meta").textContent = ""; $("alerts").innerHTML = "";
  }

  $("scan").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); const v = $("scan").value.trim(); $("scan").value = ""; onScan(v); }
  });
  $("pin").addEventListener("keydown", (e) => { if (e.key === "Enter") $("loginBtn").click(); });
  $("user").addEventListener("keydown", (e) => { if (e.key === "Enter") $("pin").focus(); });
  $("loginBtn").onclick = async () => {
    const d = await call("POST", "/api/login", { username: $("user").value.trim(), pin: $("pin").value, device });
    if (d.ok) { token = d.token; sessionStorage.setItem("fs_token", token); $("who").textContent = d.username + " · " + d.role;
                $("pin").value = ""; flash(true, "Hello " + d.username); show("home"); }
    else flash(false, d.message);
  };
  $("logout").onclick = () => { token = null; sessionStorage.removeItem("fs_token"); show("login"); };
  $("goPick").onclick = () => { count = null; qc = null; pickStart(); };
  $("goPack").onclick = () => { count = null; qc = null; packStart(); };
  $("goQc").onclick = () => qcStart();
  $("qcNext").onclick = () => {
    if (qc && qc.receipts.length) { qc.i = (qc.i + 1) % qc.receipts.length; only("qcBtns", "qtyRow"); renderQc(); }
  };
  $("qcReject").onclick = () => { if (qc && qc.receipts[qc.i]) { only("rejectPanel", "qtyRow", "qcBtns"); $("next").textContent = "Why is it rejected?"; } };
  for (const b of document.querySelectorAll("#rejectPanel button[data-disp]")) {
    b.onclick = () => {
      qc.disposition = b.dataset.disp;
      for (const o of document.querySelectorAll("#rejectPanel button[data-disp]")) o.classList.toggle("alt", o !== b);
    };
  }
  for (const b of document.querySelectorAll("#rejectPanel button[data-reason]")) {
    b.onclick = () => {
      const r = qc && qc.receipts[qc.i];
      if (r) qcDecide("/api/qc/" + r.receipt_id + "/reject", { reason: b.dataset.reason, disposition: qc.disposition, qty: qcQty() });
    };
  }
  $("goCount").onclick = () => countStart();
  $("qty").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); countSubmit(); } });
  $("backBtn").onclick = $("backBtn2").onclick = $("backBtn3").onclick = $("backBtn4").onclick =
    () => { run = null; fo = null; count = null; qc = null; show("home"); };
  $("shortBtn").onclick = async () => {
    if (!run || !run.task) return;
    const d = await call("POST", "/api/pick/" + run.run_id + "/short", { task_id: run.task.task_id });
    if (d.ok) { flash(true, "Short recorded: " + d.short.sku); renderPick(d); } else flash(false, d.message);
  };
  $("weighBtn").onclick = async () => {
    if (!fo) return;
    const grams = $("grams").value.trim();
    const d = await call("POST", "/api/pack/" + fo.fo_id + "/weigh", grams ? { grams: parseInt(grams, 10) } : {});
    if (d.ok) { flash(true, "✔ weight ok — labels printing"); renderPack(d); }
    else { flash(false, "✘ " + d.message); if (d.fo_id) renderPack(d); $("gramsRow").classList.remove("hidden"); }
  };
  $("closeBtn").onclick = async () => {
    if (!fo) return;
    const grams = $("grams").value.trim();
    const d = await call("POST", "/api/pack/" + fo.fo_id + "/close-carton", grams ? { grams: parseInt(grams, 10) } : {});
    if (d.ok) { flash(true, "✔ carton " + d.closed_carton.seq + " closed — label " + d.closed_carton.tracking_number); renderPack(d); }
    else { flash(false, "✘ " + d.message); if (d.fo_id) renderPack(d); }
  };
  (async () => {
    if (token) { const d = await call("GET", "/api/me"); if (d.ok) { $("who").textContent = d.username + " · " + d.role; show("home"); return; } }
    show("login");
  })();
})();
