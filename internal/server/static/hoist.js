// Hoist's web UI script: the build page's live log over Server-Sent Events,
// logs kept scrolled to their end, and relative times kept current.
// htmx does the rest (polling the build's status, filtering projects).
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

  // stageEnded tells the parts that listen (the build's results, through
  // htmx) that a stage ended, so they fetch themselves again.
  function stageEnded() {
    document.body.dispatchEvent(new CustomEvent("hoist-stage"));
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

  function init() {
    document.querySelectorAll("details[open] pre.log, pre.tail").forEach(toEnd);
    var logs = document.querySelector(".logs[data-events]");
    if (logs) follow(logs);
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
