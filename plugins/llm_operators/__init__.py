"""ticket-triage-airflow: support tickets triaged by an LLM ladder, gated and routed, as Airflow operators.

A pure core (core/), the LiteLLM and Langfuse layer (llm/), and a thin Airflow shell (hooks/,
operators/, triggers/). Importing the package imports neither Airflow nor litellm.
"""
