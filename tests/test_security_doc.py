"""SECURITY.md holds: every defence it claims names a test that exists, and what it says production gets, it gets.

The settings and response headers in its hardening tables are compared with
what a fresh process started with production-like settings
(``PRODUCTION_ENV``) really has and answers; ``manage.py check --deploy``
with the same settings is ``tests/test_settings.py``.
"""

import json
import re

from tests.support.fresh_process import DJANGO_SETUP, PRODUCTION_ENV, run_python
from tests.support.processes import ROOT

DOC = (ROOT / "SECURITY.md").read_text()
TEST_REFERENCE = re.compile(r"`?(tests/[\w/]+\.py)(?:::(\w+))?")
SETTING_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]+)` \| `([^`]*)` \|", re.MULTILINE)
HEADER_ROW = re.compile(r"^\| `([A-Z][A-Za-z]*(?:-[A-Za-z]+)+)` \| `([^`]*)` \|", re.MULTILINE)
COOKIE_ROW = re.compile(r"^\| cookie `(\w+)` \| `([^`]*)` \|", re.MULTILINE)


def _section(title: str) -> str:
    start = DOC.index(f"\n## {title}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end != -1 else None]


def test_every_test_named_exists():
    missing = []
    for path, name in set(TEST_REFERENCE.findall(DOC)):
        source = ROOT / path
        if not source.exists() or (name and not re.search(rf"^def {name}\(", source.read_text(), re.MULTILINE)):
            missing.append(f"{path}::{name}" if name else path)

    assert sorted(missing) == []


def test_every_defence_names_the_test_that_proves_it():
    claims = re.findall(r"^- .*?(?=^- |^\n|\Z)", _section("Defences and the tests that prove them"),
                        re.MULTILINE | re.DOTALL)

    assert claims
    assert [claim.splitlines()[0] for claim in claims if not TEST_REFERENCE.search(claim)] == []


def _production(code: str, tmp_path) -> dict:
    result = run_python(tmp_path, "-c", f"{DJANGO_SETUP}; import json; {code}", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_the_hardening_settings_are_what_production_gets(tmp_path):
    claimed = dict(SETTING_ROW.findall(DOC))
    names = json.dumps(sorted(claimed))

    actual = _production(
        f"from django.conf import settings; print(json.dumps({{n: str(getattr(settings, n)) for n in {names}}}))",
        tmp_path,
    )

    assert len(claimed) >= 10
    assert actual == claimed


def test_responses_carry_the_headers_and_cookie_flags_it_lists(tmp_path):
    headers, cookies = dict(HEADER_ROW.findall(DOC)), dict(COOKIE_ROW.findall(DOC))
    # The login page sets the CSRF cookie and needs no database.
    code = (
        "from django.test import Client; "
        "r = Client().get('/admin/login/', secure=True, HTTP_HOST='postbacks.example.com'); "
        "flags = lambda m: '; '.join(f for f, v in [('Secure', m['secure']), ('HttpOnly', m['httponly']), "
        "('SameSite=' + str(m['samesite']), m['samesite'])] if v); "
        "print(json.dumps({'headers': dict(r.headers), 'cookies': {n: flags(m) for n, m in r.cookies.items()}}))"
    )

    answer = _production(code, tmp_path)

    assert headers and cookies
    assert {name: answer["headers"].get(name) for name in headers} == headers
    assert {name: answer["cookies"].get(name) for name in cookies} == cookies

