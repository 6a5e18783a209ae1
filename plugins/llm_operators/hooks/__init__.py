"""Hooks own the connections and their clients (cached): LiteLLM, Jira, Slack, the reply channels, Redis."""
