"""`[core] hostname_callable` for the Celery test: each worker reports the name it was started with,
so task instances show which of the two workers ran them (both run on this one machine)."""

import os
import socket


def worker_name() -> str:
    return os.environ.get("TRIAGE_WORKER_NAME") or socket.getfqdn()
