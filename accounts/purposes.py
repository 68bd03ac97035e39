"""The registry of processing purposes: what each is for, on what basis, and what happens
while a shopper has not yet answered a materially changed text.

This registry is the single source for the consent centre, the consent receipts
(`accounts.receipts`), the register of processing (`accounts.register`) and the rule
`accounts.consent.is_allowed` applies while a grant is outdated.

Outdated grants (a shopper said yes to version N, and an admin has since published a
version > N flagged as *material*) follow the purpose's `while_outdated` rule until the
shopper answers the re-consent prompt:

- `CONTINUE`: in-app features the shopper sees (habit summaries, the predicted list,
  the pantry) keep working under the version they agreed to. The shopper sees the
  output on every visit and the prompt beside it, so nothing happens out of view.
- `PAUSE`: processing that happens out of the shopper's sight (e-mail leaves the app;
  model improvement uses the history for others) stops until they agree to the new
  wording. Withdrawing or agreeing both end the pause.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class WhileOutdated(StrEnum):
    """What processing does between a material text change and the shopper's answer."""

    CONTINUE = "continue"
    PAUSE = "pause"


class LawfulBasis(StrEnum):
    """GDPR art. 6(1) bases used by Kvitto."""

    CONSENT = "consent"
    CONTRACT = "contract"


LAWFUL_BASIS_LABELS = {
    LawfulBasis.CONSENT: _("Your consent (GDPR art. 6(1)(a)); you can withdraw it at any time."),
    LawfulBasis.CONTRACT: _(
        "Necessary to provide the service you signed up for (GDPR art. 6(1)(b), contract)."
    ),
}
LAWFUL_BASIS_ARTICLES = {
    LawfulBasis.CONSENT: "GDPR art. 6(1)(a)",
    LawfulBasis.CONTRACT: "GDPR art. 6(1)(b)",
}

# Kantara Consent Receipt v1.1 purpose categories and PII categories used below
# (the specification's numbered lists, spelled as its examples spell them).
KANTARA_CORE_FUNCTION = "1 - Core Function"
KANTARA_CONTRACTED_SERVICE = "2 - Contracted Service"
KANTARA_CONTACT_REQUESTED = "4 - Contact Requested"
KANTARA_PERSONALIZED_EXPERIENCE = "5 - Personalized Experience"
KANTARA_IMPROVE_PERFORMANCE = "16 - Improve Performance"
PII_BIOGRAPHICAL = "1 - Biographical"
PII_CONTACT = "2 - Contact"
PII_FINANCIAL = "7 - Financial"
PII_MEMBERSHIP = "14 - Membership"
PII_BEHAVIORAL = "15 - Behavioral"
PII_PROFILING = "16 - Profiling"


@dataclass(frozen=True)
class Purpose:
    key: str
    title: Promise
    summary: Promise
    switchable: bool = True
    # What the shopper gets in return, said at check-in and on the feature gate.
    benefit: Promise | str = ""
    # What data the purpose reads, in the shopper's words.
    data_used: Promise | str = ""
    lawful_basis: LawfulBasis = LawfulBasis.CONSENT
    # How long what is derived for the purpose is kept, in the shopper's words.
    retention: Promise | str = ""
    while_outdated: WhileOutdated = WhileOutdated.PAUSE
    # For the register of processing (art. 30) and the consent receipts.
    data_categories: tuple[Promise | str, ...] = ()
    recipients: Promise | str = ""
    kantara_purpose_category: tuple[str, ...] = field(default=(KANTARA_CORE_FUNCTION,))
    kantara_pii_category: tuple[str, ...] = field(default=(PII_FINANCIAL,))
    primary: bool = False

    @property
    def lawful_basis_label(self) -> Promise:
        return LAWFUL_BASIS_LABELS[self.lawful_basis]

    @property
    def lawful_basis_article(self) -> str:
        return LAWFUL_BASIS_ARTICLES[self.lawful_basis]

    @property
    def paused_while_outdated(self) -> bool:
        return self.while_outdated == WhileOutdated.PAUSE

    @property
    def while_outdated_label(self) -> Promise:
        if self.paused_while_outdated:
            return _("Paused until you agree to the new wording.")
        return _("Keeps working under the wording you agreed to until you answer.")


_RECIPIENTS_INTERNAL = _(
    "No one outside Kvitto. Hosting and database providers process it on our behalf "
    "under a data processing agreement."
)


NECESSARY = "necessary"
INSIGHTS = "insights"
PREDICTIONS = "predictions"
PANTRY = "pantry"
EMAIL = "email"
MODEL_IMPROVEMENT = "model_improvement"

PURPOSES: dict[str, Purpose] = {
    p.key: p
    for p in [
        Purpose(
            NECESSARY,
            _("Your purchase history"),
            _(
                "Storing and showing the receipts the store already holds for you. "
                "This is the service itself, so it cannot be switched off; "
                "you can download or erase it at any time."
            ),
            switchable=False,
            data_used=_(
                "Your receipts from the store till, the web shop and the app: date, store, "
                "products, quantities, prices and discounts; your store card or channel ids."
            ),
            lawful_basis=LawfulBasis.CONTRACT,
            retention=_(
                "As long as you have a Kvitto login, within the retention period set for "
                "receipts; erased with your account."
            ),
            while_outdated=WhileOutdated.CONTINUE,
            data_categories=(
                _("identification (e-mail, name, store card and channel ids)"),
                _("purchases (receipts and their lines)"),
            ),
            recipients=_RECIPIENTS_INTERNAL,
            kantara_purpose_category=(KANTARA_CONTRACTED_SERVICE,),
            kantara_pii_category=(PII_CONTACT, PII_FINANCIAL, PII_MEMBERSHIP),
            primary=True,
        ),
        Purpose(
            INSIGHTS,
            _("Habit summaries"),
            _(
                "Analysing your purchases into summaries: where the money goes, "
                "when you shop and what changed."
            ),
            benefit=_(
                "Monthly spending by category, your shopping rhythm, and what changed "
                "since last month."
            ),
            data_used=_("Your receipts: what, when, where and for how much you bought."),
            retention=_(
                "Recomputed from your receipts on every refresh; deleted at once when you "
                "switch it off."
            ),
            while_outdated=WhileOutdated.CONTINUE,
            data_categories=(_("purchases"), _("habit summaries derived from them")),
            recipients=_RECIPIENTS_INTERNAL,
            kantara_purpose_category=(KANTARA_PERSONALIZED_EXPERIENCE,),
            kantara_pii_category=(PII_FINANCIAL, PII_BEHAVIORAL),
        ),
        Purpose(
            PREDICTIONS,
            _("Predicted shopping list"),
            _("Predicting what you will need on your next trip, and when, from what you buy."),
            benefit=_("A list ready before you leave home, with the reason for each item."),
            data_used=_(
                "Your receipts: which products you buy and how often; the items you tick "
                "or add on your list."
            ),
            retention=_(
                "Forecasts are replaced on every refresh; your list until you clear it. "
                "Both are deleted at once when you switch it off."
            ),
            while_outdated=WhileOutdated.CONTINUE,
            data_categories=(_("purchases"), _("forecasts and the shopping list")),
            recipients=_RECIPIENTS_INTERNAL,
            kantara_purpose_category=(KANTARA_PERSONALIZED_EXPERIENCE,),
            kantara_pii_category=(PII_FINANCIAL, PII_BEHAVIORAL, PII_PROFILING),
        ),
        Purpose(
            PANTRY,
            _("Pantry and best-before reminders"),
            _(
                "Tracking the best-before dates of what you bought and reminding you "
                "in the app before food goes to waste."
            ),
            benefit=_(
                "Less food in the bin: a nudge a day or two before something passes its date."
            ),
            data_used=_(
                "Your receipts (which food and when) and the shelf life of each product; "
                "what you mark as used or thrown away."
            ),
            retention=_(
                "Pantry items until used or past their date; reminders within the "
                "notification retention period. Deleted at once when you switch it off."
            ),
            while_outdated=WhileOutdated.CONTINUE,
            data_categories=(_("purchases"), _("pantry items and in-app reminders")),
            recipients=_RECIPIENTS_INTERNAL,
            kantara_purpose_category=(KANTARA_PERSONALIZED_EXPERIENCE,),
            kantara_pii_category=(PII_FINANCIAL, PII_BEHAVIORAL),
        ),
        Purpose(
            EMAIL,
            _("E-mail"),
            _("Sending reminders and your shopping list to you by e-mail."),
            benefit=_("Reminders and your list in your inbox, without opening Kvitto."),
            data_used=_("Your e-mail address, name and the reminders or list being sent."),
            retention=_(
                "Nothing is kept for e-mail beyond the reminders themselves; sending stops "
                "at once when you switch it off."
            ),
            while_outdated=WhileOutdated.PAUSE,
            data_categories=(_("contact (e-mail address, name)"), _("reminders and lists")),
            recipients=_(
                "The e-mail delivery provider, on our behalf, under a data processing agreement."
            ),
            kantara_purpose_category=(KANTARA_CONTACT_REQUESTED,),
            kantara_pii_category=(PII_CONTACT, PII_BIOGRAPHICAL),
        ),
        Purpose(
            MODEL_IMPROVEMENT,
            _("Help improve predictions"),
            _(
                "Letting your anonymised history help the predictions for other shoppers. "
                "Nothing that identifies you leaves your account."
            ),
            benefit=_("Better predictions for every shopper, including you, as more take part."),
            data_used=_(
                "Your purchase history without your name, e-mail or card: which products "
                "were bought, and when."
            ),
            retention=_(
                "Only inside the shared prediction model, which is retrained regularly; "
                "your history leaves it at the next training after you switch it off."
            ),
            while_outdated=WhileOutdated.PAUSE,
            data_categories=(_("purchases, pseudonymised"),),
            recipients=_RECIPIENTS_INTERNAL,
            kantara_purpose_category=(KANTARA_IMPROVE_PERFORMANCE,),
            kantara_pii_category=(PII_BEHAVIORAL,),
        ),
    ]
}

SWITCHABLE = [key for key, purpose in PURPOSES.items() if purpose.switchable]
PURPOSE_CHOICES = [(key, purpose.title) for key, purpose in PURPOSES.items()]

# Organisational and technical measures (GDPR art. 32), for the register of processing.
SECURITY_MEASURES = [
    _("Passwords stored only as salted hashes; API keys only as hashes."),
    _("HTTPS only, secure cookies, HSTS and a Content-Security-Policy in production."),
    _("Every page and endpoint shows a shopper only their own data (tested)."),
    _(
        "Processing for a purpose checks the shopper's live consent first; withdrawal deletes "
        "what was derived for it in the same transaction."
    ),
    _("Integration clients are scoped; every read of a shopper's consents is logged."),
    _("Staff see aggregated consent statistics only, never a shopper's receipts."),
    _("An append-only consent log, with the exact text version each decision refers to."),
]
