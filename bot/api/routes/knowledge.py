"""The knowledge-base API behind the console's Knowledge page: list, read, create, edit, retire
an entry, add a question to it, its history, two versions compared, a revert. Editors and
admins only (403 for agents); content that breaks the knowledge base's rules is a 422 naming
the field. A change is live on every worker within seconds (bot.support.knowledge_sync)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from bot.api.deps import RuntimeDep, StaffDep, get_staff_member
from bot.api.knowledge_schemas import (
    ActionOut,
    ComparisonOut,
    EditIn,
    EntryIn,
    EntryOut,
    QuestionIn,
    RetireIn,
    RevertIn,
    VersionOut,
)
from bot.api.openapi import errors
from bot.runtime import Runtime
from bot.support.accounts import StaffMember
from bot.support.knowledge import EntryState, KnowledgeService, check_editor


def get_knowledge(runtime: RuntimeDep) -> KnowledgeService:
    return runtime.knowledge


def require_editor(member: Annotated[StaffMember, Depends(get_staff_member)]) -> None:
    check_editor(member)


KnowledgeDep = Annotated[KnowledgeService, Depends(get_knowledge)]
EntryId = Annotated[str, Path(min_length=1, max_length=200)]
Version = Annotated[int, Query(ge=1, le=2**31 - 1)]

router = APIRouter(
    prefix="/api/staff/knowledge",
    tags=["knowledge"],
    dependencies=[Depends(require_editor)],
    # 422: every route checks its path (an entry id's length) and its query or body.
    responses=errors(401, 403, 422, 503),
)


def entry_out(state: EntryState, runtime: Runtime) -> EntryOut:
    action = runtime.chat.actions.for_answer(
        state.id, str(state.content["intent"]), state.content.get("action")
    )
    return EntryOut(
        id=state.id,
        content=state.content,
        retired=state.retired,
        version=state.version,
        updated_at=state.updated_at,
        action=action.name if action is not None else None,
    )


@router.get("/actions", response_model=list[ActionOut])
def actions(runtime: RuntimeDep) -> list[ActionOut]:
    """The actions an entry may name (the company's actions file)."""
    return [ActionOut.model_validate(action) for action in runtime.chat.actions.actions]


@router.get("/entries", response_model=list[EntryOut])
def entries(knowledge: KnowledgeDep, runtime: RuntimeDep) -> list[EntryOut]:
    """Every entry in the knowledge base's order, the retired ones too."""
    return [entry_out(state, runtime) for state in knowledge.entries()]


@router.get("/entries/{entry_id}", response_model=EntryOut, responses=errors(404))
def entry(entry_id: EntryId, knowledge: KnowledgeDep, runtime: RuntimeDep) -> EntryOut:
    return entry_out(knowledge.entry(entry_id), runtime)


@router.post(
    "/entries",
    response_model=EntryOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(409, 422),
)
def create(
    body: EntryIn, member: StaffDep, knowledge: KnowledgeDep, runtime: RuntimeDep
) -> EntryOut:
    return entry_out(knowledge.create(body.document(), member), runtime)


@router.put("/entries/{entry_id}", response_model=EntryOut, responses=errors(404, 409, 422))
def edit(
    entry_id: EntryId,
    body: EditIn,
    member: StaffDep,
    knowledge: KnowledgeDep,
    runtime: RuntimeDep,
) -> EntryOut:
    """The entry's whole new content; 409 if it changed since ``base_version``."""
    edited = knowledge.edit(entry_id, body.entry.document(), member, body.base_version)
    return entry_out(edited, runtime)


@router.post(
    "/entries/{entry_id}/questions", response_model=EntryOut, responses=errors(404, 409, 422)
)
def add_question(
    entry_id: EntryId,
    body: QuestionIn,
    member: StaffDep,
    knowledge: KnowledgeDep,
    runtime: RuntimeDep,
) -> EntryOut:
    """One more way customers ask for the entry (say, a question the bot could not answer)."""
    return entry_out(knowledge.add_question(entry_id, body.question, member), runtime)


@router.post("/entries/{entry_id}/retire", response_model=EntryOut, responses=errors(404, 409))
def retire(
    entry_id: EntryId,
    body: RetireIn,
    member: StaffDep,
    knowledge: KnowledgeDep,
    runtime: RuntimeDep,
) -> EntryOut:
    """No longer served; its history stays, and a revert brings it back."""
    return entry_out(knowledge.retire(entry_id, member, body.base_version), runtime)


@router.post("/entries/{entry_id}/revert", response_model=EntryOut, responses=errors(404, 409, 422))
def revert(
    entry_id: EntryId,
    body: RevertIn,
    member: StaffDep,
    knowledge: KnowledgeDep,
    runtime: RuntimeDep,
) -> EntryOut:
    """A new version with an earlier version's content (and retired or not)."""
    return entry_out(knowledge.revert(entry_id, body.version, member), runtime)


@router.get("/entries/{entry_id}/history", response_model=list[VersionOut], responses=errors(404))
def history(entry_id: EntryId, knowledge: KnowledgeDep) -> list[VersionOut]:
    """Every version, newest first, each with who made it and when."""
    return [VersionOut.model_validate(version) for version in knowledge.history(entry_id)]


@router.get("/entries/{entry_id}/compare", response_model=ComparisonOut, responses=errors(404))
def compare(
    entry_id: EntryId, older: Version, newer: Version, knowledge: KnowledgeDep
) -> ComparisonOut:
    """What changed from version ``older`` to version ``newer``, field by field."""
    return ComparisonOut.model_validate(knowledge.compare(entry_id, older, newer))
