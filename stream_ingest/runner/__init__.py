"""The Kafka runner: poll -> pipeline -> sinks -> checkpoint -> commit.

Delivery is at-least-once. A micro-batch's actions are in the online store
before the next poll; offsets are committed only at a checkpoint, after the
offline parts and the dead letters of everything handled so far are durable.
A crash replays from the last commit: the online store ignores action ids it
has, and the offline sink skips offsets its marks say are written.

Before a rebalance takes partitions away, the runner checkpoints, so the next
owner starts exactly where this process stopped. SIGTERM (``stop()``) ends
the loop with a final checkpoint; the process then exits 0.

A partition whose offsets start again (its topic deleted and recreated, a new
cluster) starts a new incarnation (:mod:`.incarnations`).

One concern per module: ``loop.py`` (the runner, which opens the Kafka clients
when it runs, and the consumer loop with its rebalance callbacks),
``incarnations.py``, ``checkpoints.py`` (commits), ``broker.py`` (outages),
``status.py`` (the status line), ``clients.py`` (client settings, topic ids)
and ``build.py`` (wiring from the config).
"""

from stream_ingest.runner.build import build_runner, open_repo
from stream_ingest.runner.loop import KafkaRunner

__all__ = ["KafkaRunner", "build_runner", "open_repo"]
