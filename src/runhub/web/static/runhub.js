// runhub web UI: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Filter selects submit their form on change.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.requestSubmit(); });
  });

  // Forms that ask before doing something destructive.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // Copy buttons (the new API token).
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.textContent = "Copied";
        });
      }
    });
  });

  // A running run refreshes its counts every few seconds (no full reload).
  var head = document.querySelector("[data-poll]");
  if (head) {
    var url = head.getAttribute("data-poll");
    var number = new Intl.NumberFormat("en-US");
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          var set = function (selector, value) {
            var el = head.querySelector(selector);
            if (el) { el.textContent = value; }
          };
          set("[data-run-total]", number.format(data.total_count));
          set("[data-run-threads]", String(data.thread_count));
          set("[data-run-active]", String(data.thread_active_count));
          head.querySelectorAll("[data-status-count]").forEach(function (el) {
            el.textContent = number.format(data.counts[el.getAttribute("data-status-count")] || 0);
          });
          head.querySelectorAll("[data-bar-status]").forEach(function (el) {
            var count = data.counts[el.getAttribute("data-bar-status")] || 0;
            el.style.width = data.total_count ? (count * 100 / data.total_count) + "%" : "0";
          });
          if (data.is_completed) {
            window.location.reload();
          } else {
            window.setTimeout(poll, 5000);
          }
        })
        .catch(function () { window.setTimeout(poll, 15000); });
    };
    window.setTimeout(poll, 5000);
  }
})();
