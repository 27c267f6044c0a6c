// Plinth Studio: what every page shares. Page-specific code lives in its own file.
(function () {
  "use strict";
  // Times are rendered in UTC by the server; show them in the viewer's time zone.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) {
        el.title = el.textContent;
        el.textContent = when.toLocaleString();
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSwap", function (e) { localTimes(e.target); });
  // Requests from Studio pages that change something carry the header the server asks for
  // along with the sign-in cookie.
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-Plinth-Studio"] = "1";
  });
  window.plinthStudio = {
    localTimes: localTimes,
    // fetch() of the REST API with the sign-in cookie and the Studio header.
    api: function (path, options) {
      options = options || {};
      options.headers = Object.assign({"X-Plinth-Studio": "1"}, options.headers || {});
      options.credentials = "same-origin";
      return fetch(path, options).then(function (r) {
        if (!r.ok) { return r.text().then(function (t) { throw new Error(r.status + " " + t); }); }
        return r.json();
      });
    }
  };
})();
