"""Suggested replies in the console: the knowledge base's best answers to the customer's last
message, for the person who has the conversation, and what became of them per entry. Replying
with one is the staff reply (bot/api/routes/staff.py), which records it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from bot.api.admission import admit_turn
from bot.api.deps import StaffDep, SuggestionsDep, get_staff_member
from bot.api.openapi import errors
from bot.api.staff_schemas import SuggestionsOut, SuggestionUsageOut

router = APIRouter(
    prefix="/api/staff",
    tags=["staff"],
    dependencies=[Depends(get_staff_member)],
    responses=errors(401, 503),
)


@router.get(
    "/conversations/{conversation_id}/suggestions",
    response_model=SuggestionsOut,
    # A forward pass like a chat turn's: counted with them, refused with 503 when they are.
    dependencies=[Depends(admit_turn)],
    responses=errors(403, 404, 409),
)
def suggestions(
    conversation_id: str, member: StaffDep, suggestions: SuggestionsDep
) -> SuggestionsOut:
    """The three best knowledge-base answers to the customer's last message, worded as the bot
    would send them (slots filled from the conversation and the profile, or the fallback), with
    the retriever's score. 403 unless you have the conversation; 409 before the customer has
    written anything."""
    return SuggestionsOut.model_validate(suggestions.suggest(member, conversation_id))


@router.get("/suggestions/by-entry", response_model=SuggestionUsageOut, responses=errors(422))
def suggestion_usage(
    suggestions: SuggestionsDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> SuggestionUsageOut:
    """Per knowledge-base entry over the last ``days`` days: how often its suggestion was sent
    as it was, edited first, or shown and ignored; the most edited or ignored first."""
    return SuggestionUsageOut.model_validate(suggestions.usage(days))
