"""Command line: `python -m bot` runs the bot; subcommands import, invite, export, exam, faculty,
demo and db."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.db.models import InviteRole
from bot.i18n import Catalogs
from bot.i18n import gettext as _
from bot.logs import configure_logging

log = logging.getLogger("bot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Examinator exam-session bot"
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser(
        "run", help="run the bot (long polling, or a webhook server with WEBHOOK_URL); the default"
    )
    imp = sub.add_parser(
        "import", help="import the roster, the exam schedule or study plans (CSV or XLSX)"
    )
    imp.add_argument("what", choices=["roster", "schedule", "plan"])
    imp.add_argument("file", type=Path)
    inv = sub.add_parser("invite", help="make a one-time invite link")
    inv_sub = inv.add_subparsers(dest="role", required=True)
    teacher = inv_sub.add_parser("teacher", help="for a teacher, by full name (ФИО)")
    teacher.add_argument("name")
    dean = inv_sub.add_parser("dean", help="for a member of a faculty's dean's office")
    dean.add_argument("faculty")
    inv_sub.add_parser("admin", help="for an administrator")
    sub.add_parser("outbox", help="pending / sent / failed notices and the next due ones")
    faculty = sub.add_parser("faculty", help="a faculty's settings")
    faculty_sub = faculty.add_subparsers(dest="faculty_action", required=True)
    email = faculty_sub.add_parser(
        "email", help="the dean's office e-mail that gets a copy of every statement"
    )
    email.add_argument("faculty")
    email.add_argument("address", nargs="?", help="the address, or off to clear; none: show it")
    exam = sub.add_parser("exam", help="list upcoming exams, or cancel one")
    exam_sub = exam.add_subparsers(dest="exam_action", required=True)
    exam_sub.add_parser("list", help="upcoming exams and consultations with their ids")
    cancel = exam_sub.add_parser("cancel", help="cancel an exam; students already told are told")
    cancel.add_argument("exam_id", type=int)
    unlock = exam_sub.add_parser("unlock", help="reopen a confirmed roll for corrections")
    unlock.add_argument("exam_id", type=int)
    semester = sub.add_parser("semester", help="set the next semester's dates (retention)")
    semester.add_argument("start", help="first day, DD.MM.YYYY or YYYY-MM-DD")
    semester.add_argument("end", help="last day")
    report = sub.add_parser("report", help="a report as XLSX or CSV (all faculties, or one)")
    report.add_argument("kind", choices=["additional", "statements", "attendance"])
    report.add_argument("--faculty", help="the faculty's name, as in the roster")
    report.add_argument("--format", dest="fmt", choices=["xlsx", "csv"], default="xlsx")
    report.add_argument("--output", type=Path, help="file to write (default: kind-date.xlsx)")
    export = sub.add_parser("export", help="export an exam's attendance sheet (ведомость)")
    export.add_argument("what", choices=["roll"])
    export.add_argument("exam_id", type=int)
    export.add_argument("--format", dest="fmt", choices=["xlsx", "csv"], default="xlsx")
    export.add_argument("--output", type=Path, help="file to write (default: a name from the exam)")
    sub.add_parser(
        "demo", help="fill an empty database with a demo faculty and session, print invites"
    )
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings)  # LOG_FORMAT is a setting; secrets are masked in every line
        command = args.command or "run"
        if command == "run":
            return run(settings)
        # Every other command speaks DEFAULT_LOCALE, whatever it prints.
        with Catalogs().use(settings.default_locale):
            return _command(command, args, settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)  # noqa: T201 - the CLI's answer
        return 2


def _command(command: str, args: argparse.Namespace, settings: Settings) -> int:
    if command == "import":
        return cli_import(settings, args.what, args.file)
    if command == "invite":
        name = getattr(args, "name", None) or getattr(args, "faculty", None)
        return asyncio.run(cli_invite(settings, InviteRole(args.role), name))
    if command == "exam":
        from bot.cli import cancel_exam_cli, list_exams, unlock_roll_cli

        if args.exam_action == "list":
            return asyncio.run(list_exams(settings))
        if args.exam_action == "unlock":
            return asyncio.run(unlock_roll_cli(settings, args.exam_id))
        return asyncio.run(cancel_exam_cli(settings, args.exam_id))
    if command == "semester":
        from bot.cli import semester_cli

        return asyncio.run(semester_cli(settings, args.start, args.end))
    if command == "report":
        from bot.cli import report_cli

        return asyncio.run(
            report_cli(settings, args.kind, args.faculty, fmt=args.fmt, output=args.output)
        )
    if command == "export":
        from bot.cli import export_roll_cli

        return asyncio.run(export_roll_cli(settings, args.exam_id, args.fmt, output=args.output))
    if command == "demo":
        from bot.demo import demo_cli

        return asyncio.run(demo_cli(settings))
    if command == "outbox":
        from bot.cli import show_outbox

        return asyncio.run(show_outbox(settings))
    if command == "faculty":
        from bot.cli import faculty_email_cli

        return asyncio.run(faculty_email_cli(settings, args.faculty, args.address))
    return asyncio.run(cli_db_upgrade(settings))


def run(settings: Settings) -> int:
    from bot.app import build_application
    from bot.botapi import BotApiUnavailable

    settings.token()  # fail with one clear line before anything starts
    app = build_application(settings)
    # Everything loaded so far lives as long as the process: keep it out of the collector's
    # full passes, which otherwise stall the event loop (and the reminders) for ~0.2 s.
    gc.freeze()
    try:
        asyncio.run(app.run())
    except BotApiUnavailable as exc:
        print(exc, file=sys.stderr)  # noqa: T201 - one line, like a configuration error
        return 3
    return 0


async def cli_db_upgrade(settings: Settings) -> int:
    from bot.db.engine import create_engine
    from bot.db.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print(_("Database is up to date."))  # noqa: T201
    return 0


def cli_import(settings: Settings, what: str, path: Path) -> int:
    from bot.cli import complain, import_file

    try:
        content = path.read_bytes()
    except OSError as exc:
        complain(_("Cannot read {path}: {error}").format(path=path, error=exc.strerror))
        return 1
    return asyncio.run(import_file(settings, what, path.name, content=content))


async def cli_invite(settings: Settings, role: InviteRole, name: str | None) -> int:
    from bot.cli import make_invite

    return await make_invite(settings, role, name)


if __name__ == "__main__":
    sys.exit(main())
