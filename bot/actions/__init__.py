"""小宝's custom actions (Python 3.11, rasa-sdk).

``ActionExecutor().register_package("bot.actions")`` imports these modules and
registers every concrete ``Action`` in them; the gateway mounts the executor as
Rasa's action endpoint, so the actions share its retrieval index.
"""
from bot.actions import answer, forms, handoffs, rating  # noqa: F401  (registration)
