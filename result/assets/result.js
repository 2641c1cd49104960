// Live updates: the server pushes the tally as server-sent events whenever
// it changes; EventSource reconnects by itself if the connection drops.
(function () {
  "use strict";
  var live = document.getElementById("live");
  function percent(n) { return Math.round(n) + "%"; }
  function show(t) {
    document.getElementById("percent-a").textContent = percent(t.percent_a);
    document.getElementById("percent-b").textContent = percent(t.percent_b);
    document.getElementById("total").textContent =
      t.total === 0 ? "No votes yet" : t.total === 1 ? "1 vote" : t.total + " votes";
  }
  var events = new EventSource("/events");
  events.addEventListener("tally", function (e) {
    show(JSON.parse(e.data));
    live.dataset.state = "live";
    live.textContent = "live";
  });
  events.onerror = function () {
    live.dataset.state = "down";
    live.textContent = "live updates interrupted, reconnecting...";
  };
})();
