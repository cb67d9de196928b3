"""小宝's custom actions (Python 3.11, rasa-sdk).

Every action takes the gateway's services in its constructor (``Action(services)``, see
:class:`bot.actions.deps.ActionServices`). The gateway registers one instance of each with
rasa-sdk's executor and mounts it as Rasa's action endpoint, so the actions share its
retrieval index, database and handoff context::

    executor = ActionExecutor()
    for action in build_actions(services):
        executor.register_action(action)

Importing this package has no side effect (no index, database or Redis is touched). Do not
use ``register_package("bot.actions")`` or rasa-sdk's own action server on it: they build
actions without arguments.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.actions.answer import ActionAnswerQuestion, ActionChooseEntry, ActionRecordFeedback
from bot.actions.forms import (
    ActionResetFormSlots,
    ValidateCall12345Form,
    ValidateHandoffForm,
)
from bot.actions.handoffs import ActionHandoff, ActionRequest12345Call
from bot.actions.policy_check import ActionPolicyCheck
from bot.actions.rating import ActionRecordRating

if TYPE_CHECKING:
    from rasa_sdk import Action

    from bot.actions.deps import ActionServices

# Every action and slot-validation class of the bot.
ACTION_CLASSES = (
    ActionAnswerQuestion, ActionChooseEntry, ActionRecordFeedback,
    ValidateHandoffForm, ValidateCall12345Form, ActionResetFormSlots,
    ActionHandoff, ActionRequest12345Call,
    ActionRecordRating, ActionPolicyCheck,
)


def build_actions(services: ActionServices) -> list[Action]:
    """One instance of every action, each holding ``services``."""
    return [cls(services) for cls in ACTION_CLASSES]
