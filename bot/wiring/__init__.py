"""The composition root: the bot built once, whole (bootstrap.py), its doors' routes mounted
(web.py), its sweepers one list (sweepers.py)."""

from bot.wiring.bootstrap import Bot, bootstrap
from bot.wiring.web import http_application, run_socket, serve_http

__all__ = ["Bot", "bootstrap", "http_application", "run_socket", "serve_http"]
