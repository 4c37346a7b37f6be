// pvd explorer: live chain heads over server-sent events (/events). When a head moves,
// pages marked data-live reload their main section in place (no full reload, no libraries).
(function () {
  "use strict";
  var heads = document.getElementById("heads");
  var banner = document.getElementById("banner");
  var main = document.getElementById("main");
  var last = null;
  var busy = false;
  var again = false;

  function text(tag, cls, value) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    el.textContent = value;
    return el;
  }

  function showHeads(chains) {
    heads.textContent = "";
    banner.textContent = "";
    var down = 0;
    chains.forEach(function (c) {
      var span = text("span", "head" + (c.error ? " down" : ""), c.chain + " ");
      span.setAttribute("data-chain", c.chain);
      span.appendChild(text("b", "block", "#" + (c.block === null ? "?" : c.block)));
      span.appendChild(text("small", "time", c.time));
      if (last !== null && !c.error) span.classList.add("tick");
      heads.appendChild(span);
      if (c.error) {
        down += 1;
        banner.appendChild(text("p", "", "The " + c.chain + " chain is unreachable: " + c.error +
          ". Showing what was read before; the page recovers by itself when it is back."));
      }
    });
    banner.hidden = down === 0;
  }

  function reloadMain() {
    if (!main || main.getAttribute("data-live") !== "1") return;
    if (busy) { again = true; return; }
    busy = true;
    var url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    fetch(url.toString(), { headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) main.innerHTML = html; })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; reloadMain(); }
      });
  }

  var source = new EventSource("/events");
  source.addEventListener("heads", function (event) {
    var data = JSON.parse(event.data);
    var key = JSON.stringify(data.chains.map(function (c) { return [c.block, c.error]; }));
    showHeads(data.chains);
    if (last !== null && key !== last) reloadMain();
    last = key;
    document.body.setAttribute("data-heads", key);
  });
  source.onerror = function () {
    banner.hidden = false;
    banner.textContent = "";
    banner.appendChild(text("p", "", "The explorer server is unreachable; retrying."));
  };
})();
