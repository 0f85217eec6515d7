"""The recovery fix: input partitions stay out of the fetch until they are seeked to their
committed offsets and the stream queues are emptied, so nothing fetched before the seek is
dropped after it (faust-streaming #596)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faust.tables.recovery import Recovery

from stream.agents.faust_fixes import _on_recovery_completed, resume_streams_after_seek

INPUT = ("events", 0)
CHANGELOG = ("app-users-changelog", 0)


class Calls:
    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []
        self.active: set[Any] = {CHANGELOG}

    def __call__(self, name: str, arg: Any = None) -> None:
        self.log.append((name, arg))


class FakeConsumer:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def assignment(self) -> set[Any]:
        return {INPUT, CHANGELOG}

    def pause_partitions(self, tps: set[Any]) -> None:
        self.calls.active -= tps
        self.calls("pause", frozenset(tps))

    def resume_partitions(self, tps: set[Any]) -> None:
        self.calls.active |= tps
        self.calls("resume", frozenset(tps))

    async def perform_seek(self) -> None:
        # the fetcher runs while the seek is awaited: whatever is active now gets records
        await asyncio.sleep(0)
        self.calls("seek", frozenset(self.calls.active))

    def resume_flow(self) -> None:
        self.calls("resume_flow")


class Anything:
    """Answers every attribute with a recording no-op (sync or async as asked)."""

    def __init__(self, calls: Calls, name: str) -> None:
        self._calls, self._name = calls, name

    def __getattr__(self, attr: str) -> Any:
        return Anything(self._calls, f"{self._name}.{attr}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._calls(self._name)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


class FakeRecovery:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.log = logging.getLogger("recovery")
        self.tables: dict[str, Any] = {}
        self.completed = asyncio.Event()
        app = Anything(calls, "app")
        app.__dict__.update(
            consumer=FakeConsumer(calls),
            consumer_generation_id=7,
            conf=type("Conf", (), {"broker_request_timeout": 5.0})(),
            assignor=type("Assignor", (), {"assigned_standbys": staticmethod(lambda: [])})(),
        )
        self.app = app
        self.tables = Anything(calls, "tables")  # type: ignore[assignment]
        self.tables.__dict__["values"] = lambda: []

    def _set_recovery_ended(self) -> None:
        self.calls("recovery_ended")

    def _is_changelog_tp(self, tp: Any) -> bool:
        return tp is CHANGELOG

    async def _wait(self, coro: Any, timeout: float | None = None) -> None:
        await coro


def test_inputs_resume_only_after_the_seek_and_the_queues_are_emptied() -> None:
    calls = Calls()
    recovery = FakeRecovery(calls)
    asyncio.run(_on_recovery_completed(recovery, generation_id=7))
    names = [name for name, _ in calls.log]
    seek = names.index("seek")
    emptied = names.index("app.flow_control.resume")
    resumed = calls.log.index(("resume", frozenset({INPUT})))
    # nothing of the input partition was active while the seek was awaited
    assert INPUT not in dict(calls.log)["seek"]
    assert seek < emptied < resumed
    assert names[-1] == "app.on_rebalance_end"
    assert recovery.completed.is_set()
    assert INPUT in calls.active


def test_a_newer_generation_leaves_the_inputs_paused() -> None:
    calls = Calls()
    recovery = FakeRecovery(calls)
    asyncio.run(_on_recovery_completed(recovery, generation_id=6))  # a rebalance came since
    assert "seek" not in [name for name, _ in calls.log]
    assert INPUT not in calls.active and not recovery.completed.is_set()


def test_installing_the_fix_is_idempotent_and_keeps_faust_s_method() -> None:
    resume_streams_after_seek()
    resume_streams_after_seek()
    assert Recovery.__dict__["on_recovery_completed"] is _on_recovery_completed
    kept = Recovery.__dict__["_stream_original_on_recovery_completed"]
    assert kept is not _on_recovery_completed and kept.__module__ == "faust.tables.recovery"


def test_an_empty_active_set_selects_no_partition_in_aiokafka_s_filter() -> None:
    import inspect

    from aiokafka.consumer.fetcher import Fetcher

    from stream.agents.faust_fixes import _Active

    # the filter aiokafka applies to what it hands over (a canary if aiokafka changes it)
    assert "if partitions and tp not in partitions:" in inspect.getsource(Fetcher.fetched_records)

    def handed_over(partitions: Any, buffered: list[Any]) -> list[Any]:
        return [tp for tp in buffered if not (partitions and tp not in partitions)]

    live: set[Any] = set()
    buffered = [INPUT, CHANGELOG]
    assert handed_over(live, buffered) == buffered  # the bug: empty means everything
    view = _Active(live)
    assert handed_over(view, buffered) == []
    live.add(CHANGELOG)  # membership is read live, as Faust resumes and pauses
    assert handed_over(view, buffered) == [CHANGELOG]


def test_the_driver_fetches_through_the_live_view() -> None:
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    from stream.agents.faust_fixes import _Active, fetch_only_active_partitions

    seen: list[Any] = []

    async def original(
        self: Any, consumer: Any, active: Any, timeout: Any = None, max_records: Any = None
    ) -> Any:
        seen.append(active)
        return {}

    saved = AIOKafkaConsumerThread.__dict__.get("_stream_original__fetch_records")
    saved_fetch = AIOKafkaConsumerThread.__dict__["_fetch_records"]
    try:
        AIOKafkaConsumerThread._stream_original__fetch_records = original  # type: ignore[attr-defined]
        fetch_only_active_partitions()
        fetch_only_active_partitions()  # idempotent: still one wrapper around the original
        live: set[Any] = set()
        asyncio.run(AIOKafkaConsumerThread._fetch_records(None, None, live, timeout=1.0))  # type: ignore[arg-type]
        assert isinstance(seen[0], _Active) and seen[0].partitions is live
    finally:
        setattr(AIOKafkaConsumerThread, "_fetch_records", saved_fetch)  # noqa: B010
        if saved is None:
            delattr(AIOKafkaConsumerThread, "_stream_original__fetch_records")
        else:
            setattr(AIOKafkaConsumerThread, "_stream_original__fetch_records", saved)  # noqa: B010


class FakeMessage:
    def __init__(self, tp: Any, offset: int) -> None:
        self.tp, self.offset, self.acked = tp, offset, False


class FakeOffsets:
    """What Faust's ``Consumer._new_offset`` reads of its consumer."""

    def __init__(self, committed: int | None, acked: list[int], in_flight: list[int]) -> None:
        from collections import defaultdict

        from intervaltree import IntervalTree  # type: ignore[import-untyped]

        self._acked: dict[Any, list[int]] = defaultdict(list, {INPUT: list(acked)})
        self._acked_index: dict[Any, set[int]] = defaultdict(set, {INPUT: set(acked)})
        self._gap: dict[Any, Any] = defaultdict(IntervalTree)
        self._committed_offset: dict[Any, int | None] = defaultdict(
            lambda: None, {INPUT: committed})
        self._unacked_messages = {FakeMessage(INPUT, o) for o in in_flight}

    def ack(self, offset: int) -> None:
        for m in self._unacked_messages:
            if m.offset == offset:
                m.acked = True
        self._acked[INPUT].append(offset)
        self._acked_index[INPUT].add(offset)


def _faust_new_offset() -> Any:
    from faust.transport.consumer import Consumer

    return Consumer.__dict__.get("_stream_original__new_offset", Consumer._new_offset)


def test_faust_commits_past_a_message_in_flight_and_the_fix_does_not() -> None:
    from stream.agents.faust_fixes import _new_offset_below_unacked

    faust_new_offset = _faust_new_offset()
    fixed = _new_offset_below_unacked(faust_new_offset)
    # the message at the committed offset is in flight, the next ones are acknowledged
    assert faust_new_offset(FakeOffsets(31, [32, 33, 34], [31]), INPUT) == 35  # 31 is lost
    consumer = FakeOffsets(31, [32, 33, 34], [31])
    assert fixed(consumer, INPUT) is None
    assert consumer._acked[INPUT] == [32, 33, 34]  # kept for the next commit
    consumer.ack(31)
    assert fixed(consumer, INPUT) == 35
    # nothing committed yet (a new group): Faust takes the first run, wherever it starts
    assert faust_new_offset(FakeOffsets(None, [200, 201], [100, 150]), INPUT) == 202
    assert fixed(FakeOffsets(None, [200, 201], [100, 150]), INPUT) is None


def test_the_fix_commits_up_to_the_first_message_in_flight() -> None:
    from stream.agents.faust_fixes import _new_offset_below_unacked

    fixed = _new_offset_below_unacked(_faust_new_offset())
    consumer = FakeOffsets(10, [10, 11, 12, 20, 21], [13, 14])
    assert fixed(consumer, INPUT) == 13
    assert sorted(consumer._acked[INPUT]) == [20, 21]
    # with nothing in flight it is Faust's own computation
    assert fixed(FakeOffsets(10, [10, 11, 12], []), INPUT) == 13


def test_installing_the_commit_fix_is_idempotent() -> None:
    from faust.transport.consumer import Consumer

    from stream.agents.faust_fixes import never_commit_past_unacked

    never_commit_past_unacked()
    never_commit_past_unacked()
    kept = Consumer.__dict__["_stream_original__new_offset"]
    assert kept.__module__ == "faust.transport.consumer"
    assert Consumer.__dict__["_new_offset"].__closure__[0].cell_contents is kept
