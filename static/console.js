// Payment Sandbox console: the ticking sandbox clock, live updates over server-sent events, copy buttons.
(function () {
  "use strict";

  // ----- sandbox clock: server time at render + how long this page has been open (the offset stays fixed
  // until someone advances the clock, which arrives as a "clock" event), shown in the sandbox's display zone
  // (data-tz, --display-tz) with UTC on hover -----
  var nowEl = document.getElementById("sandbox-now");
  var chip = document.getElementById("clock-chip");
  var skew = parseFloat(document.body.dataset.now || "0") * 1000 - Date.now();
  var zone = document.body.dataset.tz || "UTC";
  var zoned = null;
  try {
    zoned = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  } catch (err) { zoned = null; } // an unknown zone: show UTC rather than nothing
  function utc(ms) { return new Date(ms).toISOString().replace("T", " ").slice(0, 19); }
  function fmt(ms) {
    if (!zoned) return utc(ms);
    var p = {};
    zoned.formatToParts(new Date(ms)).forEach(function (part) { p[part.type] = part.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second;
  }
  function tick() {
    var ms = Date.now() + skew, text = fmt(ms);
    if (nowEl) nowEl.textContent = text;
    if (chip) chip.title = "Sandbox time in " + zone + "; " + utc(ms) + " UTC";
    var big = document.getElementById("clock-now");
    if (big) { big.textContent = text; big.title = utc(ms) + " UTC"; }
    var bigUtc = document.getElementById("clock-utc");
    if (bigUtc) bigUtc.textContent = utc(ms);
  }
  if (document.body.dataset.now) { tick(); setInterval(tick, 1000); }

  // ----- live updates: refetch the page's live fragment when a relevant event arrives -----
  var list = document.querySelector("[data-live=list]");
  var paymentBox = document.querySelector("[data-live=payment]");
  var status = document.getElementById("live-status");

  function fetchFragment(url) {
    return fetch(url, { headers: { "X-Fragment": "1" }, credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    });
  }

  var pending = null;
  function debounce(fn) {
    if (pending) clearTimeout(pending);
    pending = setTimeout(function () { pending = null; fn(); }, 150);
  }

  function refreshList() {
    var body = document.getElementById("payment-rows");
    var seen = {};
    body.querySelectorAll("tr[data-id]").forEach(function (tr) { seen[tr.dataset.id] = tr.innerHTML; });
    return fetchFragment(location.href).then(function (html) {
      var tmp = document.createElement("table");
      tmp.innerHTML = html;
      var fresh = tmp.querySelector("tbody");
      if (!fresh) return;
      fresh.querySelectorAll("tr[data-id]").forEach(function (tr) {
        if (seen[tr.dataset.id] !== tr.innerHTML) tr.classList.add("fresh");
      });
      body.replaceWith(fresh);
      var total = document.getElementById("payments-total");
      var n = parseInt(fresh.dataset.total || "0", 10);
      if (total) total.textContent = fresh.dataset.totalText || (n + " payment" + (n === 1 ? "" : "s"));
    }).catch(function () {});
  }

  function typing() {
    // the reader is in the page's forms (a field with text, or a button of a form they changed)
    var active = document.activeElement;
    if (!active || !paymentBox.contains(active)) return false;
    if ((active.tagName === "INPUT" || active.tagName === "TEXTAREA") && active.value) return true;
    var form = active.form || active.closest("form");
    return !!form && Array.prototype.some.call(form.elements, function (el) {
      if (el.tagName === "TEXTAREA") return el.value !== el.defaultValue;
      if (el.tagName !== "INPUT" || el.type === "hidden") return false;
      return el.type === "checkbox" ? el.checked !== el.defaultChecked : el.value !== el.defaultValue;
    });
  }

  function refreshPayment() {
    // keep what the reader opened (collapsible blocks) and what they were typing
    if (typing()) return debounce(refreshPayment); // try again once the field is left alone
    return fetchFragment(location.pathname).then(function (html) {
      if (typing()) return debounce(refreshPayment); // they started typing while the fragment was on its way
      var open = Array.prototype.map.call(paymentBox.querySelectorAll("details[open][id]"), function (d) { return d.id; });
      paymentBox.innerHTML = html;
      open.forEach(function (id) { var d = document.getElementById(id); if (d) d.open = true; });
    }).catch(function () {});
  }

  function onMessage(msg) {
    if (msg.type === "clock" && typeof msg.now === "number") {
      skew = msg.now * 1000 - Date.now();
      tick();
    }
    if (list && ["payment", "attempt", "notification", "event", "reset"].indexOf(msg.type) >= 0) {
      debounce(refreshList);
    }
    if (requestList && msg.type === "request") debounce(refreshRequests);
    if (paymentBox && (msg.payment_id === paymentBox.dataset.paymentId || msg.type === "reset")) {
      debounce(refreshPayment);
    }
  }

  // ----- the Requests page: the journal's new entries ("request" events) refetch its rows -----
  var requestList = document.querySelector("[data-live=requests]");
  function refreshRequests() {
    var body = document.getElementById("request-rows");
    var seen = {};
    body.querySelectorAll("tr[data-id]").forEach(function (tr) { seen[tr.dataset.id] = true; });
    return fetchFragment(location.href).then(function (html) {
      var tmp = document.createElement("table");
      tmp.innerHTML = html;
      var fresh = tmp.querySelector("tbody");
      if (!fresh) return;
      fresh.querySelectorAll("tr[data-id]").forEach(function (tr) { if (!seen[tr.dataset.id]) tr.classList.add("fresh"); });
      body.replaceWith(fresh);
      var total = document.getElementById("requests-total");
      if (total && fresh.dataset.totalText) total.textContent = fresh.dataset.totalText;
    }).catch(function () {});
  }

  if (window.EventSource && (list || paymentBox || nowEl)) {
    var source = new EventSource("/_sandbox/events");
    source.onopen = function () {
      if (status) status.classList.add("on");
      // catch up on whatever happened between rendering the page and (re)connecting the stream; "synced" says the
      // catch-up is in (tests and people may rely on the forms staying put from then on)
      var refresh = list ? refreshList : paymentBox ? refreshPayment : requestList ? refreshRequests : null;
      if (!refresh) { if (status) status.classList.add("synced"); return; }
      debounce(function () {
        Promise.resolve(refresh()).then(function () { if (status) status.classList.add("synced"); });
      });
    };
    source.onerror = function () { if (status) status.classList.remove("on", "synced"); };
    source.onmessage = function (e) {
      try { onMessage(JSON.parse(e.data)); } catch (err) { /* ignore a malformed message */ }
    };
  }

  // ----- copy buttons (navigator.clipboard where allowed, a hidden textarea otherwise) -----
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".copy-button");
    if (!button) return;
    var target = document.getElementById(button.dataset.copyTarget);
    if (!target) return;
    var text = target.textContent;
    function done() {
      button.textContent = "Copied";
      button.classList.add("copied");
      setTimeout(function () { button.textContent = "Copy"; button.classList.remove("copied"); }, 2000);
    }
    function fallback() {
      var area = document.createElement("textarea");
      area.value = text;
      area.style.position = "fixed"; area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
      done();
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  });
})();
