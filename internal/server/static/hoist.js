// Hoist's web UI script: the build page's live log over Server-Sent Events,
// logs kept scrolled to their end, the tab's title and icon showing the
// build's status, and relative times kept current. htmx does the rest
// (fetching the build's status when a stage starts or ends, filtering
// projects).
(function () {
  "use strict";

  function atEnd(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 48;
  }
  function toEnd(el) {
    if (el) el.scrollTop = el.scrollHeight;
  }

  // follow streams a running build's logs into their stage sections.
  function follow(logs) {
    var es = new EventSource(logs.dataset.events);
    logs.dataset.following = "1";
    es.addEventListener("log", function (e) {
      var d = JSON.parse(e.data);
      var pre = document.getElementById("log-" + d.stage);
      if (!pre) return;
      var details = pre.closest("details");
      if (details && !details.classList.contains("live")) {
        details.open = true;
        details.classList.add("live");
        stageEnded(); // this stage started: the status and timeline show it
      }
      var stick = atEnd(pre);
      pre.insertAdjacentHTML("beforeend", d.html);
      if (stick) toEnd(pre);
    });
    es.addEventListener("stage", function (e) {
      var d = JSON.parse(e.data);
      var details = document.getElementById("stage-" + d.stage);
      if (!details) return;
      details.classList.remove("live");
      var summary = details.querySelector("summary");
      if (summary && d.summary) summary.outerHTML = d.summary;
      if (d.status === "failed" || d.status === "cancelled") {
        details.open = true;
        toEnd(details.querySelector("pre.log"));
      }
      stageEnded();
    });
    es.addEventListener("done", function (e) {
      es.close();
      logs.dataset.done = JSON.parse(e.data).status || "done";
      stageEnded();
    });
  }

  // watchBuilds follows /events on the list pages: when a build is queued,
  // starts or ends, the parts marked data-live fetch themselves (htmx).
  function watchBuilds() {
    var es = new EventSource("/events");
    es.addEventListener("builds", function () {
      document.body.dispatchEvent(new CustomEvent("hoist-builds"));
    });
    window.addEventListener("pagehide", function () { es.close(); });
    window.addEventListener("pageshow", function (e) {
      if (e.persisted) watchBuilds(); // back from the back/forward cache
    }, { once: true });
  }

  // stageEnded tells the parts that listen (the build's results, through
  // htmx) that a stage ended, so they fetch themselves again.
  function stageEnded() {
    document.body.dispatchEvent(new CustomEvent("hoist-stage"));
  }

  // statusIcon is a tab icon for a build's status: a coloured disc.
  var statusColours = { queued: "#6e7781", running: "#0969da", succeeded: "#1a7f37", failed: "#cf222e", cancelled: "#6e7781", skipped: "#6e7781" };
  function statusIcon(status) {
    var c = statusColours[status];
    if (!c) return null;
    var svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="14" fill="' + c + '"/>' +
      (status === "succeeded" ? '<path d="M9 16.5l4.5 4.5L23 11" stroke="#fff" stroke-width="3.5" fill="none"/>' : "") +
      (status === "failed" ? '<path d="M10.5 10.5l11 11M21.5 10.5l-11 11" stroke="#fff" stroke-width="3.5"/>' : "") + "</svg>";
    return "data:image/svg+xml," + encodeURIComponent(svg);
  }
  // showStatus puts the build's status in the tab's title and icon.
  function showStatus() {
    var live = document.getElementById("build-live");
    if (!live) return;
    if (live.dataset.title) document.title = live.dataset.title;
    var icon = statusIcon(live.dataset.status), link = document.getElementById("favicon");
    if (icon && link) {
      link.href = icon;
      link.dataset.status = live.dataset.status;
    }
  }

  // ago mirrors the server's relative times.
  function ago(t) {
    var s = (Date.now() - t.getTime()) / 1000;
    if (s < 10) return "just now";
    if (s < 60) return Math.floor(s) + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 48 * 3600) return Math.floor(s / 3600) + " h ago";
    if (s < 60 * 86400) return Math.floor(s / 86400) + " days ago";
    return null;
  }
  function refreshTimes() {
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var text = ago(new Date(el.getAttribute("datetime")));
      if (text) el.textContent = text;
    });
  }

  // Forms with data-confirm ask first (Cancel); buttons with data-copy
  // copy their text (the docker pull command).
  function onSubmit(e) {
    var msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) e.preventDefault();
  }
  function onCopy(e) {
    var btn = e.target.closest("[data-copy]");
    if (!btn) return;
    var text = btn.dataset.copy, done = function () { btn.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { legacyCopy(text); done(); });
    } else {
      legacyCopy(text);
      done();
    }
  }
  function legacyCopy(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand("copy"); } catch (err) { /* nothing more to try */ }
    ta.remove();
  }

  // focusError puts the focus on the first field a rejected form marks, or
  // on its error message, so a keyboard or screen reader user is there.
  function focusError() {
    var el = document.querySelector("main [aria-invalid=true]") ||
      (!document.querySelector("main [autofocus]") && document.querySelector("main .form-error"));
    if (!el) return;
    if (!el.matches("input, select, textarea")) el.setAttribute("tabindex", "-1");
    el.focus();
  }

  function init() {
    focusError();
    document.addEventListener("submit", onSubmit);
    document.addEventListener("click", onCopy);
    document.querySelectorAll("details[open] pre.log, pre.tail").forEach(toEnd);
    var logs = document.querySelector(".logs[data-events]");
    if (logs) follow(logs);
    showStatus();
    document.body.addEventListener("htmx:afterSettle", showStatus);
    if (document.querySelector("[data-live]")) watchBuilds();
    setInterval(refreshTimes, 20000);
  }

  // A page restored from the back/forward cache has lost its stream.
  window.addEventListener("pageshow", function (e) {
    var logs = document.querySelector(".logs[data-events]");
    if (e.persisted && logs && !logs.dataset.done) location.reload();
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
