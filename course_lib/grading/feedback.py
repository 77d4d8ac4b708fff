"""The page a student gets back: their score per exercise, why each failed test failed, their own
code.

Built from the grader's result only: the instructor's test code, hidden tests included, never
appears; a failed test shows the message its check wrote (what was tested, expected, got, a hint).
Everything the student wrote is escaped.
"""

from __future__ import annotations

import html

MAX_CODE_CHARS = 20_000

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; }
pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
.pass { color: #1a7f37; } .fail { color: #b42318; }
"""


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def render(assignment: str, student: str, result: dict, student_code: list[str]) -> str:
    """HTML feedback for one student. ``result`` is ``asdict(harness.Result)``."""
    rows, sections = [], []
    for test in result.get("tests", []):
        passed = test["points"] == test["max_points"]
        css, mark = ("pass", "✓") if passed else ("fail", "✗")
        rows.append(f"<tr><td>{html.escape(test['grade_id'])}</td><td class='{css}'>{mark} "
                    f"{test['points']:g} / {test['max_points']:g}</td></tr>")
        body = test.get("output", "")
        if not passed:
            body = (body + "\n" if body else "") + test.get("message", "")
        sections.append(
            f"<h3>{html.escape(test['grade_id'])}</h3>"
            + (_pre(body.strip()) if body.strip() else "")
        )
    notes = [f"{label}: {message}" for label, message in result.get("cell_errors", {}).items()]
    notes += result.get("problems", [])
    code = "\n\n".join(student_code)
    if len(code) > MAX_CODE_CHARS:
        code = code[:MAX_CODE_CHARS] + f"\n[… {len(code) - MAX_CODE_CHARS} more characters]"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            "<html><head><meta charset='utf-8'>",
            f"<title>{html.escape(assignment)} — "
            f"{html.escape(student)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{html.escape(assignment)}: {result.get('score', 0):g} / "
            f"{result.get('max_score', 0):g}</h1>",
            f"<p>Student: {html.escape(student)}</p>",
            "<table><tr><th>test</th><th>points</th></tr>",
            *rows,
            "</table>",
            ("<h2>When your notebook ran</h2>" + _pre("\n".join(notes))) if notes else "",
            "<h2>Tests</h2>",
            *sections,
            "<h2>Your code, as graded</h2>",
            _pre(code),
            "</body></html>",
        ]
    )
