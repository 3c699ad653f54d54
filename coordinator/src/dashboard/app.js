// Live updates for the EdgeCoder dashboard. The server sends a `change` event when something
// may have changed; the page is fetched again and each element marked `data-live` is swapped
// for its new version. Forms are never replaced, so nothing an operator is typing is lost.
"use strict";

(function () {
  const badge = document.getElementById("live");
  if (!badge || typeof EventSource === "undefined") {
    return;
  }
  let refreshing = false;
  let again = false;

  function show(state, text) {
    badge.textContent = text;
    badge.dataset.state = state;
  }

  async function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin", redirect: "manual" });
      if (response.type === "opaqueredirect" || response.status === 401) {
        window.location.assign("/dashboard/login");
        return;
      }
      if (!response.ok) {
        show("error", "update failed (" + response.status + ")");
        return;
      }
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      document.querySelectorAll("[data-live][id]").forEach(function (old) {
        const next = fresh.getElementById(old.id);
        if (next) {
          old.replaceWith(document.importNode(next, true));
        }
      });
      show("live", "live · " + new Date().toLocaleTimeString());
    } catch (error) {
      show("error", "update failed");
    } finally {
      refreshing = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  const events = new EventSource("/dashboard/events");
  events.addEventListener("open", function () { show("live", "live"); });
  events.addEventListener("change", refresh);
  events.addEventListener("logout", function () {
    events.close();
    window.location.assign("/dashboard/login");
  });
  events.addEventListener("error", function () { show("error", "reconnecting"); });
})();
