"""Registers the DAG's timetable with Airflow, which serialises only timetables a plugin declares."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from llm_operators.schedule import DailyUtcUntil


class TicketTriageSchedulePlugin(AirflowPlugin):
    name = "ticket_triage_schedule"
    timetables = [DailyUtcUntil]
