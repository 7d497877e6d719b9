"""What an operator sees of a running bot: Prometheus metrics, structured logs, log context.

Each module stands alone (`context` imports nothing but the standard library, so the
workflow may bind a request to its log lines); nothing is imported here on purpose.
"""
