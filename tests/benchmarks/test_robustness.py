from __future__ import annotations

import csv
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from benchmarks.robustness import (
    TARGETS,
    WRITTEN_MESSAGES,
    Answer,
    BotQuestion,
    Case,
    Verdict,
    judge,
    parse_right,
    read_answers,
    robustness_table,
    set_report,
    typo_cases,
    written_cases,
)
from bot.config import DEMO_DIR


def _q(decision: str | None, entry_id: str | None = None, intent: str | None = None) -> BotQuestion:
    return BotQuestion("text", intent, entry_id, decision)


ONE = parse_right("delivery_time delivery_cost")
TWO = parse_right("delivery_time delivery_cost;payment_methods")


def test_right_intents_are_one_set_per_question() -> None:
    assert parse_right("delivery_time delivery_cost;payment_methods") == (
        frozenset({"delivery_time", "delivery_cost"}),
        frozenset({"payment_methods"}),
    )


@pytest.mark.parametrize(
    ("questions", "right", "verdict"),
    [
        ([_q("intent", "delivery_cost.uk_prices")], ONE, Verdict.RIGHT),
        ([_q("answer", "delivery_time.standard")], ONE, Verdict.RIGHT),
        ([_q("answer", "payment_methods.accepted")], ONE, Verdict.WRONG),
        ([_q("clarify", "delivery_time.standard", "delivery_time")], ONE, Verdict.ASKED),
        ([_q("not_sure")], ONE, Verdict.ASKED),
        ([_q("out_of_scope", "payment_methods.accepted", "oos")], ONE, Verdict.ASKED),
        ([_q(None)], ONE, Verdict.ASKED),
        # only one of two questions answered
        ([_q("intent", "delivery_time.standard")], TWO, Verdict.ASKED),
        # both answered, in any order
        (
            [_q("intent", "payment_methods.accepted"), _q("answer", "delivery_cost.uk_prices")],
            TWO,
            Verdict.RIGHT,
        ),
        # one answer cannot stand for two questions
        (
            [_q("intent", "delivery_time.standard")],
            parse_right("delivery_time;delivery_time"),
            Verdict.ASKED,
        ),
        # one right, one answered with an intent nobody asked about
        (
            [_q("intent", "payment_methods.accepted"), _q("intent", "warranty.coverage")],
            TWO,
            Verdict.WRONG,
        ),
        # a greeting beside the question is manners
        (
            [_q("intent", "greeting.hello"), _q("intent", "delivery_time.standard")],
            ONE,
            Verdict.RIGHT,
        ),
        ([_q("intent", "greeting.hello")], ONE, Verdict.WRONG),
    ],
)
def test_judging_answers(
    questions: list[BotQuestion], right: tuple[frozenset[str], ...], verdict: Verdict
) -> None:
    assert judge(questions, right) is verdict


def test_an_action_or_form_for_the_right_intent_is_right() -> None:
    track = parse_right("track_order")
    assert judge([_q("form", "track_order.where_is_my_order", "track_order")], track) is (
        Verdict.RIGHT
    )
    assert judge([_q("action", None, "track_order")], track) is Verdict.RIGHT
    # the intent read was right though retrieval's entry was not: the right action started
    assert judge([_q("form", "refund_status.when_refund", "track_order")], track) is Verdict.RIGHT
    assert judge([_q("form", "refund_status.when_refund", "refund_status")], track) is (
        Verdict.WRONG
    )


def test_a_hand_over_is_right_only_when_a_person_was_wanted() -> None:
    person = parse_right("human_agent")
    assert judge([_q("handoff", None, "human_agent")], person) is Verdict.RIGHT
    assert judge([_q("handoff", None, "human_agent")], ONE) is Verdict.ASKED


def _database(path: Path, with_questions: bool) -> list[int]:
    extra = ", questions JSON" if with_questions else ""
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY, role TEXT, text TEXT, intent TEXT, "
            f"entry_id TEXT, decision TEXT, reply_to_id INTEGER{extra})"
        )
        columns = "id, role, text, intent, entry_id, decision, reply_to_id"
        rows = [
            (
                1,
                "customer",
                "how much is delivery and do you take paypal",
                "delivery_cost",
                None,
                None,
                None,
            ),
            (2, "bot", "Delivery is £3.95.", None, "delivery_cost.uk_prices", "intent", 1),
            (3, "customer", "hello", "greeting", None, None, None),
            (4, "bot", "Hi!", None, "greeting.hello", "intent", 3),
        ]
        connection.executemany(
            f"INSERT INTO messages ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows
        )
        if with_questions:
            read = [
                {
                    "text": "how much is delivery",
                    "intent": "delivery_cost",
                    "entry_id": "delivery_cost.uk_prices",
                    "decision": "intent",
                },
                {
                    "text": "do you take paypal",
                    "intent": "payment_methods",
                    "entry_id": "payment_methods.accepted",
                    "decision": "intent",
                },
            ]
            connection.execute(
                "UPDATE messages SET questions = ? WHERE id = 1", (json.dumps(read),)
            )
            connection.execute("UPDATE messages SET questions = '[]' WHERE id = 3")
        connection.commit()
    return [1, 3]


def test_without_a_questions_column_the_reply_answers_the_message(tmp_path: Path) -> None:
    ids = _database(tmp_path / "bench.db", with_questions=False)
    first, second = read_answers(tmp_path / "bench.db", ids)
    assert first == Answer(
        (
            BotQuestion(
                "how much is delivery and do you take paypal",
                "delivery_cost",
                "delivery_cost.uk_prices",
                "intent",
            ),
        ),
        "Delivery is £3.95.",
    )
    assert judge(first.questions, TWO) is Verdict.ASKED
    assert second.questions[0].entry_id == "greeting.hello"


def test_the_questions_column_when_there_is_one(tmp_path: Path) -> None:
    ids = _database(tmp_path / "bench.db", with_questions=True)
    first, second = read_answers(tmp_path / "bench.db", ids)
    assert [q.entry_id for q in first.questions] == [
        "delivery_cost.uk_prices",
        "payment_methods.accepted",
    ]
    assert judge(first.questions, TWO) is Verdict.RIGHT
    # an empty list: the reply row speaks for the message
    assert second.questions == (BotQuestion("hello", "greeting", "greeting.hello", "intent"),)


def test_a_report_counts_and_lists_the_failures() -> None:
    cases = [Case("a", ONE), Case("b", ONE), Case("c", ONE, clean_text="see")]
    answers = [
        Answer((_q("intent", "delivery_time.standard"),), "3-5 days"),
        Answer((_q("intent", "warranty.coverage"),), "2 years"),
        Answer((_q("not_sure"),), "Sorry?"),
    ]
    report = set_report(cases, answers, TARGETS["typos"])
    assert report["size"] == 3
    assert report["right"] == {"count": 1, "fraction": 0.333}
    assert report["target"]["met"] is False
    assert [m["text"] for m in report["wrong_messages"]] == ["b"]
    assert report["asked_messages"][0]["clean_text"] == "see"
    table = robustness_table({"sets": {"typos": report}})
    assert "| typos | 3 | 33.3% (1) | 33.3% (1) | 33.3% (1) |" in table


def test_the_typo_set_is_the_clean_set_misspelt_the_same_way_each_time() -> None:
    clean = [Case("Where is my order BC-204518?", parse_right("track_order"))] * 5
    assert typo_cases(clean, 13) == typo_cases(clean, 13)
    assert all(case.right == clean[0].right for case in typo_cases(clean, 13))


def _known_intents() -> set[str]:
    entries = yaml.safe_load((DEMO_DIR / "knowledge_base.yaml").read_text(encoding="utf-8"))
    with (DEMO_DIR / "nlu" / "intents_train.csv").open(encoding="utf-8", newline="") as handle:
        trained = {row["intent"] for row in csv.DictReader(handle)}
    return {entry["intent"] for entry in entries["entries"]} | trained - {"oos"}


def test_the_written_messages_are_labelled_with_intents_that_exist() -> None:
    cases = written_cases(WRITTEN_MESSAGES)
    assert len(cases) >= 70
    assert len([case for case in cases if len(case.right) == 2]) >= 10
    used = {intent for case in cases for question in case.right for intent in question}
    assert used <= _known_intents()
    assert all(question for case in cases for question in case.right)
    assert len({case.text for case in cases}) == len(cases)
