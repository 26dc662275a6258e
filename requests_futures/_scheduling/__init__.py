"""When each request of a session with limits or retries may start.

:mod:`.origins` (what limits apply where), :mod:`.queues` (each origin's
waiting requests and slots), :mod:`.scheduler` (the dispatch), :mod:`.ending`
(an attempt's end: its future settled or its retry timed, then the next),
:mod:`.timers` (retries due later, rate slots and pauses), :mod:`.retries`
(one attempt and whether to send it again), :mod:`.stopping` (cancel, give
up, close) and :mod:`.adaptive` (limits that follow the host).
"""
