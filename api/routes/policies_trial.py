"""The policy editors' test panel: an item — saved (``/{id}/test``) or being written
(``/test``) — against a sample enterprise: its checks before publishing, each condition met ✅,
failed ❌ or unknown ❓, the result, and the boundary cases of every threshold and date with
their expected results (:func:`policies.workbench.trial_run`). Nothing is saved."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from api.deps import PolicyEditorAccount, ServicesDep
from api.policy_schemas import PolicyId, SampleIn, TrialIn, policies_router
from policies import store
from policies.workbench import trial_run
from xiaobao import clock
from xiaobao.db import session_scope

router = policies_router()


@router.post("/test")
async def try_unsaved(body: TrialIn, _: PolicyEditorAccount) -> dict:
    """The form as it stands (it may be unfinished: what cannot be evaluated yet is among the
    checks)."""
    return await run_in_threadpool(trial_run, body.item, body.facts, body.declined,
                                   body.date or clock.today())


@router.post("/{policy_id}/test")
def try_saved(policy_id: PolicyId, body: SampleIn, services: ServicesDep,
               _: PolicyEditorAccount) -> dict:
    """A saved item, as its current version stands."""
    with session_scope(services.engine) as s:
        data = dict(store.get_item(s, policy_id).data)
    return trial_run(data, body.facts, body.declined, body.date or clock.today())
