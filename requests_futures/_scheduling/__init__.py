"""When each request of a session with limits or retries may start.

:mod:`.origins` (what limits apply where), :mod:`.queues` (each origin's
waiting requests and slots), :mod:`.scheduler` (the dispatch), :mod:`.timers`
(retries due later, rate slots and pauses), :mod:`.retries` (one attempt and
whether to send it again) and :mod:`.adaptive` (limits that follow the host).
"""
