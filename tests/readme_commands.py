"""The README's shell commands, extracted and run as a reader would type them.

``shell_commands`` reads the code blocks of a Markdown text; ``ReadmeRunner``
runs each command that starts something (gunicorn, a Celery worker, beat or
``celery multi``, ``flask --app wsgi ...``) against the test's private Redis
and the RongLian simulator, and checks that it does what the README says.
Any failure raises AssertionError (or the Service's RuntimeError/TimeoutError).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import psutil
import redis
import requests
from markdown_it import MarkdownIt

from tools.redis_server import free_port
from tools.services import ROOT, Service, wait_until

BIN = Path(sys.executable).parent
STARTERS = ("gunicorn", "celery", "flask")
SHELLS = {"", "sh", "bash", "shell", "console"}
MOBILE = "13912345678"


def shell_commands(markdown: str) -> list[list[str]]:
    """Every command line in the text's shell code blocks, as argv, comments dropped."""
    commands = []
    for token in MarkdownIt("commonmark").parse(markdown):
        if token.type == "code_block" or (token.type == "fence" and token.info.strip() in SHELLS):
            for line in token.content.replace("\\\n", " ").splitlines():
                try:
                    words = shlex.split(line, comments=True)
                except ValueError:  # not shell: sample output, JSON
                    continue
                if words:
                    commands.append(words)
    return commands


def starters(markdown: str) -> list[list[str]]:
    """The commands that start something this runner knows how to check."""
    return [words for words in shell_commands(markdown) if words[0] in STARTERS]


def option(words: list[str], name: str) -> str | None:
    """The value of ``--name=value`` or ``--name value``."""
    for n, word in enumerate(words):
        if word.startswith(f"{name}="):
            return word.split("=", 1)[1]
        if word == name and n + 1 < len(words):
            return words[n + 1]
    return None


def node_option(words: list[str], name: str) -> str | None:
    """An option of node w1, with celery multi's ``%n`` expanded."""
    value = option(words, name)
    return value.replace("%n", "w1") if value else value


class ReadmeRunner:
    """Runs README commands one by one; ``stop()`` stops whatever they left running."""

    def __init__(self, settings: Mapping[str, str], work: Path, sim: object) -> None:
        self.settings = {**settings, "SMS_QUEUE_CHECK_INTERVAL": "1"}
        self.work = work
        self.sim = sim
        self.services: list[Service] = []
        self.multi_start: list[str] | None = None  # what `celery multi start` was given
        self.multi_pid: int | None = None

    # -- helpers -------------------------------------------------------------

    def local(self, words: list[str]) -> list[str]:
        """The command with the venv's executable, a test mobile and private paths."""
        argv = [str(BIN / words[0])]
        for word in words[1:]:
            word = word.replace("MOBILE", MOBILE)
            name, eq, value = word.partition("=")
            if eq and name in {"--pidfile", "--logfile"} and value.startswith("/"):
                folder = self.work / name.lstrip("-")
                folder.mkdir(parents=True, exist_ok=True)
                word = f"{name}={folder / Path(value).name}"
            argv.append(word)
        return argv

    def service(self, name: str, argv: list[str], **env: str) -> Service:
        started = Service(name, argv, {**self.settings, **env}, self.work).start()
        self.services.append(started)
        return started

    def once(self, argv: list[str], stdin: str = "") -> subprocess.CompletedProcess:
        env = {**os.environ, **self.settings}
        return subprocess.run(
            argv, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=60
        )

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings["REDIS_URL"])

    def issue_a_code(self) -> None:
        """What a web process does: a code stored and its send queued."""
        done = self.once(self.local(["flask", "--app", "wsgi", "sms", "send", MOBILE]))
        assert done.returncode == 0, done.stderr
        self.redis().delete(f"sms:{{{MOBILE}}}:cooldown")

    def delivers(self, what: str) -> None:
        before = len(self.sim.delivered())
        self.issue_a_code()
        wait_until(lambda: len(self.sim.delivered()) > before, f"{what} to deliver a send")

    # -- the commands --------------------------------------------------------

    def run(self, words: list[str]) -> None:
        """Run one README command and check it does what the README says."""
        command = shlex.join(words)
        if words[0] == "gunicorn":
            self.gunicorn(words)
        elif words[0] == "flask":
            self.flask(words)
        elif words[:2] == ["celery", "multi"]:
            self.multi(words)
        elif words[0] == "celery" and "worker" in words:
            worker = self.service("worker", self.local(words))
            worker.wait_for_output(" ready.")
            self.delivers(command)
            worker.stop()
        elif words[0] == "celery" and "beat" in words:
            beat = self.service("beat", self.local(words))
            beat.wait_for_output("beat: Acquired lock")
            beat.wait_for_output("Sending due task check-send-queue")
            beat.stop()
        else:
            raise AssertionError(f"no check for the README command {command!r}: add one")

    def gunicorn(self, words: list[str]) -> None:
        port = free_port()
        argv = self.local(words)
        if option(words, "--bind") or option(words, "-b"):
            raise AssertionError("README gunicorn commands take the bind from PORT")
        web = self.service("gunicorn", argv, PORT=str(port), GUNICORN_WORKERS="2")
        url = f"http://127.0.0.1:{port}"
        web.wait_for_http(f"{url}/healthz")
        answer = requests.post(f"{url}/users/sms/{MOBILE}", timeout=10)
        assert answer.status_code == 200, answer.text
        self.redis().delete(f"sms:{{{MOBILE}}}:cooldown")
        web.stop()

    def flask(self, words: list[str]) -> None:
        argv = self.local(words)
        if words[-1] == "shell":
            script = "print(app.name, celery.main, redis.ping(), send_sms.name)\n"
            done = self.once(argv, stdin=script)
            assert done.returncode == 0, done.stderr
            assert "project project True send_sms" in done.stdout, done.stdout + done.stderr
            return
        queued = self.redis().llen("celery")
        done = self.once(argv)
        assert done.returncode == 0, f"{shlex.join(words)}: {done.stdout}{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        if words[-2:] == ["send", "MOBILE"]:
            assert "code issued to 139****5678" in done.stdout
            assert self.redis().llen("celery") == queued + 1
            self.redis().delete(f"sms:{{{MOBILE}}}:cooldown")
        elif words[-1] == "stats":
            assert "codes_issued" in done.stdout and "queue_depth" in done.stdout

    def multi(self, words: list[str]) -> None:
        """start, restart and stopwait, in README order: restart keeps what start was given."""
        action = words[2]
        argv = self.local(words)
        pidfile = Path(option(argv, "--pidfile").replace("%n", "w1"))
        if action == "restart":
            assert self.multi_start is not None, "the README restarts before it starts"
        log = self.node_log(self.multi_start or argv)
        readies = self.readies(log)
        done = self.once(argv)
        assert done.returncode == 0, done.stdout + done.stderr
        if action in {"start", "restart"}:
            self.multi_start = self.multi_start or argv
            self.multi_pid = self.wait_for_node(pidfile, previous=self.multi_pid)
            running = psutil.Process(self.multi_pid).cmdline()
            for name in ("--pool", "--concurrency", "--logfile", "-l"):
                now, given = node_option(running, name), node_option(self.multi_start, name)
                assert now == given, (
                    f"after celery multi {action} the node runs {name}={now}; start gave {given}"
                )
            wait_until(lambda: self.readies(log) > readies, f"the node to log ready to {log}")
            self.delivers(f"the node after celery multi {action}")
        elif action in {"stop", "stopwait"}:
            assert self.multi_pid is not None, "the README stops before it starts"
            assert not psutil.pid_exists(self.multi_pid) or (
                psutil.Process(self.multi_pid).status() == psutil.STATUS_ZOMBIE
            )
            assert not pidfile.exists()
            self.multi_pid = None
        else:
            raise AssertionError(f"no check for celery multi {action}")

    @staticmethod
    def node_log(argv: list[str]) -> Path:
        logfile = option(argv, "--logfile")
        assert logfile, f"celery multi without --logfile: {shlex.join(argv)}"
        return Path(logfile.replace("%n", "w1").replace("%I", ""))

    @staticmethod
    def readies(log: Path) -> int:
        return log.read_text().count(" ready.") if log.exists() else 0

    def wait_for_node(self, pidfile: Path, previous: int | None) -> int:
        def new_pid() -> int | None:
            try:
                pid = int(pidfile.read_text())
            except (OSError, ValueError):
                return None
            return pid if pid != previous and psutil.pid_exists(pid) else None

        wait_until(new_pid, f"a node writing {pidfile}", timeout=30)
        return new_pid()

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        if self.multi_pid and psutil.pid_exists(self.multi_pid):
            node = psutil.Process(self.multi_pid)
            for proc in [*node.children(recursive=True), node]:
                proc.kill()
