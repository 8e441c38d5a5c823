// The study page: start a session, show each trial, send one vote per trial (buttons or arrow keys).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { participant: null, trial: null, shownAt: 0, busy: false };

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = false;
  }

  async function api(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
    return data;
  }

  function loaded(img, src) {
    return new Promise((resolve, reject) => {
      img.onload = () => resolve();
      img.onerror = () => reject(new Error("could not load " + src));
      img.src = src;
    });
  }

  function setButtons(enabled) {
    $("vote-left").disabled = !enabled;
    $("vote-right").disabled = !enabled;
  }

  async function next() {
    setButtons(false);
    const trial = await api("/api/next", { participant: state.participant });
    if (trial.done) {
      $("trial").hidden = true;
      $("done").hidden = false;
      $("participant-code").textContent = state.participant;
      sessionStorage.removeItem("iqa-study-participant");
      document.body.setAttribute("data-state", "done");
      return;
    }
    state.trial = trial;
    $("progress").textContent = "Question " + (trial.position + 1) + " of " + trial.total;
    await Promise.all([
      loaded($("img-reference"), trial.reference),
      loaded($("img-left"), trial.left),
      loaded($("img-right"), trial.right),
    ]);
    state.shownAt = performance.now();
    document.body.setAttribute("data-position", String(trial.position));
    document.body.setAttribute("data-state", "trial");
    setButtons(true);
  }

  async function vote(choice) {
    if (state.busy || !state.trial || $("vote-left").disabled) return;
    state.busy = true;
    setButtons(false);
    try {
      await api("/api/votes", {
        participant: state.participant,
        position: state.trial.position,
        choice: choice,
        ms: Math.round(performance.now() - state.shownAt),
      });
      await next();
    } catch (error) {
      showError(error.message);
    } finally {
      state.busy = false;
    }
  }

  async function start() {
    $("start").disabled = true;
    try {
      const resumed = sessionStorage.getItem("iqa-study-participant");
      if (resumed) {
        state.participant = resumed;
      } else {
        const created = await api("/api/participants", { user_agent: navigator.userAgent });
        state.participant = created.participant;
        sessionStorage.setItem("iqa-study-participant", state.participant);
      }
      $("intro").hidden = true;
      $("trial").hidden = false;
      await next();
    } catch (error) {
      sessionStorage.removeItem("iqa-study-participant");
      showError(error.message);
      $("start").disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("start").addEventListener("click", start);
    $("vote-left").addEventListener("click", () => vote("left"));
    $("vote-right").addEventListener("click", () => vote("right"));
    document.addEventListener("keydown", (event) => {
      if (event.key === "ArrowLeft") { event.preventDefault(); vote("left"); }
      if (event.key === "ArrowRight") { event.preventDefault(); vote("right"); }
    });
    document.body.setAttribute("data-ready", "1");
  });
})();
