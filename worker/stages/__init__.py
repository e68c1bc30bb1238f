"""The stages: each a :class:`~worker.runtime.Processor` with its :class:`~worker.runtime.StageSpec`,
its domain and nothing of the life cycle (no Kafka client, no aiokafka import). ``worker.app``
wires each onto a :class:`~worker.runtime.StageRuntime`.

- :mod:`worker.stages.requests`: ``pa.request`` -> determinations (request index store);
- :mod:`worker.stages.reauth`: determinations -> ``pa.reauth_due`` (reminder book store);
- :mod:`worker.stages.reviews`: reviews (+ pend inbox, notices) -> final determinations and
  decision clocks (pend book store).
"""
