"""The offline tools around the worker service: they run beside it, never inside it.

- :mod:`offline.evaluate`: ``pa-worker evaluate``, the policy engine over JSON Lines, no Kafka.
- :mod:`offline.report` (with :mod:`offline.report_kafka`): ``pa-worker report``, the compliance report.
- :mod:`offline.demo`: ``make demo``, the whole path on a local broker.
- :mod:`offline.readback`: read a topic back to its end (read_committed), for the demo and the tests.

``worker/`` is the service (stages, runtime, wiring, CLI); these modules may import from it, never
the reverse (``worker/cli.py`` imports them lazily, inside the subcommands that run them).
"""
