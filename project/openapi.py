"""The OpenAPI 3 document of the HTTP API, served at ``/openapi.json``.

Hand-written so it says what clients may rely on; a schemathesis run in the
test suite checks that the app answers as written.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

bp = Blueprint("openapi", __name__)

MOBILE = {
    "name": "mobile",
    "in": "path",
    "required": True,
    "description": "11 ASCII digits: 1[3-9] and 9 more",
    "schema": {"type": "string", "pattern": "^1[3-9][0-9]{9}$"},
}

CODE = {"type": "string", "pattern": "^[0-9]{6}$"}


def _error(*words: str, **extra: Any) -> dict[str, Any]:
    properties = {"error": {"type": "string", "enum": list(words)}, "errmsg": {"type": "string"}}
    properties.update(extra)
    return {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["error", "errmsg"],
                    "properties": properties,
                }
            }
        }
    }


def _described(description: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, **body}


INTERVAL = {"interval": {"type": "integer", "minimum": 1}}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "required": True}}
TOO_MANY = {
    **_described(
        "cooldown, a rate limit, or the service's hourly or daily budget spent",
        _error("cooldown", "rate_limited", **INTERVAL),
    ),
    "headers": RETRY_AFTER,
}
UNAVAILABLE = _described("Redis or the broker cannot be reached", _error("unavailable"))
OK = {"errmsg": {"type": "string", "enum": ["OK"]}}

PURPOSE = {
    "purpose": {
        "type": "string",
        "description": (
            "what the code is for: one of SMS_PURPOSES (default register, login, "
            "reset_password); absent = the first. A code verifies for its own purpose only"
        ),
    }
}
SEND_FIELDS = {
    "captcha_id": {"type": "string", "description": "from GET /captcha"},
    "captcha": {"type": "string", "description": "the 4 characters in its image, any case"},
    **PURPOSE,
    "channel": {
        "type": "string",
        "enum": ["sms", "voice"],
        "default": "sms",
        "description": "sms, or voice: a call reads the code out (RongLian 语音验证码)",
    },
}
SEND_QUERY = [
    {"name": name, "in": "query", "required": False, "schema": schema}
    for name, schema in SEND_FIELDS.items()
]
SEND_BODY = {
    "required": False,
    "content": {
        kind: {"schema": {"type": "object", "properties": SEND_FIELDS}}
        for kind in ("application/json", "application/x-www-form-urlencoded")
    },
}
VERIFY_FIELDS = {"code": CODE, **PURPOSE}
TOKEN = {"verification_token": {"type": "string", "description": "opaque, signed"}}
REDEEM = {
    "summary": "A backend redeems a verification token, once",
    "description": (
        "Server to server: `Authorization: Bearer <one of SMS_API_KEYS>`. Answers 404 when "
        "no SMS_API_KEYS are set. The per-IP limit applies only to unauthenticated calls."
    ),
    "operationId": "redeemVerification",
    "security": [{"apiKey": []}],
    "requestBody": {
        "required": True,
        "content": {
            kind: {
                "schema": {
                    "type": "object",
                    "required": ["verification_token"],
                    "properties": TOKEN,
                }
            }
            for kind in ("application/json", "application/x-www-form-urlencoded")
        },
    },
    "responses": {
        "200": {
            "description": "the token was good and is now used up",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["errmsg", "mobile", "purpose", "verified_at"],
                        "properties": {
                            **OK,
                            "mobile": {"type": "string", "pattern": "^1[3-9][0-9]{9}$"},
                            **PURPOSE,
                            "verified_at": {"type": "integer", "description": "unix seconds"},
                        },
                    }
                }
            },
        },
        "400": _described(
            "redeemed before; forged, expired or of another deployment; no token given",
            _error("token_used", "invalid_token", "invalid_request"),
        ),
        "401": _described("no or a wrong API key", _error("unauthorized")),
        "404": _described("no SMS_API_KEYS set: the route does not exist", _error("not_found")),
        "429": TOO_MANY,
        "503": UNAVAILABLE,
    },
}

SEND = {
    "description": (
        "When SMS_CAPTCHA asks for one (always, or in auto when the send looks risky), "
        "the send carries `captcha_id` and `captcha` as JSON keys, form fields or query "
        "parameters; a captcha is used up by the first send that presents it."
    ),
    "parameters": [MOBILE, *SEND_QUERY],
    "responses": {
        "200": {
            "description": "a code was stored and its SMS (or voice call) enqueued",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["errmsg", "interval", "expires_in"],
                        "properties": {
                            **OK,
                            **INTERVAL,
                            "expires_in": {"type": "integer", "minimum": 1},
                        },
                    }
                }
            },
        },
        "400": _described(
            "not a mobile number; an unknown purpose; a channel other than sms or voice; "
            "a captcha needed and missing; a captcha wrong, expired or used",
            _error(
                "invalid_mobile",
                "invalid_purpose",
                "invalid_request",
                "captcha_required",
                "captcha_wrong",
            ),
        ),
        "429": TOO_MANY,
        "503": UNAVAILABLE,
    },
}

CAPTCHA = {
    "summary": "A fresh image captcha (图形验证码) for the next send",
    "operationId": "captcha",
    "responses": {
        "200": {
            "description": "an image of 4 characters; its answer is kept only hashed",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["errmsg", "captcha_id", "image", "expires_in"],
                        "properties": {
                            **OK,
                            "captcha_id": {"type": "string"},
                            "image": {"type": "string", "pattern": "^data:image/png;base64,"},
                            "expires_in": {"type": "integer", "minimum": 1},
                        },
                    }
                }
            },
        },
        "429": TOO_MANY,
        "503": UNAVAILABLE,
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "SMS verification codes", "version": "1.0.0"},
    "components": {"securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/users/sms/{mobile}": {
            "post": {
                "summary": "Send a code (获取验证码)",
                "operationId": "sendCode",
                "requestBody": SEND_BODY,
                **SEND,
            },
            "get": {"summary": "Send a code (older clients)", "operationId": "sendCodeGet", **SEND},
        },
        "/users/sms/{mobile}/verify": {
            "post": {
                "summary": "Verify a code once",
                "operationId": "verifyCode",
                "parameters": [MOBILE],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["code"],
                                "properties": VERIFY_FIELDS,
                            }
                        },
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["code"],
                                "properties": VERIFY_FIELDS,
                            }
                        },
                    },
                },
                "responses": {
                    "200": {
                        "description": (
                            "the code was right; it is used up. The token proves it to the "
                            "app's backend (POST /users/sms/verifications/redeem)"
                        ),
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["errmsg", "verification_token", "expires_in"],
                                    "properties": {
                                        **OK,
                                        **TOKEN,
                                        "expires_in": {
                                            "type": "integer",
                                            "minimum": 1,
                                            "description": "SMS_VERIFICATION_TOKEN_TTL",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "400": _described(
                        "wrong, missing or malformed code, not a mobile, or an unknown purpose",
                        _error(
                            "wrong_code",
                            "no_code",
                            "invalid_request",
                            "invalid_mobile",
                            "invalid_purpose",
                            attempts_left={"type": "integer", "minimum": 0},
                        ),
                    ),
                    "429": TOO_MANY,
                    "503": UNAVAILABLE,
                },
            }
        },
        "/users/sms/verifications/redeem": {"post": REDEEM},
        "/captcha": {"get": CAPTCHA},
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "operationId": "healthz",
                "responses": {
                    "200": {
                        "description": "the process serves requests",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["status"],
                                    "properties": {"status": {"type": "string", "enum": ["ok"]}},
                                }
                            }
                        },
                    }
                },
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: Redis and the broker answer",
                "operationId": "readyz",
                "responses": {
                    "200": {
                        "description": "ready",
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "required": ["status"]}
                            }
                        },
                    },
                    "503": {
                        "description": "not ready; ``failed`` names what",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["status", "failed"],
                                    "properties": {
                                        "failed": {
                                            "type": "array",
                                            "items": {
                                                "type": "string",
                                                "enum": ["redis", "broker"],
                                            },
                                        }
                                    },
                                }
                            }
                        },
                    },
                },
            }
        },
    },
}


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    return DOCUMENT
