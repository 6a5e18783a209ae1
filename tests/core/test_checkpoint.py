"""Per-ticket checkpoints: round trip, torn last line, fingerprint, discard."""

from __future__ import annotations

from datetime import UTC, datetime

from llm_operators.core.checkpoint import Checkpoint
from llm_operators.core.models import OutcomeStatus, Ticket, TicketOutcome


def outcome(tid: str, body: str = "Crème brûlée arrived cold", **changes: object) -> TicketOutcome:
    ticket = Ticket(id=tid, created_at=datetime(2025, 10, 1, 8, tzinfo=UTC), subject="Café order", body=body)
    data: dict = {"ticket_id": tid, "day": "2025-10-01", "status": OutcomeStatus.UNRESOLVED, "ticket": ticket}
    data.update(changes)
    return TicketOutcome(**data)


def test_missing_file_loads_empty(tmp_path):
    assert Checkpoint(tmp_path / "cp.jsonl", "fp").load() == {}


def test_append_load_round_trip(tmp_path):
    path = tmp_path / "cp.jsonl"
    cp = Checkpoint(path, "fp-1")
    written = [outcome("T-1"), outcome("T-2", error="empty body"), outcome("T-3", body="")]
    for o in written:
        cp.append(o)
    cp.close()
    loaded = Checkpoint(path, "fp-1").load()
    assert list(loaded) == ["T-1", "T-2", "T-3"]
    assert list(loaded.values()) == written
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3


def test_entries_are_on_disk_before_close(tmp_path):
    path = tmp_path / "cp.jsonl"
    cp = Checkpoint(path, "fp")
    cp.append(outcome("T-1"))
    assert list(Checkpoint(path, "fp").load()) == ["T-1"]  # flushed, although still open
    cp.close()


def test_later_entry_for_the_same_ticket_wins(tmp_path):
    path = tmp_path / "cp.jsonl"
    cp = Checkpoint(path, "fp")
    cp.append(outcome("T-1", error="first"))
    cp.append(outcome("T-1", error="second"))
    cp.close()
    assert Checkpoint(path, "fp").load()["T-1"].error == "second"


def test_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "cp.jsonl"
    cp = Checkpoint(path, "fp")
    cp.append(outcome("T-1"))
    cp.close()
    whole = f"fp\t{outcome('T-2').model_dump_json()}\n".encode()
    with path.open("ab") as fh:
        fh.write(whole[: len(whole) // 2])  # a worker killed mid-write
    assert list(Checkpoint(path, "fp").load()) == ["T-1"]


def test_line_torn_inside_a_multibyte_character_is_ignored(tmp_path):
    path = tmp_path / "cp.jsonl"
    cp = Checkpoint(path, "fp")
    cp.append(outcome("T-1"))
    cp.close()
    whole = f"fp\t{outcome('T-2', body='é' * 50).model_dump_json()}\n".encode()
    cut = whole.index("é".encode()) + 1  # between the two bytes of é
    with path.open("ab") as fh:
        fh.write(whole[:cut])
    assert list(Checkpoint(path, "fp").load()) == ["T-1"]


def test_append_after_a_torn_line_starts_a_new_line(tmp_path):
    path = tmp_path / "cp.jsonl"
    path.write_bytes(f'fp\t{outcome("T-1").model_dump_json()}\nfp\t{{"ticket_id": "T-'.encode())
    cp = Checkpoint(path, "fp")
    assert list(cp.load()) == ["T-1"]
    cp.append(outcome("T-3"))  # the retry finishes another ticket
    cp.close()
    assert list(Checkpoint(path, "fp").load()) == ["T-1", "T-3"]


def test_entries_with_another_fingerprint_are_ignored(tmp_path):
    path = tmp_path / "cp.jsonl"
    old = Checkpoint(path, "ladder-v1")
    old.append(outcome("T-1"))
    old.close()
    new = Checkpoint(path, "ladder-v2")
    new.append(outcome("T-2"))
    new.close()
    assert list(Checkpoint(path, "ladder-v2").load()) == ["T-2"]
    assert list(Checkpoint(path, "ladder-v1").load()) == ["T-1"]


def test_discard_removes_the_file(tmp_path):
    path = tmp_path / "cp.jsonl"
    cp = Checkpoint(path, "fp")
    cp.append(outcome("T-1"))
    cp.discard()  # also closes the open handle
    assert not path.exists()
    assert Checkpoint(path, "fp").load() == {}
    cp.discard()  # discarding twice is harmless
    cp.append(outcome("T-2"))  # and the checkpoint can be written again
    cp.close()
    assert list(Checkpoint(path, "fp").load()) == ["T-2"]
