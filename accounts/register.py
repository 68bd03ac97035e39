"""The register of processing activities (GDPR art. 30), generated from the purpose registry.

`build_register` returns plain data (for JSON and the staff page); `render_markdown`
turns it into a document. Both read only the code's registry and settings, never a
shopper's data.
"""

from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from accounts.purposes import PURPOSES, SECURITY_MEASURES, LawfulBasis, WhileOutdated

# The register is written in the active language (`processing_register --language sv`);
# the JSON keeps the machine values (`lawful_basis`, `while_outdated`) beside the words.
DATA_SUBJECTS = gettext_lazy(
    "Shoppers with a Kvitto login, and customers the store's systems send orders for."
)
NO_TRANSFERS = gettext_lazy("None.")
LAWFUL_BASIS_NAMES = {
    LawfulBasis.CONSENT: pgettext_lazy("lawful basis", "consent"),
    LawfulBasis.CONTRACT: pgettext_lazy("lawful basis", "contract"),
}
WHILE_OUTDATED_RULES = {
    WhileOutdated.CONTINUE: gettext_lazy("continues under the version the shopper agreed to"),
    WhileOutdated.PAUSE: gettext_lazy("paused until the shopper answers"),
}


def build_register() -> dict[str, Any]:
    c = settings.PRIVACY_CONTROLLER
    address = ", ".join(
        part for part in (c["street"], c["postal_code"], c["locality"], c["country"]) if part
    )
    purposes = []
    for purpose in PURPOSES.values():
        purposes.append(
            {
                "key": purpose.key,
                "name": str(purpose.title),
                "description": str(purpose.summary),
                "lawful_basis": purpose.lawful_basis.value,
                "lawful_basis_name": str(LAWFUL_BASIS_NAMES[purpose.lawful_basis]),
                "lawful_basis_article": purpose.lawful_basis_article,
                "switchable": purpose.switchable,
                "data_subjects": str(DATA_SUBJECTS),
                "data_used": str(purpose.data_used),
                "data_categories": [str(category) for category in purpose.data_categories],
                "recipients": str(purpose.recipients),
                "third_country_transfers": str(NO_TRANSFERS),
                "retention": str(purpose.retention),
                "while_outdated": purpose.while_outdated.value,
                "while_outdated_rule": str(WHILE_OUTDATED_RULES[purpose.while_outdated]),
            }
        )
    return {
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "controller": {
            "name": c["name"],
            "contact": c["contact"],
            "email": c["email"],
            "phone": c["phone"],
            "address": address,
        },
        "purposes": purposes,
        "security_measures": [str(measure) for measure in SECURITY_MEASURES],
    }


def render_markdown(register: dict[str, Any]) -> str:
    """The register as a Markdown document, in the active language."""
    c = register["controller"]
    generated = _("Generated %(at)s from the purpose registry (accounts/purposes.py).") % {
        "at": register["generated_at"]
    }
    controller = [
        (_("Name"), c["name"]),
        (_("Contact"), c["contact"]),
        (_("E-mail"), c["email"]),
        (_("Phone"), c["phone"] or "—"),
        (_("Address"), c["address"] or "—"),
    ]
    lines = [
        "# " + _("Register of processing activities (GDPR art. 30)"),
        "",
        generated,
        "",
        "## " + _("Controller"),
        "",
        *(f"- {label}: {value}" for label, value in controller),
        "",
        "## " + _("Processing activities"),
    ]
    for p in register["purposes"]:
        facts = [
            (_("Lawful basis"), f"{p['lawful_basis_name']} ({p['lawful_basis_article']})"),
            (_("Data subjects"), p["data_subjects"]),
            (_("Data used"), p["data_used"]),
            (_("Data categories"), "; ".join(p["data_categories"])),
            (_("Recipients"), p["recipients"]),
            (_("Transfers to third countries"), p["third_country_transfers"]),
            (_("Retention"), p["retention"]),
            (_("While a changed text is unanswered"), p["while_outdated_rule"]),
        ]
        lines += ["", f"### {p['name']} (`{p['key']}`)", "", p["description"], ""]
        lines += [f"- {label}: {value}" for label, value in facts]
    lines += ["", "## " + _("Technical and organisational security measures (art. 32)"), ""]
    lines += [f"- {measure}" for measure in register["security_measures"]]
    return "\n".join(lines) + "\n"
