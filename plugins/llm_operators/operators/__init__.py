"""Thin Airflow operators: each resolves its inputs, calls the core, and logs what happened."""
