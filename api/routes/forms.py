"""智能填表 for the enterprise signed in on this browser (the USCC from its session, never from
the request): a policy's application form pre-filled from the register and this browser's
check-up, as JSON or as a PDF to download. A policy it neither qualifies for nor may is a 404,
as an unknown one is."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import SessionDep, SettingsDep, SignedInUscc, conversation_id_from_cookies
from api.errors import error_responses
from api.policy_schemas import PolicyId
from entitlements.filling import FilledForm, fill
from entitlements.filling_pdf import pdf_bytes
from policies.checkups import latest_checkup
from xiaobao.clock import today

router = APIRouter(prefix="/api/enterprise/forms", tags=["enterprise"],
                   responses=error_responses(401, 404, 422))


def _filled(request: Request, session: SessionDep, settings: SettingsDep, uscc: str,
            policy_id: str) -> FilledForm:
    conversation = conversation_id_from_cookies(dict(request.cookies), settings)
    kept = latest_checkup(session, conversation) if conversation else None
    given = {k: v for k, v in kept.facts.items() if k not in kept.declined} if kept else None
    return fill(session, uscc, policy_id, today(), given)


# Declared before the JSON route: its id pattern admits a dot, so "x.pdf" would match it.
@router.get("/{policy_id}.pdf", response_class=Response, responses={200: {
    "description": "The pre-filled form as PDF", "content": {"application/pdf": {}}}})
def form_pdf(policy_id: PolicyId, request: Request, session: SessionDep, settings: SettingsDep,
             uscc: SignedInUscc) -> Response:
    content = pdf_bytes(_filled(request, session, settings, uscc, policy_id))
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="form-{policy_id}.pdf"'})


@router.get("/{policy_id}")
def form_json(policy_id: PolicyId, request: Request, session: SessionDep, settings: SettingsDep,
              uscc: SignedInUscc) -> dict:
    """Each field with its value, source and as-of date (``to_fill`` the ones left), the
    materials with what the register proves, and the enterprise's status for the policy."""
    return _filled(request, session, settings, uscc, policy_id).to_dict()
