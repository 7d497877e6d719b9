"""The `sfvopi-bot` sub-commands that do not run the bot, one module each (bot/cli.py builds the
parser and runs `serve`, `socket` and `sandbox`)."""
