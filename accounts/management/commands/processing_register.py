"""Print the register of processing activities (GDPR art. 30) from the purpose registry."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import translation

from accounts.register import build_register, render_markdown


class Command(BaseCommand):
    help = "Write the register of processing (art. 30) as Markdown or JSON, to stdout or --out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["markdown", "json"], default="markdown")
        parser.add_argument("--out", type=Path, help="Write to this file instead of stdout.")
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            default=settings.LANGUAGE_CODE,
        )

    def handle(self, *args: object, **options: object) -> None:
        with translation.override(options["language"]):
            register = build_register()
            if options["format"] == "json":
                text = json.dumps(register, indent=2, ensure_ascii=False) + "\n"
            else:
                text = render_markdown(register)
        out: Path | None = options["out"]
        if out is None:
            self.stdout.write(text, ending="")
            return
        out.write_text(text, encoding="utf-8")
        self.stderr.write(f"Wrote {out}")
