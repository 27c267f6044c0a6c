// Plinth Studio: the asset pages (models, datasets, ..., endpoints).
(function () {
  "use strict";

  // A search box filters the rows of the table it names (data-filter-table="<table id>").
  function filters(root) {
    root.querySelectorAll("input[data-filter-table]").forEach(function (input) {
      var table = document.getElementById(input.getAttribute("data-filter-table"));
      if (!table) { return; }
      input.addEventListener("input", function () {
        var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
        table.querySelectorAll("tbody tr").forEach(function (row) {
          var text = row.textContent.toLowerCase();
          row.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
        });
      });
    });
  }

  function copyText(text, button) {
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1200);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "absolute";
      area.style.left = "-9999px";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } finally { area.remove(); }
    }
  }

  function buttons(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        copyText(button.getAttribute("data-copy"), button);
      });
    });
    root.querySelectorAll("button[data-copy-from]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-copy-from"));
        if (field) { copyText(field.value, button); }
      });
    });
    root.querySelectorAll("button[data-reveal]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-reveal"));
        if (!field) { return; }
        var shown = field.type === "text";
        field.type = shown ? "password" : "text";
        button.textContent = shown ? "Show" : "Hide";
        button.setAttribute("aria-pressed", shown ? "false" : "true");
      });
    });
  }

  // The endpoint test console: Ctrl+Enter sends, "Format JSON" pretty-prints the request,
  // and an error answer of the Studio itself (signed out, not allowed) is shown, not lost.
  function testConsole() {
    var form = document.getElementById("test-console");
    if (!form) { return; }
    var input = document.getElementById("test-input");
    var output = document.getElementById("test-output");
    var format = document.getElementById("test-format");

    function show(text, isError) {
      output.textContent = "";
      var span = document.createElement("span");
      span.className = "test-status" + (isError ? " error" : "");
      span.setAttribute("data-status", "error");
      span.textContent = text;
      output.appendChild(span);
    }

    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      }
    });
    if (format) {
      format.addEventListener("click", function () {
        try {
          input.value = JSON.stringify(JSON.parse(input.value), null, 2);
        } catch (err) {
          show("The request is not valid JSON: " + err.message, true);
        }
      });
    }
    form.addEventListener("htmx:beforeRequest", function () {
      output.setAttribute("aria-busy", "true");
      output.textContent = "Sending\u2026";
    });
    form.addEventListener("htmx:afterRequest", function () {
      output.removeAttribute("aria-busy");
    });
    form.addEventListener("htmx:responseError", function (e) {
      var xhr = e.detail.xhr;
      var message = xhr.responseText;
      try { message = JSON.parse(xhr.responseText).error.message; } catch (err) { /* text */ }
      show("The Studio refused the request (HTTP " + xhr.status + "): " + message, true);
    });
    form.addEventListener("htmx:sendError", function () {
      show("The Studio could not be reached.", true);
    });
    // Without htmx (its file failed to load), send the form with fetch.
    form.addEventListener("submit", function (e) {
      if (window.htmx) { return; }
      e.preventDefault();
      output.textContent = "Sending\u2026";
      fetch(form.getAttribute("action"), {
        method: "POST",
        credentials: "same-origin",
        headers: {"X-Plinth-Studio": "1",
                  "Content-Type": "application/x-www-form-urlencoded"},
        body: new URLSearchParams({input: input.value}).toString()
      }).then(function (r) {
        return r.text().then(function (t) {
          if (!r.ok) { throw new Error("HTTP " + r.status + ": " + t); }
          output.innerHTML = t;
          if (window.plinthStudio) { window.plinthStudio.localTimes(output); }
        });
      }).catch(function (err) { show(String(err.message || err), true); });
    });
  }

  // A fragment loaded into the page (the dataset profile) says why when it cannot load.
  function fragments(root) {
    root.querySelectorAll("[hx-get][hx-trigger='load']").forEach(function (box) {
      box.addEventListener("htmx:responseError", function (e) {
        var xhr = e.detail.xhr;
        var message = xhr.responseText;
        try { message = JSON.parse(xhr.responseText).error.message; } catch (err) { /* text */ }
        box.textContent = "";
        var p = document.createElement("p");
        p.className = "error";
        p.setAttribute("role", "alert");
        p.textContent = "Could not load this part (HTTP " + xhr.status + "): " + message;
        box.appendChild(p);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    fragments(document);
    filters(document);
    buttons(document);
    testConsole();
  });
})();
