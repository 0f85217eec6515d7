"""Reading a worker's /metrics: samples summed by name and the labels asked for."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Counter, start_http_server

from stream.dev.broker import free_port
from stream.dev.measure import percentile, scrape


def test_scrape_sums_every_label_but_those_named() -> None:
    registry = CollectorRegistry()
    consumed = Counter("stream_events_consumed", "events", ["topic", "type"], registry=registry)
    Counter("other_total", "not ours", registry=registry).inc(5)
    consumed.labels("a", "click").inc(2)
    consumed.labels("b", "click").inc(3)
    consumed.labels("a", "read").inc(1)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        assert scrape(port) == {"stream_events_consumed_total": 6.0}
        assert scrape(port, ("type",)) == {
            "stream_events_consumed_total{type=click}": 5.0,
            "stream_events_consumed_total{type=read}": 1.0,
        }
    finally:
        server.shutdown()
        thread.join(5)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0 and percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0 and percentile(values, 0.0) == 1.0
    assert math.isnan(percentile([], 0.5))
