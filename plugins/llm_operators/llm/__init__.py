"""The LiteLLM layer: the Router-backed client, its cache, limits and breaker, the offline provider,
batches and Langfuse. No Airflow here; importing the package imports neither litellm nor langfuse and
changes nothing (litellm's process-wide state: llm/environment.py)."""
