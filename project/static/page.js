// The reference front end: ask for a code, count down, verify it.
// Its own messages say what happened (sent, verified, the countdown); an
// error shows the server's `errmsg`, which comes in the same language: the
// browser's, Chinese unless it prefers English (the server reads the
// Accept-Language header the browser sends with each request).
// When the server asks for a captcha (captcha_required, captcha_wrong) the
// page shows one from /captcha; a tap on the image draws a new one.
"use strict";

const TEXTS = {
  zh: {
    sent: "验证码已发送",
    verified: "验证成功",
    retryIn: (seconds) => `${seconds} 秒后重试`,
    network: "网络错误，请稍后重试",
  },
  en: {
    title: "SMS verification code",
    mobile: "Mobile number",
    mobilePlaceholder: "11-digit mobile number",
    send: "Get code",
    code: "Code",
    codePlaceholder: "6-digit code",
    verify: "Verify",
    captcha: "Picture captcha",
    captchaAlt: "Picture captcha (tap for a new one)",
    sent: "Code sent",
    verified: "Verified",
    retryIn: (seconds) => `Retry in ${seconds} s`,
    network: "Network error; please retry",
  },
};

function browserLanguage() {
  const preferred = navigator.languages && navigator.languages.length
    ? navigator.languages
    : [navigator.language || "zh"];
  const first = preferred.find((tag) => /^(zh|en)\b/i.test(tag));
  return first && /^en\b/i.test(first) ? "en" : "zh";
}

const lang = browserLanguage();
const T = TEXTS[lang];
const $ = (id) => document.getElementById(id);
const sendButton = $("send");
const captchaRow = $("captcha-row");
const captchaImage = $("captcha-image");
let timer = null;
let captchaId = null;

function translatePage() {
  if (lang === "zh") return; // index.html is written in Chinese
  document.documentElement.lang = "en";
  document.title = T.title;
  $("title").textContent = T.title;
  $("mobile-label").textContent = T.mobile;
  $("mobile").placeholder = T.mobilePlaceholder;
  sendButton.textContent = T.send;
  $("code-label").textContent = T.code;
  $("code").placeholder = T.codePlaceholder;
  $("verify").textContent = T.verify;
  $("captcha").placeholder = T.captcha;
  $("captcha").setAttribute("aria-label", T.captcha);
  captchaImage.alt = T.captchaAlt;
  captchaImage.title = T.captchaAlt;
}

translatePage();
const sendLabel = sendButton.textContent;

function show(text, ok) {
  const message = $("message");
  message.textContent = text;
  message.className = ok ? "ok" : "error";
}

function errorText(body) {
  return (body && body.errmsg) || T.network;
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
    sendButton.textContent = T.retryIn(left);
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
    return { response: null, body: null };
  }
}

async function newCaptcha() {
  const { response, body } = await call("/captcha", { method: "GET" });
  if (!response || !response.ok) {
    show(errorText(body), false);
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
    show(errorText(body), false);
    sendButton.disabled = false;
    await newCaptcha();
    return;
  }
  captchaRow.hidden = true;
  if (response && response.status === 200) {
    show(T.sent, true);
    countdown(body.interval);
    $("code").focus();
  } else if (response && response.status === 429) {
    show(errorText(body), false);
    countdown(Number(response.headers.get("Retry-After")) || body.interval);
  } else {
    show(errorText(body), false);
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
  if (response && response.ok) {
    show(T.verified, true);
  } else {
    show(errorText(body), false);
  }
});
