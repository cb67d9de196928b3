"""The actions as the gateway registers them: one instance each, built with its services."""
import inspect
from pathlib import Path

import yaml
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.utils import all_subclasses

import bot.actions
from bot.actions import build_actions
from tests.bot.conftest import FakeServices

DOMAIN = Path(bot.actions.__file__).parents[1] / "domain.yml"


def test_build_actions_makes_one_of_every_action_with_the_services():
    services = FakeServices()
    actions = build_actions(services)
    ours = {cls for cls in all_subclasses(Action)
            if cls.__module__.startswith("bot.actions.") and not inspect.isabstract(cls)}
    assert {type(a) for a in actions} == ours and len(actions) == len(ours)
    assert all(a.services is services for a in actions)


def test_the_executor_serves_every_action_the_domain_names():
    executor = ActionExecutor()
    for action in build_actions(FakeServices()):
        executor.register_action(action)
    domain = yaml.safe_load(DOMAIN.read_text("utf-8"))
    assert sorted(executor.actions) == sorted(domain["actions"])
