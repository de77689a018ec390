"""RongLian ``statusCode``s, sorted into what the send task does with them.

RongLian's table (each other vendor keeps its own beside its provider).
Sources, as collected in ``shared/RONGLIAN.md``:
(A) zhangyanwei/yuntongxun-sms-client ``exception.sms.properties``;
(B) a ThinkPHP cloopen wrapper with the newer 1600xx codes;
(C) a YuntxSms addon citing the official REST doc ``3_1_1_7``;
(SDK) ronglian-sms-sdk itself (172001, HTTP statuses) and the Java SDK (1720xx).
"""

from __future__ import annotations

from .base import Action, Verdict

__all__ = ["Action", "Verdict", "classify"]

SUCCESS = "000000"
ACCOUNT_PROBLEM = "account, credentials or app problem: check the settings"


def _codes(*spans: tuple[int, int] | int) -> set[str]:
    found: set[str] = set()
    for span in spans:
        low, high = span if isinstance(span, tuple) else (span, span)
        found.update(str(code) for code in range(low, high + 1))
    return found


_TABLE: list[tuple[set[str], Verdict]] = [
    # Transient (SDK, A, B, C): network, system, channel busy, concurrency.
    (_codes(172001), Verdict(Action.RETRY, "network error (SDK)")),
    (_codes(160000), Verdict(Action.RETRY, "provider system error (A)")),
    (_codes((160001, 160010)), Verdict(Action.RETRY, "channel busy (A)")),
    (_codes(160016), Verdict(Action.RETRY, "channel throttling (B)")),
    (_codes(111000, (111001, 111099)), Verdict(Action.RETRY, "provider internal error (A)")),
    (_codes(111111, 111114, 111116), Verdict(Action.RETRY, "provider concurrency limit (A)")),
    (_codes(160050, 160063, 160064), Verdict(Action.RETRY, "send failed (B)", max_retries=2)),
    # Provider limits (A, B, C): the provider refuses more SMS to this number
    # for now; a quick retry only earns the same answer. 160038 after a
    # 172001 also means the first send most likely went through.
    (
        _codes(160038, 160039, 160040, 160041, 160015, 160021, 160022, 112314, 160054, 160056),
        Verdict(Action.GIVE_UP, "provider rate limit for this number"),
    ),
    # Permanent: the number (A, B).
    (
        _codes(160042, 160013, 112316, 112319, 112300, 112306, 160044, 160045, 160048),
        Verdict(Action.GIVE_UP, "bad mobile number"),
    ),
    (
        _codes(160034, 112317, 160068, 160072, 160073, 160074, 160051),
        Verdict(Action.GIVE_UP, "number blacklisted or unsubscribed"),
    ),
    # Permanent: template or content (A, B).
    (
        _codes(112307, 112308, 112311, 112323, 112318, 160057, 160032, 160036, 160043),
        Verdict(Action.GIVE_UP, "template problem"),
    ),
    (
        _codes(160052, 160069, 160033, 160049, 160037, 160031),
        Verdict(Action.GIVE_UP, "template data problem"),
    ),
    # Permanent: credentials, account, app (A, Java SDK): alert an operator.
    # RongLian refused the request itself, so another vendor may send it.
    (
        _codes((111100, 111110), 111113, (111128, 111143), (111169, 111182)),
        Verdict(Action.GIVE_UP, ACCOUNT_PROBLEM, failover=True),
    ),
    (
        _codes(111115, 160053, 112303, 160014, (172004, 172012)),
        Verdict(Action.GIVE_UP, ACCOUNT_PROBLEM, failover=True),
    ),
    # Sandbox / test mode (A, RONGLIAN.md): needs console set-up.
    (
        _codes(112305, 112310, 113302, 111188),
        Verdict(Action.GIVE_UP, "app not launched or test number not registered"),
    ),
    (_codes(172003), Verdict(Action.RETRY, "unreadable response (Java SDK)", max_retries=2)),
]

_BY_CODE: dict[str, Verdict] = {code: verdict for codes, verdict in _TABLE for code in codes}


def classify(status_code: str) -> Verdict:
    """What to do after RongLian answered ``status_code``."""
    if status_code == SUCCESS:
        return Verdict(Action.SENT, "sent")
    if status_code in _BY_CODE:
        return _BY_CODE[status_code]
    if status_code.isdigit() and len(status_code) == 3:  # an HTTP status from the SDK
        if status_code.startswith("5") or status_code == "429":
            return Verdict(Action.RETRY, f"HTTP {status_code} (SDK)")
        return Verdict(Action.GIVE_UP, f"HTTP {status_code} (SDK)")
    # Unknown: retry a little rather than lose the SMS on a code we never saw.
    return Verdict(Action.RETRY, "unknown status", max_retries=2)
