// Lumina Mural phone page: sends a few fixed JSON messages over /ws, nothing else.
(() => {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const cfg = JSON.parse($("#config").textContent);
  const params = new URLSearchParams(location.search);
  const token = params.get("k") || "";
  const resumeKey = `mural-resume-${location.host}`;
  const MIN_GAP = 300; // ms between messages: under the server's 4 per second
  const STOP = {
    expired: "this link has expired — scan the code on the wall again",
    blocked: "this phone can no longer join the mural",
    replaced: "the mural is open in another tab",
    closed: "disconnected",
  };

  const status = $("#status");
  const intensity = $("#intensity");
  const intensityOut = $("#intensity-out");
  const wall = $("#wall");
  const spot = $("#spot");
  const whereOut = $("#where-out");
  const nmInput = $("#colour_nm");
  const nmOut = $("#nm-out");
  const nmSwatch = $("#nm-swatch");
  const you = $("#you");

  const mine = { emotion: null, x: null, y: null, nm: null, pattern: null };
  const pending = { emotion: null, personal: null };
  let ws = null;
  let lastSent = 0;
  let flushTimer = 0;
  let backoff = 1000;
  let retryTimer = 0;
  let stopped = false;
  let asleep = false;
  let lastState = null;
  let everConnected = false;

  function setStatus(text, state) {
    status.textContent = text;
    status.dataset.state = state;
  }

  function colourOf(nm) {
    const i = Math.round((nm - cfg.from_nm) / cfg.step_nm);
    return cfg.spectrum[Math.max(0, Math.min(cfg.spectrum.length - 1, i))];
  }

  // -- sending: at most one message per MIN_GAP, newest state wins --------------------------
  function queue(kind, message) {
    pending[kind] = message;
    if (asleep) wake();
    flush();
  }

  function flush() {
    if (flushTimer || !ws || ws.readyState !== WebSocket.OPEN) return;
    const wait = lastSent + MIN_GAP - Date.now();
    if (wait > 0) {
      flushTimer = setTimeout(() => { flushTimer = 0; flush(); }, wait);
      return;
    }
    const kind = pending.emotion ? "emotion" : pending.personal ? "personal" : null;
    if (!kind) return;
    ws.send(JSON.stringify(pending[kind]));
    pending[kind] = null;
    lastSent = Date.now();
    if (pending.emotion || pending.personal) flush();
  }

  function sendEmotion() {
    if (!mine.emotion) return;
    const msg = { emotion: mine.emotion, intensity: Number(intensity.value) / 100 };
    if (mine.x !== null) { msg.x = mine.x; msg.y = mine.y; }
    queue("emotion", msg);
  }

  function sendPersonal(msg) {
    queue("personal", Object.assign(pending.personal || {}, msg));
  }

  // -- the connection -----------------------------------------------------------------------
  function connect() {
    clearTimeout(retryTimer);
    if (stopped || asleep) return;
    setStatus(everConnected ? "reconnecting" : "connecting", "connecting");
    const q = new URLSearchParams();
    if (token) q.set("k", token);
    const resume = localStorage.getItem(resumeKey);
    if (resume) q.set("r", resume);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    let opened = false;
    lastState = null;
    try {
      ws = new WebSocket(`${scheme}://${location.host}/ws?${q}`);
    } catch (err) {
      retry();
      return;
    }
    ws.onopen = () => { opened = true; };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (err) { return; }
      if (typeof msg.you === "string") {
        everConnected = true;
        backoff = 1000;
        if (typeof msg.resume === "string") localStorage.setItem(resumeKey, msg.resume);
        you.textContent = `you are ${msg.you} on the wall`;
        setStatus("connected", "connected");
        flush();
      } else if (typeof msg.state === "string") {
        lastState = msg.state;
      }
    };
    ws.onclose = () => {
      ws = null;
      clearTimeout(flushTimer);
      flushTimer = 0;
      if (lastState === "full") {
        setStatus("the mural is full", "full");
        retry(15000);
      } else if (lastState === "idle") {
        asleep = true;
        setStatus("resting — tap to rejoin", "connecting");
      } else if (lastState in STOP) {
        stop(STOP[lastState]);
      } else if (!opened) {
        askWhy();
      } else {
        retry();
      }
    };
  }

  function stop(text) {
    stopped = true;
    setStatus(text, "stopped");
  }

  function retry(atLeast = 0) {
    if (stopped) return;
    if (lastState !== "full") setStatus("reconnecting", "connecting");
    const wait = Math.max(atLeast, backoff) * (0.8 + 0.4 * Math.random());
    backoff = Math.min(30000, backoff * 2);
    retryTimer = setTimeout(connect, wait);
  }

  function askWhy() {
    // a refused handshake hides its status from scripts: ask the server in plain HTTP
    const q = new URLSearchParams();
    if (token) q.set("k", token);
    const resume = localStorage.getItem(resumeKey);
    if (resume) q.set("r", resume);
    fetch(`/state?${q}`, { cache: "no-store", credentials: "same-origin" })
      .then((r) => r.json())
      .then((body) => {
        if (body.state === "expired" || body.state === "blocked") stop(STOP[body.state]);
        else if (body.state === "full") { lastState = "full"; setStatus("the mural is full", "full"); retry(15000); }
        else retry();
      })
      .catch(() => retry());
  }

  function wake() {
    asleep = false;
    backoff = 1000;
    connect();
  }

  // -- the controls -------------------------------------------------------------------------
  document.querySelectorAll("button[data-emotion]").forEach((button) => {
    button.setAttribute("type", "button");
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => {
      document.querySelectorAll("button[data-emotion]").forEach((b) =>
        b.setAttribute("aria-pressed", String(b === button)));
      mine.emotion = button.dataset.emotion;
      intensity.style.setProperty("--thumb", getComputedStyle(button).getPropertyValue("--swatch"));
      sendEmotion();
    });
  });

  intensity.addEventListener("input", () => {
    intensityOut.textContent = `${intensity.value}%`;
  });
  intensity.addEventListener("change", sendEmotion);

  function place(x, y) {
    mine.x = Math.round(Math.min(1, Math.max(0, x)) * 1000) / 1000;
    mine.y = Math.round(Math.min(1, Math.max(0, y)) * 1000) / 1000;
    spot.hidden = false;
    spot.style.left = `${mine.x * 100}%`;
    spot.style.top = `${mine.y * 100}%`;
    wall.classList.add("placed");
    const across = mine.x < 0.34 ? "left" : mine.x > 0.66 ? "right" : "middle";
    const up = mine.y < 0.34 ? "top" : mine.y > 0.66 ? "bottom" : "centre";
    whereOut.textContent = `${up} ${across}`;
    sendEmotion();
  }
  wall.addEventListener("click", (ev) => {
    const box = wall.getBoundingClientRect();
    place((ev.clientX - box.left) / box.width, (ev.clientY - box.top) / box.height);
  });
  wall.addEventListener("keydown", (ev) => {
    const step = 0.05;
    const x = mine.x === null ? 0.5 : mine.x;
    const y = mine.y === null ? 0.5 : mine.y;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step],
                    ArrowDown: [0, step], Enter: [0, 0], " ": [0, 0] };
    if (!(ev.key in moves)) return;
    ev.preventDefault();
    place(x + moves[ev.key][0], y + moves[ev.key][1]);
  });

  function showNm() {
    const nm = Number(nmInput.value);
    const hex = colourOf(nm);
    nmOut.textContent = `${nm} nm`;
    nmInput.classList.add("chosen");
    nmInput.style.setProperty("--thumb", hex);
    nmSwatch.classList.add("chosen");
    nmSwatch.style.setProperty("--nm", hex);
    nmSwatch.style.background = hex;
    spot.style.setProperty("--mine", hex);
    return nm;
  }
  nmInput.addEventListener("input", showNm);
  nmInput.addEventListener("change", () => {
    mine.nm = showNm();
    sendPersonal({ colour_nm: mine.nm });
  });

  document.querySelectorAll("input[name=pattern]").forEach((radio) => {
    radio.addEventListener("change", () => {
      if (!radio.checked) return;
      mine.pattern = radio.value;
      sendPersonal({ pattern: mine.pattern });
    });
  });

  document.addEventListener("pointerdown", () => { if (asleep) wake(); });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !ws && !stopped && !asleep) {
      backoff = 1000;
      connect();
    }
  });

  connect();
})();
