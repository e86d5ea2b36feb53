"""The analyst's commands: fit-satisfaction, refresh-profiles, fit-churn, segment."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from bot.cli.common import Commands, database_sessions
from bot.config import Settings

if TYPE_CHECKING:
    from bot.analytics.profiles import ProfileService

Result = TypeVar("Result")


def cmd_fit_satisfaction(settings: Settings, args: argparse.Namespace) -> None:
    from bot.analytics.satisfaction import SatisfactionService
    from bot.live.events import EventHub

    with database_sessions(settings) as sessions:
        # Fitting announces nothing: a hub of this process's own, with nobody listening.
        model = SatisfactionService(sessions, EventHub()).fit()
    print(json.dumps({"weights": model.weights, "agreement": model.metrics}, indent=2))
    assert model.metrics is not None
    print(
        "{:<10} {:>13} {:>6} {:>9} {:>20}".format(
            "weights", "conversations", "MAE", "Spearman", "satisfied agreement"
        ),
        file=sys.stderr,
    )
    for name, figures in model.metrics.items():
        print(
            f"{name:<10} {figures['conversations']:>13} {figures['mae']:>6.3f} "
            f"{figures['spearman']:>9.3f} {figures['satisfied_agreement']:>20.3f}",
            file=sys.stderr,
        )


def _with_profiles(settings: Settings, work: Callable[[ProfileService], Result]) -> Result:
    from bot.analytics.profiles import ProfileService

    with database_sessions(settings) as sessions:
        return work(ProfileService(sessions))


def cmd_refresh_profiles(settings: Settings, args: argparse.Namespace) -> None:
    count = _with_profiles(settings, lambda profiles: profiles.refresh())
    print(f"churn risk, lifecycle stage and lifetime value refreshed for {count} customers")


def cmd_fit_churn(settings: Settings, args: argparse.Namespace) -> None:
    print(json.dumps(_with_profiles(settings, lambda profiles: profiles.fit_churn()), indent=2))


def cmd_segment(settings: Settings, args: argparse.Namespace) -> None:
    segments = _with_profiles(settings, lambda profiles: profiles.segment(args.k, args.seed))
    for segment in segments:
        print(f"{segment['customers']:>6}  {segment['segment']}")


def add_commands(commands: Commands) -> None:
    commands.add_parser(
        "fit-satisfaction",
        help="refit the predicted-satisfaction weights on surveyed conversations and report "
        "how well predictions agree with the answers",
    ).set_defaults(handler=cmd_fit_satisfaction)
    commands.add_parser(
        "refresh-profiles", help="recompute every customer's churn risk, lifecycle and value"
    ).set_defaults(handler=cmd_refresh_profiles)
    commands.add_parser(
        "fit-churn",
        help="refit the churn-risk model on customers whose outcome the site reported "
        "(attribute `churned`)",
    ).set_defaults(handler=cmd_fit_churn)
    segment = commands.add_parser(
        "segment", help="cluster customers into segments (k-means) and describe each"
    )
    segment.add_argument("--k", type=int, default=4, help="how many segments")
    segment.add_argument("--seed", type=int, default=13)
    segment.set_defaults(handler=cmd_segment)
