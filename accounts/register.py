"""The register of processing activities (GDPR art. 30), generated from the purpose registry.

`build_register` returns plain data (for JSON and the staff page); `render_markdown`
turns it into a document. Both read only the code's registry and settings, never a
shopper's data.
"""

from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.purposes import PURPOSES, SECURITY_MEASURES

DATA_SUBJECTS = "Shoppers with a Kvitto login, and customers the store's systems send orders for."


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
                "lawful_basis_article": purpose.lawful_basis_article,
                "switchable": purpose.switchable,
                "data_subjects": DATA_SUBJECTS,
                "data_used": str(purpose.data_used),
                "data_categories": [str(category) for category in purpose.data_categories],
                "recipients": str(purpose.recipients),
                "third_country_transfers": "None.",
                "retention": str(purpose.retention),
                "while_outdated": purpose.while_outdated.value,
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
    c = register["controller"]
    lines = [
        "# Register of processing activities (GDPR art. 30)",
        "",
        f"Generated {register['generated_at']} from the purpose registry (accounts/purposes.py).",
        "",
        "## Controller",
        "",
        f"- Name: {c['name']}",
        f"- Contact: {c['contact']}",
        f"- E-mail: {c['email']}",
        f"- Phone: {c['phone'] or '—'}",
        f"- Address: {c['address'] or '—'}",
        "",
        "## Processing activities",
    ]
    for p in register["purposes"]:
        lines += [
            "",
            f"### {p['name']} (`{p['key']}`)",
            "",
            p["description"],
            "",
            f"- Lawful basis: {p['lawful_basis']} ({p['lawful_basis_article']})",
            f"- Data subjects: {p['data_subjects']}",
            f"- Data used: {p['data_used']}",
            f"- Data categories: {'; '.join(p['data_categories'])}",
            f"- Recipients: {p['recipients']}",
            f"- Transfers to third countries: {p['third_country_transfers']}",
            f"- Retention: {p['retention']}",
            f"- After a material text change, until the shopper answers: {p['while_outdated']}",
        ]
    lines += ["", "## Technical and organisational security measures (art. 32)", ""]
    lines += [f"- {measure}" for measure in register["security_measures"]]
    return "\n".join(lines) + "\n"
