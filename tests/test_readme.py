"""Every command the README shows that starts something is run here, as written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.readme_commands import ReadmeRunner, shell_commands, starters

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
def runner(settings, sim, tmp_path) -> Iterator[ReadmeRunner]:
    readme = ReadmeRunner(settings, tmp_path, sim)
    try:
        yield readme
    finally:
        readme.stop()


def test_commands_come_from_indented_and_fenced_shell_blocks_without_comments():
    text = """Intro `gunicorn inline` is prose.

    gunicorn wsgi:app          # a comment
    celery -A celery_worker.celery worker \\
        --pool threads

```sh
flask --app wsgi shell
```

```python
celery = "not shell"
```
"""

    assert shell_commands(text) == [
        ["gunicorn", "wsgi:app"],
        ["celery", "-A", "celery_worker.celery", "worker", "--pool", "threads"],
        ["flask", "--app", "wsgi", "shell"],
    ]


def test_the_readme_shows_every_kind_of_command_this_test_runs():
    shown = [" ".join(words[:6]) for words in starters(README.read_text())]

    for expected in (
        "gunicorn wsgi:app",
        "celery -A celery_worker.celery worker -l info",
        "celery -A celery_worker.celery beat -l info",
        "celery multi start w1 -A celery_worker.celery",
        "celery multi restart w1 -A celery_worker.celery",
        "celery multi stopwait w1 -A celery_worker.celery",
        "flask --app wsgi shell",
        "flask --app wsgi sms send MOBILE",
    ):
        assert expected in shown, shown


@pytest.mark.slow
def test_every_command_in_the_readme_does_what_it_says(runner):
    for words in starters(README.read_text()):
        runner.run(words)


BROKEN = {
    "app": "    gunicorn wsgi:nope\n",
    "pool": "    celery -A celery_worker.celery worker -l info --pool nosuchpool\n",
    "typo": "    flask --app wsgi sms sned MOBILE\n",
    "unchecked": "    celery -A celery_worker.celery inspect ping\n",
    # The seed's restart line: it did not repeat start's pool and concurrency.
    "restart": """
      celery multi start w1 -A celery_worker.celery --pool=threads --concurrency=4 -l info \\
          --pidfile=/var/run/sms/%n.pid --logfile=/var/log/sms/%n%I.log
      celery multi restart w1 -A celery_worker.celery -l info \\
          --pidfile=/var/run/sms/%n.pid --logfile=/var/log/sms/%n%I.log
""",
}


@pytest.mark.slow
@pytest.mark.parametrize("sample", sorted(BROKEN))
def test_a_broken_readme_command_fails_the_test(runner, sample):
    commands = starters(BROKEN[sample])
    assert commands

    with pytest.raises((AssertionError, RuntimeError, TimeoutError)) as failure:
        for words in commands:
            runner.run(words)

    if sample == "restart":
        assert "after celery multi restart the node runs --pool=None" in str(failure.value)
