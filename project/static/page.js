// The reference front end: ask for a code, count down, verify it.
// Its own messages say what happened (sent, verified, the countdown); an
// error shows the server's `errmsg`, which comes in the same language: the
// browser's, Chinese unless it prefers English (the server reads the
// Accept-Language header the browser sends with each request).
// When the server asks for a captcha (captcha_required, captcha_wrong) the
// page shows one from /captcha; a tap on the image draws a new one.
// The purpose selector says what the code is for (it must be verified for
// the same purpose). After an SMS the "语音验证码" link offers a voice call
// instead, once the SMS cooldown is over. A successful verify hands the page
// a verification token, meant for the app's backend: the page says it got
// one and never shows it.
"use strict";

const TEXTS = {
  zh: {
    sent: "验证码已发送",
    voiceSent: "请接听语音来电，留意播报的验证码",
    verified: "验证成功，已收到验证凭证",
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
    purpose: "Purpose",
    purposes: { register: "Sign up", login: "Log in", reset_password: "Reset password" },
    voiceHint: "No SMS? ",
    voice: "Voice code",
    sent: "Code sent",
    voiceSent: "Answer the call: it reads the code out",
    verified: "Verified; verification token received",
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
const voiceButton = $("voice");
let timer = null;
let captchaId = null;
let verificationToken = null; // for the app's backend to redeem; never shown

function translatePage() {
  if (lang === "zh") return; // index.html is written in Chinese
  document.documentElement.lang = "en";
  document.title = T.title;
  $("title").textContent = T.title;
  $("purpose-label").textContent = T.purpose;
  for (const option of $("purpose").options) option.textContent = T.purposes[option.value];
  $("voice-hint").textContent = T.voiceHint;
  voiceButton.textContent = T.voice;
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
  voiceButton.disabled = true;
  const tick = () => {
    if (left <= 0) {
      clearInterval(timer);
      sendButton.disabled = false;
      voiceButton.disabled = false; // the cooldown is the mobile's, whatever the channel
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

function sendOptions(channel) {
  const fields = { purpose: $("purpose").value, channel };
  if (captchaId !== null) {
    // A captcha is used up by the send that presents it, right or wrong.
    fields.captcha_id = captchaId;
    fields.captcha = $("captcha").value.trim();
    captchaId = null;
  }
  return {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(fields),
  };
}

async function sendCode(channel) {
  const mobile = $("mobile").value.trim();
  sendButton.disabled = true;
  voiceButton.disabled = true;
  const { response, body } = await call(
    `/users/sms/${encodeURIComponent(mobile)}`,
    sendOptions(channel),
  );
  if (body && (body.error === "captcha_required" || body.error === "captcha_wrong")) {
    show(errorText(body), false);
    sendButton.disabled = false;
    await newCaptcha();
    return;
  }
  captchaRow.hidden = true;
  if (response && response.status === 200) {
    show(channel === "voice" ? T.voiceSent : T.sent, true);
    $("voice-row").hidden = false;
    countdown(body.interval);
    $("code").focus();
  } else if (response && response.status === 429) {
    show(errorText(body), false);
    countdown(Number(response.headers.get("Retry-After")) || body.interval);
  } else {
    show(errorText(body), false);
    sendButton.disabled = false;
    voiceButton.disabled = false;
  }
}

$("send-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sendCode("sms");
});

voiceButton.addEventListener("click", () => sendCode("voice"));

$("verify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const mobile = $("mobile").value.trim();
  const { response, body } = await call(`/users/sms/${encodeURIComponent(mobile)}/verify`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code: $("code").value.trim(), purpose: $("purpose").value }),
  });
  if (response && response.ok) {
    // A real app posts this to its own backend, which redeems it once.
    verificationToken = body.verification_token;
    show(T.verified, true);
  } else {
    show(errorText(body), false);
  }
});
