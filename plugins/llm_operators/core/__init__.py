"""The pure core: tickets, prompts, the ladder, the gate, the report. No Airflow, no litellm here."""
