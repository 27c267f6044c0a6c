// Plinth Studio, runs pages: metric charts (uPlot) fed by the REST API, the live log of a
// running run, the run's status while it runs, and picking runs to compare.
(function () {
  "use strict";

  var PALETTE = ["#0b5cad", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4",
    "#fb8c00", "#57606a", "#116329", "#cf222e", "#6639ba", "#953800", "#1f6feb", "#2da44e",
    "#bc4c00", "#a475f9", "#e16f24", "#3192aa", "#4d2d00"];
  var TERMINAL = {Completed: true, Failed: true, Canceled: true};
  var CHART_HEIGHT = 240;

  // The REST API's JSON may hold NaN and infinities (metrics can), which JSON.parse refuses:
  // those become null (a gap in a chart). Otherwise as plinthStudio.api: cookie and header.
  function getJSON(path) {
    return fetch(path, {credentials: "same-origin",
                        headers: {"X-Plinth-Studio": "1", "Accept": "application/json"}})
      .then(function (r) {
        return r.text().then(function (text) {
          if (!r.ok) { throw new Error(r.status + " " + text); }
          return parseJSON(text);
        });
      });
  }

  function parseJSON(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return JSON.parse(text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, function (m) {
        return m.charAt(0) === "\"" ? m : "null";
      }));
    }
  }

  var cache = {};
  function points(api) {
    if (!cache[api]) { cache[api] = getJSON(api); }
    return cache[api];
  }

  // A metric's numeric points as [xs, ys], ordered by x: its step (the API gives each point's
  // position as its step when it was logged without one).
  function series(all, name) {
    var pairs = [];
    all.forEach(function (p, i) {
      if (p[0] === name && p[2] === "scalar" && typeof p[1] === "number") {
        pairs.push([p[3] === null || p[3] === undefined ? i : p[3], p[1]]);
      }
    });
    pairs.sort(function (a, b) { return a[0] - b[0]; });
    return [pairs.map(function (p) { return p[0]; }), pairs.map(function (p) { return p[1]; })];
  }

  // Several [xs, ys] on one x axis (the union of their xs), gaps as null.
  function align(list) {
    var xs = {};
    list.forEach(function (s) { s[0].forEach(function (x) { xs[x] = true; }); });
    var union = Object.keys(xs).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    union.forEach(function (x, i) { index[x] = i; });
    var data = [union];
    list.forEach(function (s) {
      var ys = union.map(function () { return null; });
      s[0].forEach(function (x, i) { ys[index[x]] = s[1][i]; });
      data.push(ys);
    });
    return data;
  }

  function width(el) { return Math.max(260, el.clientWidth - 8); }

  function draw(el, data, labels) {
    el.textContent = "";
    if (typeof uPlot === "undefined") { return message(el, "The chart library did not load."); }
    if (!data[0].length) { return message(el, "No numeric points."); }
    var opts = {
      width: width(el), height: CHART_HEIGHT,
      scales: {x: {time: false}},
      axes: [{label: "step"}, {size: 60}],
      cursor: {focus: {prox: 16}},
      series: [{label: "step"}].concat(labels.map(function (label, i) {
        return {label: label, stroke: PALETTE[i % PALETTE.length], width: 1.5,
                spanGaps: true, points: {show: data[0].length < 60}};
      }))
    };
    el._plot = new uPlot(opts, data, el);
    el.dataset.drawn = "1";
  }

  // Runs with one value each: a bar per run (a line of single points says little).
  function bars(el, values, labels) {
    el.textContent = "";
    var top = 0;
    values.forEach(function (v) { if (v !== null && isFinite(v)) { top = Math.max(top, Math.abs(v)); } });
    var list = document.createElement("ul");
    list.className = "bars";
    values.forEach(function (v, i) {
      var item = document.createElement("li");
      var label = document.createElement("span");
      label.className = "bar-label";
      label.textContent = labels[i];
      var track = document.createElement("span");
      track.className = "bar-track";
      var bar = document.createElement("span");
      bar.className = "bar";
      bar.style.background = PALETTE[i % PALETTE.length];
      bar.style.width = (v === null || !isFinite(v) || !top ? 0 : 100 * Math.abs(v) / top) + "%";
      track.appendChild(bar);
      var value = document.createElement("span");
      value.className = "bar-value";
      value.textContent = v === null ? "—" : String(Number(v.toPrecision(6)));
      item.appendChild(label);
      item.appendChild(track);
      item.appendChild(value);
      list.appendChild(item);
    });
    el.appendChild(list);
    el.dataset.drawn = "1";
  }

  function message(el, text) {
    var p = document.createElement("p");
    p.className = "chart-message";
    p.textContent = text;
    el.textContent = "";
    el.appendChild(p);
    el.dataset.drawn = "0";
    el.dataset.error = text;
  }

  // A run's metrics tab: one request for the run's (downsampled) points, a chart per metric.
  function runCharts(box) {
    var charts = box.querySelectorAll(".chart[data-metric]");
    points(box.dataset.api).then(function (all) {
      charts.forEach(function (el) {
        var name = el.dataset.metric;
        draw(el, series(all, name), [name]);
      });
    }).catch(function (err) {
      charts.forEach(function (el) { message(el, "Could not load the metrics: " + err.message); });
    });
  }

  // The compare page: each run's points once, then every metric overlaid.
  function compareCharts(box) {
    var runs = JSON.parse(box.dataset.series || "[]");
    var charts = box.querySelectorAll(".chart[data-metric]");
    Promise.all(runs.map(function (run) {
      return points(run.api).catch(function () { return []; });
    })).then(function (perRun) {
      var labels = runs.map(function (run) { return run.label; });
      charts.forEach(function (el) {
        var name = el.dataset.metric;
        var list = perRun.map(function (all) { return series(all, name); });
        if (list.every(function (s) { return s[0].length <= 1; })) {
          bars(el, list.map(function (s) { return s[1].length ? s[1][0] : null; }), labels);
        } else {
          draw(el, align(list), labels);
        }
      });
    });
    document.querySelectorAll(".swatch[data-series]").forEach(function (s) {
      s.style.background = PALETTE[Number(s.dataset.series) % PALETTE.length];
    });
  }

  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      document.querySelectorAll(".chart").forEach(function (el) {
        if (el._plot) { el._plot.setSize({width: width(el), height: CHART_HEIGHT}); }
      });
    }, 150);
  });

  // -- the run's status and log while it runs ---------------------------------------------

  function showStatus(status) {
    var holder = document.getElementById("run-status");
    if (!holder) { return; }
    var badge = holder.querySelector(".badge");
    if (badge && badge.textContent !== status) {
      badge.className = "badge status-" + status;
      badge.textContent = status;
    }
  }

  // Append what the log gained since data-offset every 2 s (the artifacts route reads from an
  // offset) until the run ends; then once more, and stop.
  function followLog(pre) {
    var offset = Number(pre.dataset.offset) || 0;
    var decoder = new TextDecoder();
    var state = document.getElementById("log-state");
    function more() {
      return fetch(pre.dataset.src + "?offset=" + offset, {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.arrayBuffer() : null; })
        .then(function (buffer) {
          if (!buffer || !buffer.byteLength) { return; }
          var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
          offset += buffer.byteLength;
          pre.dataset.offset = String(offset);
          pre.appendChild(document.createTextNode(decoder.decode(buffer, {stream: true})));
          if (atEnd) { pre.scrollTop = pre.scrollHeight; }
        })
        .catch(function () { /* the next tick tries again */ });
    }
    function tick() {
      more().then(function () { return getJSON(pre.dataset.runApi); }).then(function (run) {
        showStatus(run.status);
        if (TERMINAL[run.status]) {
          return more().then(function () {
            pre.dataset.live = "0";
            if (state) { state.textContent = "The run ended: " + run.status + "."; }
          });
        }
        setTimeout(tick, 2000);
      }).catch(function () { setTimeout(tick, 5000); });
    }
    pre.scrollTop = pre.scrollHeight;
    setTimeout(tick, 2000);
  }

  // Other tabs of a running run keep its status badge current.
  function followStatus(head) {
    function tick() {
      getJSON(head.dataset.runApi).then(function (run) {
        showStatus(run.status);
        if (TERMINAL[run.status]) { head.dataset.live = "0"; return; }
        setTimeout(tick, 5000);
      }).catch(function () { setTimeout(tick, 10000); });
    }
    setTimeout(tick, 5000);
  }

  // -- picking runs to compare --------------------------------------------------------------

  function compareForm(form) {
    var min = Number(form.dataset.min), max = Number(form.dataset.max);
    var button = form.querySelector("button");
    var count = document.getElementById("compare-count");
    function picked() {
      return Array.prototype.filter.call(
        document.querySelectorAll("input[name='runs'][form='" + form.id + "']"),
        function (box) { return box.checked; }).map(function (box) { return box.value; });
    }
    function update() {
      var n = picked().length;
      var ok = n >= min && n <= max;
      button.setAttribute("aria-disabled", ok ? "false" : "true");
      count.textContent = n + " selected" + (n < min ? ": pick at least " + min
        : n > max ? ": pick at most " + max : "");
      return ok;
    }
    document.addEventListener("change", function (e) {
      if (e.target && e.target.name === "runs") { update(); }
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!update()) { return; }
      location.href = form.action + "?runs=" + picked().map(encodeURIComponent).join(",");
    });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("metric-charts");
    if (box) { runCharts(box); }
    var compare = document.getElementById("compare-charts");
    if (compare) { compareCharts(compare); }
    var log = document.getElementById("log");
    if (log && log.dataset.live === "1") {
      followLog(log);
    } else {
      var head = document.getElementById("run-head");
      if (head && head.dataset.live === "1" && !document.getElementById("pipeline-graph-box")) {
        followStatus(head);
      }
    }
    var form = document.getElementById("compare-form");
    if (form) { compareForm(form); }
  });
})();
