// The operations console: refreshes the system's figures and an import's progress in place.
// Every page works without this file (a Refresh link, a page that reloads itself).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A region with data-refresh: fetch that URL every data-refresh-seconds and swap it in.
  for (const region of document.querySelectorAll("[data-refresh]")) {
    const seconds = Number(region.dataset.refreshSeconds || "5");
    const refresh = async () => {
      try {
        const answer = await fetch(region.dataset.refresh, {
          credentials: "same-origin",
          headers: { "Accept": "text/html" },
        });
        if (answer.redirected || answer.status === 403) {
          // Signed out, or no longer an administrator: the page itself says what to do.
          window.location.reload();
          return;
        }
        if (answer.ok) {
          region.innerHTML = await answer.text();
        }
      } catch (error) {
        // The next round tries again; the figures on the page stay as they were.
      }
      window.setTimeout(refresh, seconds * 1000);
    };
    window.setTimeout(refresh, seconds * 1000);
  }

  // An import in progress: poll its status (JSON) and move the progress bar until done.
  const job = document.querySelector("[data-import-status]");
  if (job) {
    const bar = job.querySelector("progress");
    const text = job.querySelector("[data-import-text]");
    const poll = async () => {
      let done = false;
      try {
        const answer = await fetch(job.dataset.importStatus, { credentials: "same-origin" });
        if (answer.redirected || !answer.ok) {
          window.location.reload();  // signed out, or the job is gone: the page says so
          return;
        }
        const status = await answer.json();
        bar.max = Math.max(status.total, 1);
        bar.value = status.sent;
        text.textContent = status.message;
        done = status.done;
      } catch (error) {
        // Try again on the next round.
      }
      if (done) {
        window.location.reload();
      } else {
        window.setTimeout(poll, 500);
      }
    };
    window.setTimeout(poll, 500);
  }
});
