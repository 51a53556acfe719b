"""Faust's Prometheus sensor with its labelled children kept instead of looked up per event.

``faust.sensors.prometheus.PrometheusMonitor`` calls ``labels(...)`` on every message and event
it sees (several per input record: received per topic, offset per partition, events per stream,
end offset per partition, table sets, sends), and normalises the stream's name with a regular
expression per event; on single-event records that was as much CPU as the decode. This
subclass exports the same series with the same values: it keeps each child it makes, and
forgets the partition-labelled ones whenever Faust clears those series (at every rebalance).
Check it on a Faust upgrade (``tests/unit/worker/test_worker_faust_sensors.py``).
"""

from __future__ import annotations

from typing import Any

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import PrometheusMonitor


class KeptChildrenPrometheusMonitor(PrometheusMonitor):
    """:class:`PrometheusMonitor` exporting the same series, each child made once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept_children: dict[tuple[Any, ...], Any] = {}
        self._stream_labels: dict[Any, str] = {}

    def _child(self, metric: Any, **labels: Any) -> Any:
        key = (id(metric), *labels.values())
        child = self._kept_children.get(key)
        if child is None:
            child = self._kept_children[key] = metric.labels(**labels)
        return child

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        Monitor.on_message_in(self, tp, offset, message)
        metrics = self._metrics
        metrics.messages_received.inc()
        metrics.active_messages.inc()
        self._child(metrics.messages_received_per_topics, topic=tp.topic).inc()
        self._child(
            metrics.messages_received_per_topics_partition, topic=tp.topic, partition=tp.partition
        ).set(offset)

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> Any:
        state = Monitor.on_stream_event_in(self, tp, offset, stream, event)
        metrics = self._metrics
        metrics.total_events.inc()
        metrics.total_active_events.inc()
        label = self._stream_labels.get(stream)
        if label is None:
            label = self._stream_labels[stream] = f"stream.{self._stream_label(stream)}.events"
        self._child(metrics.total_events_per_stream, stream=label).inc()
        return state

    def on_table_get(self, table: Any, key: Any) -> None:
        Monitor.on_table_get(self, table, key)
        self._table_child(table, self.KEYS_RETRIEVED).inc()

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        Monitor.on_table_set(self, table, key, value)
        self._table_child(table, self.KEYS_UPDATED).inc()

    def on_table_del(self, table: Any, key: Any) -> None:
        Monitor.on_table_del(self, table, key)
        self._table_child(table, self.KEYS_DELETED).inc()

    def _table_child(self, table: Any, operation: str) -> Any:
        return self._child(
            self._metrics.table_operations, table=f"table.{table.name}", operation=operation
        )

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> Any:
        self._child(self._metrics.topic_messages_sent, topic=f"topic.{topic}").inc()
        return Monitor.on_send_initiated(self, producer, topic, message, keysize, valsize)

    def track_tp_end_offset(self, tp: Any, offset: int) -> None:
        Monitor.track_tp_end_offset(self, tp, offset)
        self._child(
            self._metrics.topic_partition_end_offset, topic=tp.topic, partition=tp.partition
        ).set(offset)

    def _clear_partition_related_metrics(self) -> None:
        # Faust removes the partition- and topic-labelled series: a kept child would then
        # update a series that is no longer exported
        super()._clear_partition_related_metrics()
        self._kept_children.clear()
