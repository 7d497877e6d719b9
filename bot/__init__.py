"""sfvopi-bot: destructive SFVoPI operations from Slack, never by one person alone."""
