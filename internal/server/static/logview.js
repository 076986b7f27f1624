// Hoist's log viewer on a build's page: links to a line or a range of lines
// (#build-L12, #test-L3-L9) that highlight them, a "copy link" button,
// search with next/previous and a count, per-line timestamps, and "load
// earlier lines" of a log whose beginning is not shown. The lines are
// rendered by the server (web_logview.go): <span id="STAGE-LN" data-t="MS">
// <a href="#STAGE-LN">N</a>TEXT</span>.
(function () {
  "use strict";

  var logs, copyBtn, anchorLine = null;
  // q is the text the matches are of; stale says lines came since.
  var search = { input: null, count: null, matches: [], cur: -1, timer: 0, q: "", stale: false };

  function lines(root) {
    return (root || logs).querySelectorAll("pre.log > span[id]");
  }
  function openStage(el) {
    var d = el.closest("details");
    if (d && !d.open) d.open = true;
  }
  function lineText(el) {
    var a = el.firstElementChild;
    return el.textContent.slice(a ? a.textContent.length : 0);
  }

  // --- Anchors: #STAGE-LN and #STAGE-LA-LB.
  function parseHash(h) {
    var m = /^#([a-z]+)-L(\d+)(?:-L(\d+))?$/.exec(h || "");
    if (!m) return null;
    var a = +m[2], b = m[3] ? +m[3] : a;
    if (b < a) { var t = a; a = b; b = t; }
    return { stage: m[1], from: a, to: b };
  }
  function highlight(scroll) {
    logs.querySelectorAll("pre.log > span.hl").forEach(function (el) { el.classList.remove("hl"); });
    var r = parseHash(location.hash);
    if (!r) { copyBtn.hidden = true; return; }
    var first = null;
    // Walk the lines shown, not the range: a link may name a billion.
    var prefix = r.stage + "-L";
    logs.querySelectorAll('pre.log > span[id^="' + prefix + '"]').forEach(function (el) {
      var n = +el.id.slice(prefix.length);
      if (n < r.from || n > r.to) return;
      el.classList.add("hl");
      if (!first) first = el;
    });
    if (!first) { copyBtn.hidden = true; return; }
    openStage(first);
    first.appendChild(copyBtn);
    copyBtn.hidden = false;
    copyBtn.textContent = "Copy link";
    if (scroll) first.scrollIntoView({ block: "center" });
  }
  function onLineClick(e) {
    var a = e.target.closest("pre.log > span[id] > a:first-child");
    if (!a) return;
    e.preventDefault();
    var id = a.parentNode.id, hash = "#" + id;
    var r = parseHash(hash), prev = anchorLine && parseHash("#" + anchorLine);
    if (e.shiftKey && prev && prev.stage === r.stage && prev.from !== r.from) {
      hash = "#" + r.stage + "-L" + Math.min(prev.from, r.from) + "-L" + Math.max(prev.from, r.from);
    } else {
      anchorLine = id;
    }
    history.replaceState(null, "", hash);
    highlight(false);
  }
  function copyLink(e) {
    e.preventDefault();
    e.stopPropagation();
    var url = location.href;
    var done = function () { copyBtn.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(done, function () { fallbackCopy(url); done(); });
    } else {
      fallbackCopy(url);
      done();
    }
  }
  function fallbackCopy(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand("copy"); } catch (err) { /* nothing more to try */ }
    ta.remove();
  }

  // --- Search: the lines loaded on the page that contain the text.
  function runSearch() {
    search.matches.forEach(function (el) { el.classList.remove("match", "match-cur"); });
    search.matches = [];
    search.cur = -1;
    var q = search.input.value.toLowerCase();
    search.q = search.input.value;
    search.stale = false;
    if (!q) { search.count.textContent = ""; return; }
    lines().forEach(function (el) {
      if (lineText(el).toLowerCase().indexOf(q) >= 0) {
        el.classList.add("match");
        search.matches.push(el);
      }
    });
    if (search.matches.length) step(1);
    else search.count.textContent = "no match";
  }
  function step(dir) {
    var m = search.matches;
    if (!m.length) return;
    if (search.cur >= 0) m[search.cur].classList.remove("match-cur");
    search.cur = (search.cur + dir + m.length) % m.length;
    var el = m[search.cur];
    el.classList.add("match-cur");
    openStage(el);
    el.scrollIntoView({ block: "center" });
    search.count.textContent = (search.cur + 1) + " of " + m.length;
  }
  function onSearchKey(e) {
    if (e.key !== "Enter") return;
    e.preventDefault();
    clearTimeout(search.timer);
    if (search.stale || search.q !== search.input.value) { runSearch(); return; }
    step(e.shiftKey ? -1 : 1);
  }

  // --- Timestamps: when each line was stored, in local time.
  function pad(n, w) { n = String(n); while (n.length < (w || 2)) n = "0" + n; return n; }
  // A line without data-t was stored with the line before it.
  function stamp(el) {
    if (el.dataset.ts) return;
    var t = el.dataset.t, p = el;
    while (!t && (p = p.previousElementSibling)) t = p.dataset.t || p.dataset.rt;
    if (!t) return;
    el.dataset.rt = t;
    var d = new Date(+t);
    el.dataset.ts = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }
  function setTimes(on) {
    logs.classList.toggle("times", on);
    if (on) lines().forEach(stamp);
    try { localStorage.setItem("hoist-log-times", on ? "1" : ""); } catch (err) { /* private mode */ }
  }

  // --- Load earlier lines of a log whose beginning is not shown.
  function loadEarlier(e) {
    var a = e.target.closest("a.load-earlier");
    if (!a) return;
    e.preventDefault();
    var pre = a.closest(".log-wrap").querySelector("pre.log");
    a.setAttribute("aria-busy", "true");
    fetch(a.href, { headers: { "X-Requested-With": "hoist" } }).then(function (res) {
      if (!res.ok) throw new Error(res.status + " " + res.statusText);
      return res.text().then(function (html) {
        pre.insertAdjacentHTML("afterbegin", html);
        var start = res.headers.get("X-Log-Start"), first = res.headers.get("X-Log-First");
        var p = a.closest("p.cut");
        if (start === "0") {
          p.remove();
        } else {
          a.href = a.href.replace(/before=\d+/, "before=" + start).replace(/line=\d+/, "line=" + first);
          p.firstChild.textContent = "Shown from line " + first + " on. ";
          a.removeAttribute("aria-busy");
        }
        if (logs.classList.contains("times")) lines(pre).forEach(stamp);
        highlight(false);
      });
    }).catch(function (err) {
      a.removeAttribute("aria-busy");
      a.textContent = "Loading failed (" + err.message + "); try again";
    });
  }

  function init() {
    logs = document.getElementById("logs");
    if (!logs) return;
    copyBtn = document.createElement("button");
    copyBtn.type = "button";
    copyBtn.className = "copy-link";
    copyBtn.hidden = true;
    copyBtn.addEventListener("click", copyLink);
    logs.addEventListener("click", onLineClick);
    logs.addEventListener("click", loadEarlier);
    window.addEventListener("hashchange", function () { highlight(true); });
    highlight(true);

    search.input = document.getElementById("log-search");
    search.count = document.getElementById("log-count");
    search.input.addEventListener("input", function () {
      clearTimeout(search.timer);
      search.timer = setTimeout(runSearch, 200);
    });
    search.input.addEventListener("keydown", onSearchKey);
    document.getElementById("log-next").addEventListener("click", function () {
      if (search.stale || search.q !== search.input.value) runSearch();
      else step(1);
    });
    document.getElementById("log-prev").addEventListener("click", function () { step(-1); });

    var times = document.getElementById("log-times");
    var saved = "";
    try { saved = localStorage.getItem("hoist-log-times") || ""; } catch (err) { /* private mode */ }
    times.checked = saved === "1";
    if (times.checked) setTimes(true);
    times.addEventListener("change", function () { setTimes(times.checked); });

    // Lines that stream in get their timestamps and count for the next search.
    new MutationObserver(function (muts) {
      var times = logs.classList.contains("times");
      muts.forEach(function (m) {
        if (!m.target.matches || !m.target.matches("pre.log")) return;
        if (search.input.value) search.stale = true;
        if (times) m.addedNodes.forEach(function (n) { if (n.nodeType === 1 && n.id) stamp(n); });
      });
    }).observe(logs, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
