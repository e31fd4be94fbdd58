// The live log: lines of the function's log group, appended as the server sends them (server-sent events).
"use strict";
(function () {
  const log = document.getElementById("live-log");
  if (!log) return;
  function open() {
    const source = new EventSource(log.dataset.stream);
    source.onmessage = function (event) {
      log.append(JSON.parse(event.data) + "\n");
      log.scrollTop = log.scrollHeight;
    };
    source.onerror = function () {
      source.close();
      setTimeout(open, 2000); // the stream ends after a while, or the server restarted: open another
    };
  }
  open();
})();
