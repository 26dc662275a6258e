"""Benchmarks of FuturesSession against the clients a user would pick instead.

Run ``python -m benchmarks --quick`` (1-2 minutes) or ``python -m
benchmarks`` (the full run, 20-25 minutes); ``--help`` lists the
options.  The pieces:

- ``server.py``: the asyncio HTTP/1.1 server, started in its own process;
- ``contenders.py``: the clients, one function each, run one per process;
- ``scenarios/``: one module per scenario (see its docstring to add one);
- ``runner.py``: starts the server, installs missing peers into
  ``.bench-cache/``, runs every contender, prints the tables;
- ``targets.py``: the issue's targets, checked against the numbers of a run;
- ``plot.py``: bar charts (``--plot FILE.png``, needs matplotlib).
"""
