"""Brightcart's own shop system, for the demo: orders over an HTTP API of its own.

It stands for a company's system outside cxagent, so it imports nothing from the rest of `bot`
(an import contract in pyproject.toml holds it so), and the bot reaches it over HTTP only.
Start it with `bot.demo_shop.server.start_demo_shop`; the routes are listed in `app.py`.
"""
