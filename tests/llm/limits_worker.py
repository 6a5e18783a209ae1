"""One triage process for test_shared_limits: a day through `triage_day` with the Redis-backed cache,
breaker and limiter, like one mapped triage task. argv: plugins dir, settings JSON, source root,
output dir, day, Redis db, limits window (seconds)."""

import json
import os
import sys
from datetime import date
from pathlib import Path

import redis

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")
sys.path.insert(0, sys.argv[1])

from llm_operators.core.config import LiteLLMSettings
from llm_operators.core.day_source import FileTicketSource
from llm_operators.core.ladder import Ladder, LadderPolicy
from llm_operators.core.outputs import DayOutputs
from llm_operators.core.triage_run import DayPlan, triage_day
from llm_operators.llm.cache import install_cache
from llm_operators.llm.router_client import TriageRouter

settings = LiteLLMSettings.parse(json.loads(sys.argv[2]), "worker")
day = date.fromisoformat(sys.argv[5])
install_cache(
    {
        "type": "redis",
        "host": "127.0.0.1",
        "port": 6379,
        "db": int(sys.argv[6]),
        "namespace": f"{settings.cache_namespace}:answers",
        "ttl": 600,
    }
)
# the shared breaker and limiter live in the same Redis database as the answer cache, as the hook wires it
shared = redis.Redis(host="127.0.0.1", port=6379, db=int(sys.argv[6]))
router = TriageRouter(settings, cache_responses=True, redis=shared, limits_window_s=float(sys.argv[7]))
plan = DayPlan(
    source=FileTicketSource(Path(sys.argv[3])),
    outputs=DayOutputs(Path(sys.argv[4]), day.isoformat()),
    day=day,
    concurrency=8,
    progress_every_s=3600,
)
result = triage_day(plan, Ladder(LadderPolicy(rungs=settings.ladder), router.call))
router.close()
print(json.dumps({"triaged": result.summary.triaged, "tickets": result.summary.tickets}), flush=True)
