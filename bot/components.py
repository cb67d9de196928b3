"""小宝's own Rasa graph component, whose import speeds up two hot spots of the Rasa server
found by profiling a turn (README, "吞吐量 / Throughput"); the component itself passes
messages through untouched.

1. Rasa 3.6 validates every custom action's response with ``jsonschema.validate(result,
schema)``, which checks the (large, all-events) schema itself before each validation: about
50 ms of the Rasa server's CPU per action call on this machine, against about 3 ms for the
same validation with a validator built once. The same responses are accepted and refused,
with the same error.
2. Every event read from the tracker store (each turn reads and merges the whole
   conversation) looks up its class with ``Event.resolve_by_type``, which walks all
   subclasses of ``Event`` each time: about a fifth of the server's CPU on a conversation of
   a few dozen turns. Looked up in a table built once instead, same first-match order.

Listing :class:`ServerSpeedups` in ``config.yml``'s pipeline imports this module in
``rasa train`` and ``rasa run`` alike.

Imported by the Rasa server (``.venv-rasa``, Python 3.10) only: nothing here may import the
gateway's packages.
"""
# ruff: noqa: UP006, UP035, UP045  (typing.List/Dict/Optional: Rasa reads these annotations)
import re
import unicodedata
from functools import lru_cache
from typing import Any, Dict, List, Optional, Type

import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.common import all_subclasses


@lru_cache(maxsize=1)
def action_response_validator() -> Any:
    """The validator for Rasa's action-response schema, its schema checked once."""
    schema = RemoteAction.action_response_format_spec()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    """Rasa's ``RemoteAction._validate_action_result`` with the prebuilt validator."""
    error = jsonschema.exceptions.best_match(action_response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            "from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions")
        raise error
    return True


RemoteAction._validate_action_result = validate_action_result

_original_resolve_by_type = Event.resolve_by_type


@lru_cache(maxsize=1)
def _event_classes() -> Dict[str, Type[Event]]:
    table: Dict[str, Type[Event]] = {}
    for cls in all_subclasses(Event):
        table.setdefault(cls.type_name, cls)  # Rasa returns the first match
    return table


def resolve_by_type(type_name: str, default: Optional[Type[Event]] = None
                    ) -> Optional[Type[Event]]:
    """Rasa's ``Event.resolve_by_type`` from a table; unknown names go to the original (its
    defaults and errors)."""
    found = _event_classes().get(type_name)
    return found if found is not None else _original_resolve_by_type(type_name, default)


Event.resolve_by_type = staticmethod(resolve_by_type)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER],
                          is_trainable=False)
class ServerSpeedups(GraphComponent):
    """A pass-through component whose import installs the two speed-ups above."""

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "ServerSpeedups":
        return cls()

    # typing.List and TrainingData: Rasa checks these annotations when it builds the graph.
    def process(self, messages: List[Message]) -> List[Message]:
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


def normal_form(text: str) -> str:
    """What the gateway sends Rasa (``retrieval.normalize.normalize``, less its simplified-
    Chinese step): NFKC — full-width "？" as "?" — and whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER],
                          is_trainable=False)
class TextNormalizer(GraphComponent):
    """Trains on the text as the gateway sends it. The gateway folds every message to NFKC
    before Rasa sees it, while bot/data writes full-width punctuation: the model learned "？"
    and was served "?", and "热气球观光项目要什么资质?" went out of scope where "…资质？" was a
    question. Training examples and typed messages (not ``/intent`` payloads, which carry the
    user's words as written) get the one form."""

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "TextNormalizer":
        return cls()

    @staticmethod
    def _normalise(message: Message) -> None:
        text = message.get(TEXT)
        if isinstance(text, str) and text and not text.startswith("/"):
            message.set(TEXT, normal_form(text))

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._normalise(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._normalise(message)
        return training_data
