"""`python -m bot`: the same as the `sfvopi-bot` command."""

from bot.cli import main

raise SystemExit(main())
