"""A customer's data on request, for admins: export it, erase it. Each is on the record with
the admin's id; agents are refused."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from bot.analytics.privacy import Actor, CustomerRef, PrivacyService
from bot.api.deps import RuntimeDep, StaffDep, get_staff_member
from bot.api.openapi import errors
from bot.api.privacy_schemas import CustomerExportOut, ErasureOut
from bot.errors import Forbidden, Rejected
from bot.support.accounts import Role, StaffMember

router = APIRouter(
    prefix="/api/staff/customers",
    tags=["privacy"],
    dependencies=[Depends(get_staff_member)],
    responses=errors(401, 403, 404, 422, 503),
)


async def get_privacy(runtime: RuntimeDep) -> PrivacyService:
    return PrivacyService(runtime.sessions, runtime.settings.retention_days, events=runtime.events)


async def get_admin(member: StaffDep) -> StaffMember:
    if member.role is not Role.ADMIN:
        raise Forbidden("only an admin can export or erase a customer's data")
    return member


PrivacyDep = Annotated[PrivacyService, Depends(get_privacy)]
AdminDep = Annotated[StaffMember, Depends(get_admin)]
ByQuery = Annotated[
    Literal["id", "external_id"],
    Query(description="`id`: the internal customer id; `external_id`: the site's own id"),
]


def _ref(customer: str, by: str) -> CustomerRef:
    if by == "external_id":
        return CustomerRef(external_id=customer)
    if not customer.isdigit():
        raise Rejected(
            f"{customer!r} is not an internal customer id (a number); add ?by=external_id for "
            "the id the company's site knows the customer by"
        )
    return CustomerRef(int(customer))


@router.get("/{customer}/export", response_model=CustomerExportOut)
def export_customer(
    customer: str, admin: AdminDep, privacy: PrivacyDep, response: Response, by: ByQuery = "id"
) -> dict[str, Any]:
    """Everything held about the customer, as one JSON document (a file to save)."""
    document = privacy.export(_ref(customer, by), Actor.staff(admin.id))
    filename = f"customer-{document['customer']['id']}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return document


@router.delete("/{customer}", response_model=ErasureOut)
def erase_customer(
    customer: str, admin: AdminDep, privacy: PrivacyDep, by: ByQuery = "id"
) -> ErasureOut:
    """Erase everything that identifies the customer; it cannot be undone."""
    erased = privacy.erase(_ref(customer, by), Actor.staff(admin.id))
    return ErasureOut(customer_id=erased.customer_id, rows=erased.rows)
