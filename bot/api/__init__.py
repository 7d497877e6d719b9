"""The HTTP API: file, watch and cancel requests from tools that are not Slack.

Mounted under /api/v1 by the HTTP front door (bot/slack/http.py); clients and their tokens
come from the org file (`api_clients`). docs/http-api.md and /api/v1/openapi.json say how
to call it; docs/security.md what it promises.
"""
