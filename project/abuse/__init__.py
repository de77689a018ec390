"""The abuse defence above the per-IP limit and the per-mobile cooldown.

SMS bombing and SMS pumping spread over many numbers and addresses, so each
passes those two limits; this package watches the whole service instead:
an image captcha when a send looks risky (``risk``, ``captcha``), the
verified/issued ratio and its alarm (``conversion``), service-wide budgets
(``budgets``) and test numbers that bypass it all (``fixed_numbers``).
``project.codes`` calls ``admit`` before it claims a code.
"""

from __future__ import annotations

from flask import Flask

from . import fixed_numbers, views
from .budgets import BudgetExhausted
from .captcha import CaptchaRequired, CaptchaWrong
from .conversion import count_verified
from .gate import Admission, Client, admit, give_back, settle

__all__ = [
    "Admission",
    "BudgetExhausted",
    "CaptchaRequired",
    "CaptchaWrong",
    "Client",
    "admit",
    "count_verified",
    "give_back",
    "init_app",
    "settle",
]


def init_app(app: Flask) -> None:
    fixed_numbers.log_at_startup(app)
    app.register_blueprint(views.bp)
