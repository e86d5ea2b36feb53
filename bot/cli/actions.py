"""For the operator and the company's developer: actions check.

`cxagent actions check` loads the actions file from the settings (a mistake in it is one line
naming the action and the field, exit 2), calls the company's API for each action with sample
slot values, and prints one line per action: its name, outcome, HTTP status, latency and the
answer the customer would read. It reads only, unless `--allow-writes`: an action that writes is
skipped and said so. Exit 0 when every action called answered (found, not found or not allowed),
1 when one failed.

It calls the API as the chat does: as the customer given by `--customer`, as if the site had
signed the id; without one, as an anonymous visitor who proved who they are with
`verify_customer` (an order number and its e-mail address, by default its slots' examples).
With no company API configured (`CXAGENT_COMPANY_API_URL` unset, no `--api-url`), it starts the
demo shop's API in a temporary folder, so nothing it does reaches the shop `cxagent serve` runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import Commands, UsageError
from bot.config import Settings

if TYPE_CHECKING:
    from bot.actions import ActionCatalog, ActionResult, ActionRunner, ActionSpec


@dataclass(frozen=True)
class Customer:
    """Whom the calls act for: an id (None: nobody), and how it was had, for the reader."""

    customer_id: str | None
    how: str
    proof: ActionResult | None = None  # verify_customer's own result, when it proved the id


def cmd_actions_check(settings: Settings, args: argparse.Namespace) -> None:
    from bot.actions import ActionRunner, load_actions
    from bot.conversation.forms import VERIFY_ACTION

    if settings.actions is None:
        raise UsageError("no actions to check: CXAGENT_ACTIONS is none")
    catalog = load_actions(settings.actions)
    chosen = _chosen(catalog, args.action)
    verify = catalog.get(VERIFY_ACTION)
    samples = _samples(chosen, verify, args.slot)
    with _company_api(settings, args.api_url) as base_url:
        # Every action is called, however many failed before it: a check reports each one
        # rather than a circuit the breaker opened.
        runner = ActionRunner(
            base_url,
            settings.company_api_token.get_secret_value(),
            failures_to_open=len(catalog.actions) + 2,
        )
        try:
            customer = _customer(runner, verify, samples, args.customer)
            print(f"checking {len(chosen)} of {len(catalog.actions)} actions at {base_url}")
            print(f"customer: {customer.how}")
            failed = _check_each(runner, chosen, samples, customer, args.allow_writes)
        finally:
            runner.close()
    if failed:
        # The check's verdict, not an error of the command: exit 2 (bot.cli.main) stays for a
        # mistake to fix before anything was called.
        print(f"{failed} of the actions failed", file=sys.stderr)
        raise SystemExit(1)


def _chosen(catalog: ActionCatalog, name: str | None) -> list[ActionSpec]:
    if name is None:
        return list(catalog.actions)
    spec = catalog.get(name)
    if spec is None:
        raise UsageError(f"--action {name}: no such action; the file has {list(catalog.names)}")
    return [spec]


def _samples(
    chosen: Sequence[ActionSpec], verify: ActionSpec | None, given: Sequence[str]
) -> dict[str, dict[str, str]]:
    """Each action's slot values: the one given (`--slot NAME=VALUE`), else the slot's example.
    The proof's slots (verify_customer's) are always included, the calls may need them."""
    values: dict[str, str] = {}
    for item in given:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"--slot {item!r}: write it as NAME=VALUE, such as order_id=BC-204518")
        values[name.strip()] = value.strip()
    specs = {spec.name: spec for spec in chosen}
    if verify is not None:
        specs[verify.name] = verify
    samples: dict[str, dict[str, str]] = {}
    for spec in specs.values():
        samples[spec.name] = {}
        for slot in spec.slots:
            value = values.get(slot.name, slot.example)
            if slot.parse(value) is None:
                raise UsageError(
                    f"--slot {slot.name}={value}: action {spec.name!r} wants it to match "
                    f"{slot.pattern!r} (such as {slot.example})"
                )
            samples[spec.name][slot.name] = value
    unused = sorted(set(values) - {n for slots in samples.values() for n in slots})
    if unused:
        raise UsageError(f"--slot {unused[0]}: no action checked has a slot of that name")
    return samples


@contextmanager
def _company_api(settings: Settings, api_url: str | None) -> Iterator[str]:
    """The company API's base URL; the demo shop's, started for the check, when none is set."""
    url = api_url or settings.company_api_url
    if url is not None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--api-url {url!r}: not an http(s) URL")
        yield url.rstrip("/")
        return
    from bot.cli.serve import start_demo_shop

    with tempfile.TemporaryDirectory(prefix="cxagent-check-") as folder:
        demo = settings.model_copy(update={"demo_shop_dir": Path(folder)})
        shop = start_demo_shop(demo, 0)
        print(f"no company API set: the demo shop's API, started for this check in {folder}")
        try:
            yield shop.url
        finally:
            shop.stop()


def _customer(
    runner: ActionRunner,
    verify: ActionSpec | None,
    samples: Mapping[str, Mapping[str, str]],
    customer_id: str | None,
) -> Customer:
    """The customer the calls act for, had as the chat has it (bot/conversation/service.py,
    ``ChatService.act``): signed by the site, or proved with ``verify``."""
    from bot.actions import Outcome

    if customer_id:
        return Customer(customer_id, f"{customer_id} (given, as the site would sign it)")
    if verify is None:
        return Customer(None, "none (no --customer, and no action to prove one with)")
    proof = samples[verify.name]
    result = runner.run(verify, proof, customer_id=None)
    proven = result.data.get("customer_id") if result.outcome is Outcome.FOUND else None
    shown = ", ".join(proof.values())
    if isinstance(proven, str) and proven:
        return Customer(proven, f"{proven} (proved with {verify.name}: {shown})", result)
    return Customer(None, f"none ({verify.name} with {shown}: {result.outcome.value})", result)


def _check_each(
    runner: ActionRunner,
    chosen: Sequence[ActionSpec],
    samples: Mapping[str, Mapping[str, str]],
    customer: Customer,
    allow_writes: bool,
) -> int:
    """Call each action and print its line; the number of actions that failed."""
    from bot.actions import Outcome

    width = max(len(spec.name) for spec in chosen)
    failed = 0
    # One key for this run: a write checked twice in one run would happen once.
    run_key = uuid.uuid4().hex
    for spec in chosen:
        if spec.writes and not allow_writes:
            print(f"{spec.name:<{width}}  skipped      it writes; --allow-writes to call it")
            continue
        if customer.proof is not None and customer.proof.action == spec.name:
            result = customer.proof  # already called, to prove the customer
        else:
            result = runner.run(
                spec,
                samples[spec.name],
                customer_id=customer.customer_id,
                idempotency_key=f"cxagent-check-{run_key}-{spec.name}" if spec.writes else None,
            )
        print(_line(result, width))
        # found, not_found and not_allowed are the API answering; only failed is not.
        if result.outcome is Outcome.FAILED:
            failed += 1
    return failed


def _line(result: ActionResult, width: int) -> str:
    status = f"HTTP {result.status_code}" if result.status_code is not None else "no HTTP"
    why = f" [{result.error}]" if result.error else ""
    return (
        f"{result.action:<{width}}  {result.outcome.value:<11}  {status:<8}  "
        f"{result.latency_ms:>5.0f} ms  {result.text}{why}"
    )


def add_commands(commands: Commands) -> None:
    actions = commands.add_parser(
        "actions", help="the actions in the company's systems: check them against its API"
    )
    what = actions.add_subparsers(dest="actions_command", required=True, metavar="COMMAND")
    check = what.add_parser(
        "check",
        help="call each action with sample values and print what it answered (reads only, "
        "unless --allow-writes); exit 1 if any failed",
        description="Load the actions file (CXAGENT_ACTIONS), call the company's API "
        "(CXAGENT_COMPANY_API_URL; unset: the demo shop, started for the check) for each "
        "action with sample slot values, and print one line per action: name, outcome, HTTP "
        "status, latency and the worded answer. Exit 0 if every action called answered "
        "(found, not_found, not_allowed), 1 if one failed.",
    )
    check.add_argument("--action", metavar="NAME", help="check this action only")
    check.add_argument(
        "--slot",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a slot's value, such as order_id=BC-204518 (repeatable; default: the slot's example)",
    )
    check.add_argument(
        "--customer",
        metavar="ID",
        help="act for this customer id, as if the site had signed it (default: none, proved "
        "with verify_customer as an anonymous visitor would)",
    )
    check.add_argument("--api-url", metavar="URL", help="overrides CXAGENT_COMPANY_API_URL")
    check.add_argument(
        "--allow-writes",
        action="store_true",
        help="call the actions that change something too (cancel an order, …); they are "
        "skipped otherwise",
    )
    check.set_defaults(handler=cmd_actions_check)
