"""`cxagent actions check` against the real demo shop, which the command starts itself, and
against a port where nothing listens."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import DEMO_DIR


def check(
    capsys: pytest.CaptureFixture[str], *args: str, environ: dict[str, str] | None = None
) -> tuple[int, list[str], str]:
    """Run the command: its exit code, its stdout lines and its stderr."""
    try:
        code = main(["actions", "check", *args], environ=environ or {})
    except SystemExit as stopped:
        code = stopped.code if isinstance(stopped.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def line_of(lines: list[str], action: str) -> list[str]:
    """The words of the action's line: name, outcome, then the rest."""
    found = [line for line in lines if line.split()[:1] == [action]]
    assert len(found) == 1, lines
    return found[0].split()


@pytest.fixture
def nothing_listening() -> Iterator[str]:
    """A local URL whose port is taken but not listened on: every connection is refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{bound.getsockname()[1]}"


def test_every_read_answers_from_the_demo_shop_and_writes_are_skipped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines, _ = check(capsys)

    assert code == 0
    assert lines[0].startswith("no company API set: the demo shop's API, started for this check")
    assert lines[1].startswith("checking 6 of 6 actions at http://127.0.0.1:")
    # No --customer: proved the way an anonymous visitor is, with verify_customer's examples.
    assert "customer: cust-42 (proved with verify_customer: BC-204518, priya@example.com)" in lines
    assert line_of(lines, "order_status")[1:4] == ["found", "HTTP", "200"]
    order_line = next(line for line in lines if line.startswith("order_status"))
    assert order_line.endswith(
        "Order BC-204518 is on its way with DPD (tracking number 15501703246599) and should "
        "arrive by 1 December 2026."
    )
    refund_line = next(line for line in lines if line.startswith("refund_status"))
    assert "There's no refund on order BC-204518" in refund_line  # the order has no refund: null
    assert line_of(lines, "verify_customer")[1:4] == ["found", "HTTP", "200"]
    for write in ("cancel_order", "start_return"):
        skipped = next(line for line in lines if line.startswith(write))
        assert skipped.split(maxsplit=1)[1] == "skipped      it writes; --allow-writes to call it"


def test_writes_run_only_when_allowed_and_a_refusal_counts_as_answered(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines, _ = check(
        capsys, "--allow-writes", "--customer", "cust-42", "--slot", "order_id=BC-204857"
    )

    assert code == 0
    assert "customer: cust-42 (given, as the site would sign it)" in lines
    cancel = next(line for line in lines if line.startswith("cancel_order"))
    assert line_of(lines, "cancel_order")[1:4] == ["found", "HTTP", "200"]
    assert "Done: order BC-204857 is cancelled." in cancel
    # A placed order cannot be returned: the shop says 409, which is an answer, not a failure.
    assert line_of(lines, "start_return")[1:4] == ["not_allowed", "HTTP", "409"]


def test_another_customers_order_is_not_found(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = check(capsys, "--action", "order_status", "--customer", "cust-7")

    assert code == 0
    assert lines[1].startswith("checking 1 of 6 actions at http://127.0.0.1:")
    assert line_of(lines, "order_status")[1:4] == ["not_found", "HTTP", "404"]
    assert not any(line.startswith("refund_status") for line in lines)


@pytest.mark.parametrize("how", ["setting", "option"])
def test_an_api_nobody_answers_fails_with_exit_1(
    capsys: pytest.CaptureFixture[str], nothing_listening: str, how: str
) -> None:
    if how == "setting":
        code, lines, err = check(
            capsys,
            "--action",
            "order_status",
            environ={"CXAGENT_COMPANY_API_URL": nothing_listening},
        )
    else:
        code, lines, err = check(capsys, "--action", "order_status", "--api-url", nothing_listening)

    assert code == 1
    assert f"checking 1 of 6 actions at {nothing_listening}" in lines
    assert "customer: none (verify_customer with BC-204518, priya@example.com: failed)" in lines
    failed = next(line for line in lines if line.startswith("order_status"))
    assert failed.split()[1:4] == ["failed", "no", "HTTP"]
    assert "I can't reach our order system right now" in failed
    assert failed.endswith("[ConnectError: the API could not be reached]")
    assert "1 of the actions failed" in err


def test_a_mistake_in_the_actions_file_names_the_action_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (DEMO_DIR / "actions.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "actions.yaml"
    broken.write_text(text.replace("timeout_s: 3", "timeout_s: 0", 1), encoding="utf-8")

    code, lines, err = check(capsys, environ={"CXAGENT_ACTIONS": str(broken)})

    assert code == 2 and lines == []
    assert err == (
        f"cxagent actions: error: {broken}: action 'order_status': call.timeout_s: must be "
        "greater than 0\n"
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--action", "refund_everything"], "--action refund_everything: no such action"),
        (["--slot", "order_id"], "--slot 'order_id': write it as NAME=VALUE"),
        (["--slot", "order_id=12"], "--slot order_id=12: action 'order_status' wants it to match"),
        (["--slot", "colour=red"], "--slot colour: no action checked has a slot of that name"),
    ],
)
def test_wrong_options_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    code, lines, err = check(capsys, *args)

    assert code == 2 and lines == []
    assert err.startswith(f"cxagent actions: error: {said}")
    assert err.count("\n") == 1


def test_no_actions_configured_is_said(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(capsys, environ={"CXAGENT_ACTIONS": "none"})

    assert code == 2
    assert err == "cxagent actions: error: no actions to check: CXAGENT_ACTIONS is none\n"
