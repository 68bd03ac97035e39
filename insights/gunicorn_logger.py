"""Gunicorn's access log with the secrets in request paths and referers redacted
(`--logger-class insights.gunicorn_logger.RedactingLogger` in the Procfile)."""

from gunicorn.glogging import Logger

from insights.log_redaction import redact_url

# Atoms that hold the request's path or referer: %(r)s, %(U)s, %(f)s and their raw forms.
_URL_ATOMS = ("U", "f", "{referer}i", "{raw_uri}e", "{path_info}e", "{http_referer}e")


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time) -> dict:  # noqa: ANN001
        atoms = super().atoms(resp, req, environ, request_time)
        method, _, rest = atoms["r"].partition(" ")
        target, _, protocol = rest.rpartition(" ")
        atoms["r"] = f"{method} {redact_url(target)} {protocol}"
        for key in _URL_ATOMS:
            if isinstance(atoms.get(key), str) and atoms[key] != "-":
                atoms[key] = redact_url(atoms[key])
        return atoms
