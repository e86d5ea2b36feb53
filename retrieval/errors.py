"""The one base of the errors a person can act on, in every package of cxagent.

It lives here, the package with no cxagent dependencies, so that ``retrieval``, ``finetune`` and
``bot`` all derive from it while dependencies keep flowing one way (bot → finetune → retrieval).
"""

from __future__ import annotations


class CxagentError(Exception):
    """Something the person running cxagent can fix: ``str(error)`` says what is wrong and,
    where it can, how to fix it. The command line shows it as one line and exits with 2."""
