"""Triggers run in Airflow's triggerer: they wait (poll) so that no worker slot is held."""
