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
    **_described("cooldown or rate limit", _error("cooldown", "rate_limited", **INTERVAL)),
    "headers": RETRY_AFTER,
}
UNAVAILABLE = _described("Redis or the broker cannot be reached", _error("unavailable"))
OK = {"errmsg": {"type": "string", "enum": ["OK"]}}

SEND = {
    "parameters": [MOBILE],
    "responses": {
        "200": {
            "description": "a code was stored and its SMS enqueued",
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
        "400": _described("not a mobile number", _error("invalid_mobile")),
        "429": TOO_MANY,
        "503": UNAVAILABLE,
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "SMS verification codes", "version": "1.0.0"},
    "paths": {
        "/users/sms/{mobile}": {
            "post": {"summary": "Send a code (获取验证码)", "operationId": "sendCode", **SEND},
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
                                "properties": {"code": CODE},
                            }
                        },
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["code"],
                                "properties": {"code": CODE},
                            }
                        },
                    },
                },
                "responses": {
                    "200": {
                        "description": "the code was right; it is used up",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["errmsg"],
                                    "properties": OK,
                                }
                            }
                        },
                    },
                    "400": _described(
                        "wrong, missing or malformed code, or not a mobile",
                        _error(
                            "wrong_code",
                            "no_code",
                            "invalid_request",
                            "invalid_mobile",
                            attempts_left={"type": "integer", "minimum": 0},
                        ),
                    ),
                    "429": TOO_MANY,
                    "503": UNAVAILABLE,
                },
            }
        },
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
