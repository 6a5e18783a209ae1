"""Per-ticket checkpoints: round trip, torn last line, fingerprints and run ids, discard."""

from __future__ import annotations

from datetime import UTC, datetime

from llm_operators.core.checkpoint import Checkpoint
from llm_operators.core.models import OutcomeStatus, Ticket, TicketOutcome


def outcome(tid: str, body: str = "Crème brûlée arrived cold", **changes: object) -> TicketOutcome:
    ticket = Ticket(id=tid, created_at=datetime(2025, 10, 1, 8, tzinfo=UTC), subject="Café order", body=body)
    data: dict = {"ticket_id": tid, "day": "2025-10-01", "status": OutcomeStatus.UNRESOLVED, "ticket": ticket}
    data.update(changes)
    return TicketOutcome(**data)


def outcomes_of(path, run_id: str = "run-1") -> dict[str, TicketOutcome]:
    return {tid: e.outcome for tid, e in Checkpoint(path, run_id).load().items()}


def test_missing_file_loads_empty(tmp_path):
    assert Checkpoint(tmp_path / "cp.jsonl", "run-1").load() == {}


def test_append_load_round_trip_keeps_fingerprint_and_run(tmp_path):
    path = tmp_path / "cp.jsonl"
    cp = Checkpoint(path, "run-1")
    written = [outcome("T-1"), outcome("T-2", error="empty body"), outcome("T-3", body="")]
    for n, o in enumerate(written):
        cp.append(o, f"fp-{n}")
    cp.close()
    loaded = Checkpoint(path, "run-2").load()
    assert list(loaded) == ["T-1", "T-2", "T-3"]
    assert [e.outcome for e in loaded.values()] == written
    assert [(e.fingerprint, e.run_id) for e in loaded.values()] == [
        ("fp-0", "run-1"),
        ("fp-1", "run-1"),
        ("fp-2", "run-1"),
    ]
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3


def test_entries_are_on_disk_before_close(tmp_path):
    path = tmp_path / "cp.jsonl"
    cp = Checkpoint(path, "run-1")
    cp.append(outcome("T-1"), "fp")
    assert list(outcomes_of(path)) == ["T-1"]  # flushed, although still open
    cp.close()


def test_later_entry_for_the_same_ticket_wins(tmp_path):
    path = tmp_path / "cp.jsonl"
    cp = Checkpoint(path, "run-1")
    cp.append(outcome("T-1", error="first"), "fp-a")
    cp.append(outcome("T-1", error="second"), "fp-b")
    cp.close()
    entry = Checkpoint(path).load()["T-1"]
    assert (entry.outcome.error, entry.fingerprint) == ("second", "fp-b")


def test_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "cp.jsonl"
    cp = Checkpoint(path, "run-1")
    cp.append(outcome("T-1"), "fp")
    cp.close()
    whole = f"fp\trun-1\t{outcome('T-2').model_dump_json()}\n".encode()
    with path.open("ab") as fh:
        fh.write(whole[: len(whole) // 2])  # a worker killed mid-write
    assert list(outcomes_of(path)) == ["T-1"]


def test_line_torn_inside_a_multibyte_character_is_ignored(tmp_path):
    path = tmp_path / "cp.jsonl"
    cp = Checkpoint(path, "run-1")
    cp.append(outcome("T-1"), "fp")
    cp.close()
    whole = f"fp\trun-1\t{outcome('T-2', body='é' * 50).model_dump_json()}\n".encode()
    cut = whole.index("é".encode()) + 1  # between the two bytes of é
    with path.open("ab") as fh:
        fh.write(whole[:cut])
    assert list(outcomes_of(path)) == ["T-1"]


def test_append_after_a_torn_line_starts_a_new_line(tmp_path):
    path = tmp_path / "cp.jsonl"
    path.write_bytes(f'fp\trun-1\t{outcome("T-1").model_dump_json()}\nfp\trun-1\t{{"ticket_id": "T-'.encode())
    cp = Checkpoint(path, "run-1")
    assert list(cp.load()) == ["T-1"]
    cp.append(outcome("T-3"), "fp")  # the retry finishes another ticket
    cp.close()
    assert list(outcomes_of(path)) == ["T-1", "T-3"]


def test_lines_of_the_old_format_are_ignored(tmp_path):
    path = tmp_path / "cp.jsonl"
    path.write_bytes(f"fp\t{outcome('T-1').model_dump_json()}\n".encode())  # no run id
    assert Checkpoint(path, "run-1").load() == {}


def test_discard_removes_the_file(tmp_path):
    path = tmp_path / "cp.jsonl"
    cp = Checkpoint(path, "run-1")
    cp.append(outcome("T-1"), "fp")
    cp.discard()  # also closes the open handle
    assert not path.exists()
    assert Checkpoint(path, "run-1").load() == {}
    cp.discard()  # discarding twice is harmless
    cp.append(outcome("T-2"), "fp")  # and the checkpoint can be written again
    cp.close()
    assert list(outcomes_of(path)) == ["T-2"]
