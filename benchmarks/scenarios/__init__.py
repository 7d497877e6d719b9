"""One module per scenario; each has `async def run(env) -> <its result>` and `rows(result)`.

startup    5. memory and start-up
ack        1. ack latency against bare Bolt
slow_api   2. acks while 100 approved operations wait on a 5 s API
bulk       3. bulk delete of 100 apps at 200 ms per call
approvals  4. approvals per second, SQLite and PostgreSQL
work       6. the work itself: bot vs the no-framework floor vs bare Bolt
burst      7. a burst of simultaneous commands: answered within 3 s, one card each
"""
