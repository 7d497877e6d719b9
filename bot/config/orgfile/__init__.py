"""Organizations, their members' roles and approval policy, loaded from one YAML file.

The file is checked whole before the bot starts: every problem is reported at once, each with
its line and a reason a person can act on, because a half-understood authorization file is
worse than none. API keys never sit in the file; it names the environment variable holding each.

loading with line numbers (yaml_lines) · problems and the shared checks · policy · members ·
workflow_steps · clients (the HTTP API's) · checker (the whole file) · summary (check-config)
· fillable (check-config's warnings: policy stages nobody could fill).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from bot.config.orgfile.checker import Checker
from bot.config.orgfile.summary import summary
from bot.core.org import OrgDirectory
from bot.errors import OrgFileError

__all__ = ["load_orgs", "parse_orgs", "summary"]


def load_orgs(path: Path, environ: Mapping[str, str] | None = None) -> OrgDirectory:
    """Read and check the organization file; API keys come from `environ` (default: os.environ)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OrgFileError(
            [f"{path}: no such file (SFVOPI_ORGS_FILE names the organization file)"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise OrgFileError([f"{path}: cannot read the organization file: {reason}"]) from None
    return parse_orgs(text, environ, source=str(path))


def parse_orgs(
    text: str, environ: Mapping[str, str] | None = None, source: str = "<string>"
) -> OrgDirectory:
    """Check the YAML `text` and build the directory, or raise OrgFileError with every problem."""
    return Checker(source, os.environ if environ is None else environ).run(text)
