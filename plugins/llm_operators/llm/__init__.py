"""The LiteLLM layer: the offline provider and the Router-backed client. No Airflow here."""

import os

# litellm downloads its model cost map at import unless told not to; there is no network here, and
# a production worker should not depend on GitHub being up to price a call.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
