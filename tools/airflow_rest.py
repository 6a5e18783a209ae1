"""JSON over Airflow's REST API for the scripts and tests that drive a real Airflow on this machine.

Unauthenticated, as the throw-away Airflows they start are (`simple_auth_manager_all_admins`).
`get_or_none` answers None while the api-server is not up yet, so a caller can poll it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class AirflowRest:
    def __init__(self, base: str, timeout_s: float = 30) -> None:
        self.base = base.rstrip("/")  # e.g. http://127.0.0.1:8080/api/v2
        self.timeout_s = timeout_s

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        req = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            return json.loads(resp.read() or b"null")

    def get_or_none(self, path: str) -> Any:
        try:
            return self.request("GET", path)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None
