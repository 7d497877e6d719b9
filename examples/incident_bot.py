"""An incident bot that files a request over sfvopi-bot's HTTP API, waits for people to
decide it in Slack, and prints what happened to each target.

It needs only httpx (any language with HTTP and JSON does the same: see docs/http-api.md
and /api/v1/openapi.json). The token comes from an environment variable, never
from the command line (which other users of the machine can read):

    export SFVOPI_API_TOKEN=…   # the value of the client's token_env in the org file
    python examples/incident_bot.py --url https://sfvopi-bot.example.com \\
        unlink --app sfv_app_abc123xyz456 --number +918000000001 --reason "INC-4411: fraud"
    python examples/incident_bot.py delete --app sfv_app_def789ghi012 --reason "CHG-1207"

Exit status: 0 succeeded, 1 ended otherwise (failed, denied, cancelled, expired, unknown),
2 refused (the problem's detail is printed), 3 still undecided when --timeout ran out.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from typing import Any

import httpx

WAIT = 30  # seconds per long-poll: the API holds each answer at most this long
RETRIES = 5  # for a dropped connection or a 503, with the same Idempotency-Key


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the bot's HTTP address")
    parser.add_argument("--token-env", default="SFVOPI_API_TOKEN", help="variable with the token")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait in all")
    parser.add_argument("action", choices=["unlink", "delete"])
    parser.add_argument("--app", action="append", required=True, help="an app id (repeatable)")
    parser.add_argument("--number", action="append", default=[], help="unlink: an E.164 number")
    parser.add_argument("--reason", required=True, help="why, e.g. the incident")
    parser.add_argument("--break-glass", metavar="INCIDENT", help="run at once, if allowed")
    return parser.parse_args(argv)


def targets(args: argparse.Namespace) -> list[dict[str, str]]:
    """unlink: each number from the one app; delete: each app."""
    if args.action == "delete":
        return [{"app_id": app} for app in args.app]
    if len(args.app) != 1 or not args.number:
        raise SystemExit("unlink takes one --app and at least one --number")
    return [{"app_id": args.app[0], "number": number} for number in args.number]


def call(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One call, retried on a dropped connection or a 503 (after its Retry-After)."""
    for attempt in range(RETRIES):
        try:
            response = http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            if attempt == RETRIES - 1:
                raise
            print(f"no answer ({type(exc).__name__}); trying again", file=sys.stderr)
            time.sleep(2**attempt)
            continue
        if response.status_code != 503 or attempt == RETRIES - 1:
            return response
        time.sleep(float(response.headers.get("Retry-After", 2**attempt)))
    raise AssertionError("unreachable")


def refused(response: httpx.Response) -> int:
    problem = response.json() if response.content else {}
    print(f"refused ({response.status_code}): {problem.get('detail', response.text)}")
    return 2


def report(request: dict[str, Any]) -> int:
    print(f"request #{request['id']} {request['state']}")
    for target in request["targets"]:
        what = f"{target['number']} on {target['app_id']}" if target["number"] else target["app_id"]
        print(f"  {what}: {target['outcome']} (API {target['api_status']}) {target['message']}")
    return 0 if request["state"] == "succeeded" else 1


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    token = os.environ.get(args.token_env, "").strip()
    if not token:
        print(f"set {args.token_env} to this client's API token", file=sys.stderr)
        return 2
    body: dict[str, Any] = {"action": args.action, "targets": targets(args), "reason": args.reason}
    if args.break_glass is not None:
        body["break_glass"] = {"incident": args.break_glass}
    once = {"Idempotency-Key": f"incident-bot-{uuid.uuid4()}"}  # a retried POST files once
    deadline = time.monotonic() + args.timeout
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=args.url, headers=auth, timeout=WAIT + 15) as http:
        filed = call(http, "POST", "/api/v1/requests", json=body, headers=once)
        if filed.status_code != 201:
            return refused(filed)
        request = filed.json()
        print(f"filed request #{request['id']}: {request['state']}", flush=True)
        while not request["final"]:
            left = int(deadline - time.monotonic())
            if left <= 0:
                print(f"request #{request['id']} is still {request['state']}; giving up waiting")
                return 3
            answer = call(http, "GET", f"/api/v1/requests/{request['id']}?wait={min(WAIT, left)}")
            if answer.status_code != 200:
                return refused(answer)
            request = answer.json()
    return report(request)


if __name__ == "__main__":
    sys.exit(main())
