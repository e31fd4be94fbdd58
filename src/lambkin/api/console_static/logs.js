// The live log: lines of the function's log group, appended as the server sends them (server-sent events).
// A stream starts where the last one ended (api/console_live_log.py): the browser sends the last event's id
// when it reconnects by itself; a stream it gave up on (an error answer) is opened again from that id.
"use strict";
(function () {
  const log = document.getElementById("live-log");
  if (!log) return;
  const base = log.dataset.stream.split("?")[0];
  let from = log.dataset.stream; // the first stream starts at the page's rendering
  function open() {
    const source = new EventSource(from);
    source.onmessage = function (event) {
      log.append(JSON.parse(event.data) + "\n");
      log.scrollTop = log.scrollHeight;
      if (event.lastEventId) from = base + "?after=" + encodeURIComponent(event.lastEventId);
    };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) setTimeout(open, 2000);
    };
  }
  open();
})();
