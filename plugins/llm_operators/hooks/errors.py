"""Configuration errors that fail a task at once: a retry cannot fix a wrong connection or setting."""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException

from llm_operators.core.config import ConfigError


class ConnectionConfigError(ConfigError, AirflowFailException):
    """A `ConfigError` (the message names the setting) that Airflow fails without retries.

    Still a `ConfigError`/`ValueError`, so code and tests that catch those keep working.
    """
