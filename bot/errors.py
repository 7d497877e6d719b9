"""Every error sfvopi-bot raises, in one tree, so a caller catches exactly what it can handle.

BotError                    .message is a sentence fit to show a person, never a secret
├── Refusal                 a person asked for something the bot will not do; nothing changed
│   ├── InvalidRequest      malformed input; nothing was stored
│   │   ├── InvalidId       an app id, number or request number that must go nowhere
│   │   └── ParseError      a command the grammar does not accept
│   ├── NotAllowed          the person lacks the role, the org or the right
│   │   ├── OverLimit       a limit of the org's policy is reached; .frees_at says until when
│   │   └── NeverOpens      no change window of the request opens again: it could never run
│   ├── RequestNotFound     no such request, as far as this person may know
│   ├── MembershipPending   a Slack user group's members are not known yet; try again soon
│   ├── Busy                too many commands in hand to answer in time; nothing was filed
│   ├── KeyReused           a dedupe key already filed a different request; nothing was filed
│   └── Conflict            the request is no longer in a state that allows this
│       ├── AlreadyPending  a target already waits in another pending request
│       └── PreviewChanged  an approval on a preview no longer the newest; .changes in words
├── ConfigError             the bot cannot start as configured
│   ├── OrgFileError        the organization file is unusable; .problems, one line each
│   └── StartupError        anything else that stops start-up (a token, a port, a database)
├── RejectedRequest         an HTTP request that is not Slack's, or not readable in bounds
├── ApiProblem              an HTTP API call refused by the API itself (token, body, parameter)
├── AuditSinkError          the audit sink did not take a batch; it is delivered again later
├── StoreError              the database cannot do what was asked
│   ├── SchemaTooNew        written by a newer sfvopi-bot; refusing beats corrupting it
│   ├── LostClaim           another worker took over this execution; stop writing results
│   └── RecordingDelayed    a request ran, but the database did not take its result yet
└── SfvopiError             an SFVoPI call that did not remove its target
    ├── InvalidKey          the key cannot be sent as a header value at all
    ├── Unauthorized        the API rejected the key
    ├── ApiNotFound         a 404 the reference does not document
    │   ├── AppNotFound
    │   └── NumberNotLinked
    ├── ApiServerError      5xx on every try
    ├── TransportFailure    no HTTP answer at all (timeout, refused, dropped)
    └── UnexpectedResponse  an answer the reference does not describe
"""

from __future__ import annotations

__all__ = [
    "AlreadyPending",
    "ApiNotFound",
    "ApiProblem",
    "ApiServerError",
    "AppNotFound",
    "AuditSinkError",
    "BotError",
    "Busy",
    "ConfigError",
    "Conflict",
    "InvalidId",
    "InvalidKey",
    "InvalidRequest",
    "KeyReused",
    "LostClaim",
    "MembershipPending",
    "NeverOpens",
    "NotAllowed",
    "NumberNotLinked",
    "OrgFileError",
    "OverLimit",
    "ParseError",
    "PreviewChanged",
    "RecordingDelayed",
    "Refusal",
    "RejectedRequest",
    "RequestNotFound",
    "SchemaTooNew",
    "SfvopiError",
    "StartupError",
    "StoreError",
    "TransportFailure",
    "Unauthorized",
    "UnexpectedResponse",
]


class BotError(Exception):
    """The root: `message` is what a person is shown (a user, an operator at start-up)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- refusals: a person asked, the bot said no, nothing changed ----------------------------


class Refusal(BotError):
    """A refusal whose message is fit to show the person who asked."""


class InvalidRequest(Refusal):
    """The input is malformed; nothing was stored."""


class InvalidId(InvalidRequest):
    """An id that must never be sent anywhere."""


class ParseError(InvalidRequest):
    """A `/sfvopi` text the grammar does not accept; the message says how to write it."""


class NotAllowed(Refusal):
    """The person lacks the role, the org or the right to do this."""


class OverLimit(NotAllowed):
    """A limit of the org's policy (so many targets per requester per hour, say) would be
    passed: nothing was filed. `frees_at`: when the same request would fit (None: never, it
    alone is over the limit); `wait`: the seconds from the filing until then."""

    def __init__(self, message: str, frees_at: float | None, now: float) -> None:
        super().__init__(message)
        self.frees_at = frees_at
        self.wait = None if frees_at is None else max(0.0, frees_at - now)


class NeverOpens(NotAllowed):
    """The request's change windows, less its freezes, never open again (within a year): it
    could never run, so it is refused rather than approved into a wait with no end."""


class RequestNotFound(Refusal):
    """No such request, as far as this person may know."""


class MembershipPending(Refusal):
    """A role may come from a Slack user group whose members the bot has not read yet; it
    is reading them now, so the same thing works in a moment. Nothing changed."""


class Busy(Refusal):
    """The bot could not answer a command in time (Slack gives up at 3 s), so it refused it
    before writing anything: nothing was filed or changed. `stage` says which check refused:
    `gate` (before any work), `late` (right before the request would have been written) or
    `locked` (another process held the database's write lock past the command's budget)."""

    def __init__(self, message: str, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


class KeyReused(Refusal):
    """A dedupe key (an API client's Idempotency-Key, a command's trigger, a workflow step's
    run) already filed a request other than this one: answering with that request would
    silently drop this one, so nothing was filed."""


class Conflict(Refusal):
    """The request is no longer in a state that allows this."""


class PreviewChanged(Conflict):
    """An approval submitted on a preview that is no longer the request's newest: nothing
    was recorded. `changes`: what differs, in plain words (SFVoPI's text inside: escape it
    wherever shown)."""

    def __init__(self, request_id: int, changes: list[str]) -> None:
        super().__init__(
            f"what request #{request_id} touches changed since you opened this: "
            + "; ".join(changes)
            + ". Open it again from the card."
        )
        self.changes = changes


class AlreadyPending(Conflict):
    """A target of a new request already waits in a pending one: `request_id` names it."""

    def __init__(self, message: str, request_id: int) -> None:
        super().__init__(message)
        self.request_id = request_id

    @classmethod
    def naming(cls, target: str, request_id: int) -> AlreadyPending:
        """The refusal in the bot's words, for `target` (as shown) held by `request_id`."""
        return cls(
            f"`{target}` is already pending as request #{request_id}; approve or cancel that "
            "one, or add `--again` to file another.",
            request_id,
        )


# -- configuration: the operator's problem, said before anything starts -------------------


class ConfigError(BotError):
    """The bot cannot start as configured."""


class OrgFileError(ConfigError):
    """The organization file is unusable; `problems` holds one line per problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class StartupError(ConfigError):
    """A reason the bot cannot start, fit for one line on stderr."""


# -- the front door ----------------------------------------------------------------------


class RejectedRequest(BotError):
    """Not Slack's, or not readable in bounds: `status` and a fixed reason, never anything
    taken from the request (it is counted, not echoed)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class ApiProblem(BotError):
    """An HTTP API call refused by the API itself (no valid token, a body or parameter that is
    not what its document says, too many waits): `slug` names its RFC 9457 problem
    (bot/api/problems.py); `headers` (WWW-Authenticate, Retry-After) and `extensions` (extra
    members) go with it. The message is fit for the caller and never holds a token."""

    def __init__(
        self,
        slug: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extensions: object,
    ) -> None:
        super().__init__(message)
        self.slug = slug
        self.headers = dict(headers or {})
        self.extensions = extensions


# -- the audit sink ---------------------------------------------------------------------


class AuditSinkError(BotError):
    """The audit sink (a file, a webhook) did not take a batch: its cursor stays where it was
    and the batch is delivered again, after a back-off. The message never holds the secret."""


# -- the store ----------------------------------------------------------------------------


class StoreError(BotError):
    """The database cannot do what was asked."""


class SchemaTooNew(StoreError):
    """The database was written by a newer sfvopi-bot; refusing beats corrupting it."""


class LostClaim(StoreError):
    """Another worker took over this execution (our lease lapsed); stop writing results."""

    def __init__(self, request_id: int) -> None:
        super().__init__(f"request #{request_id}: another worker holds its execution now")
        self.request_id = request_id


class RecordingDelayed(StoreError):
    """A request ran, but the database did not take its result in time; the lease lapses and
    recovery finishes the bookkeeping. The message is fit to show the approver."""


# -- SFVoPI -------------------------------------------------------------------------------


class SfvopiError(BotError):
    """A call that did not remove its target; `message` is the API's own words when it gave any."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        attempts: int = 0,
        maybe_applied: bool = False,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.attempts = attempts
        self.maybe_applied = maybe_applied  # no answer (or no readable one) after it was sent

    def describe(self) -> str:
        """A sentence fit for a Slack thread (never holds the key)."""
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code}, "
            f"attempts={self.attempts})"
        )


class InvalidKey(SfvopiError):
    """The key cannot be sent as a header value at all (empty or control characters)."""

    def describe(self) -> str:
        return "the API key is not usable as a header value (check its configuration)"


class Unauthorized(SfvopiError):
    def describe(self) -> str:
        return f"the API key was rejected ({self.status_code})"


class ApiNotFound(SfvopiError):
    """A 404 whose message is JSON but not one the reference documents."""


class AppNotFound(ApiNotFound):
    pass


class NumberNotLinked(ApiNotFound):
    pass


class ApiServerError(SfvopiError):
    def describe(self) -> str:
        return f"server error after {_tries(self.attempts)}: {self.message}"


class TransportFailure(SfvopiError):
    """No HTTP answer at all; `message` names the reason, like "timeout"."""

    def describe(self) -> str:
        return f"no answer from SFVoPI after {_tries(self.attempts)} ({self.message})"


class UnexpectedResponse(SfvopiError):
    """An answer the reference does not describe; `message` says what was odd about it."""

    def describe(self) -> str:
        return f"unexpected response from SFVoPI ({self.message})"


def _tries(n: int) -> str:
    return f"{n} try" if n == 1 else f"{n} tries"


def causes(exc: BaseException) -> list[BaseException]:  # not in __all__: that is the tree
    """The exception, what it wraps (SQLAlchemy's .orig) and what caused it, outermost first:
    where a start-up check looks for the reason a person can act on."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return seen
