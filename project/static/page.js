// The reference front end: ask for a code, count down, verify it.
// Every message shown comes from the server's `errmsg` / `error`.
// When the server asks for a captcha (captcha_required, captcha_wrong) the
// page shows one from /captcha; a tap on the image draws a new one.
"use strict";

const $ = (id) => document.getElementById(id);
const sendButton = $("send");
const sendLabel = sendButton.textContent;
const captchaRow = $("captcha-row");
const captchaImage = $("captcha-image");
let timer = null;
let captchaId = null;

function show(text, ok) {
  const message = $("message");
  message.textContent = text;
  message.className = ok ? "ok" : "error";
}

function describe(body) {
  if (!body) return "";
  const parts = [body.errmsg];
  if (body.error) parts.push(`(${body.error})`);
  if (body.attempts_left !== undefined) parts.push(`attempts_left: ${body.attempts_left}`);
  return parts.filter(Boolean).join(" ");
}

function countdown(seconds) {
  clearInterval(timer);
  let left = Math.max(1, Math.ceil(seconds));
  sendButton.disabled = true;
  const tick = () => {
    if (left <= 0) {
      clearInterval(timer);
      sendButton.disabled = false;
      sendButton.textContent = sendLabel;
      return;
    }
    sendButton.textContent = `${left} 秒后重试`;
    left -= 1;
  };
  tick();
  timer = setInterval(tick, 1000);
}

async function call(url, options) {
  try {
    const response = await fetch(url, options);
    const body = await response.json().catch(() => null);
    return { response, body };
  } catch (err) {
    return { response: null, body: { errmsg: String(err), error: "network" } };
  }
}

async function newCaptcha() {
  const { response, body } = await call("/captcha", { method: "GET" });
  if (!response || !response.ok) {
    show(describe(body), false);
    return;
  }
  captchaId = body.captcha_id;
  captchaImage.src = body.image;
  captchaRow.hidden = false;
  $("captcha").value = "";
  $("captcha").focus();
}

captchaImage.addEventListener("click", newCaptcha);

function sendOptions() {
  if (captchaId === null) return { method: "POST" };
  // A captcha is used up by the send that presents it, right or wrong.
  const fields = { captcha_id: captchaId, captcha: $("captcha").value.trim() };
  captchaId = null;
  return {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(fields),
  };
}

$("send-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const mobile = $("mobile").value.trim();
  sendButton.disabled = true;
  const { response, body } = await call(
    `/users/sms/${encodeURIComponent(mobile)}`,
    sendOptions(),
  );
  if (body && (body.error === "captcha_required" || body.error === "captcha_wrong")) {
    show(describe(body), false);
    sendButton.disabled = false;
    await newCaptcha();
    return;
  }
  captchaRow.hidden = true;
  if (response && response.status === 200) {
    show(describe(body), true);
    countdown(body.interval);
    $("code").focus();
  } else if (response && response.status === 429) {
    show(describe(body), false);
    countdown(Number(response.headers.get("Retry-After")) || body.interval);
  } else {
    show(describe(body), false);
    sendButton.disabled = false;
  }
});

$("verify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const mobile = $("mobile").value.trim();
  const { response, body } = await call(`/users/sms/${encodeURIComponent(mobile)}/verify`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code: $("code").value.trim() }),
  });
  show(describe(body), Boolean(response && response.ok));
});
