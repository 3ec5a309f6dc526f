"""`retail-assets secrets`: write the production stack's `.env` with fresh random secrets.

`.env.example` lists every setting of `docker-compose.yml` and leaves each secret empty, so compose
refuses to start (`${VAR:?...}`) until a real value is set. This command copies `.env.example` to
`.env`, filling every secret with a value from Python's `secrets` module, and writes the file with
mode 0600. It never prints a secret, only the names it filled.

Pulsar tokens: the broker verifies HS256-signed JWTs with the symmetric key
`PULSAR_TOKEN_SECRET_KEY` (`tokenSecretKey=data:;base64,<key>`). An HS256 JWT is an HMAC-SHA256
over two base64url JSON documents, so the tokens for the admin and pipeline roles are made here
with the standard library instead of Pulsar's `bin/pulsar tokens create`, which would need a JVM
and the Pulsar distribution on the operator's machine.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import string
import sys
from pathlib import Path

from retail_assets.errors import RetailAssetsError

# Random passwords: letters and digits only, so a value is safe unquoted in `.env`, in a shell, in
# a URL and as a command-line argument (a leading "-" would read as an option to `mc` or `psql`).
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 40  # about 238 bits
PASSWORDS: tuple[str, ...] = (
    "MINIO_ROOT_PASSWORD",
    "POSTGRES_PASSWORD",
    "RVA_PIPELINE_SECRET_KEY",
    "PROXY_PASSWORD",
)
SIGNING_KEY = "PULSAR_TOKEN_SECRET_KEY"
SIGNING_KEY_BYTES = 32  # HS256 needs at least 256 bits of key (Pulsar's jjwt enforces it)
# token variable -> the variable naming the role it authenticates as (the JWT's `sub` claim)
TOKENS: dict[str, str] = {
    "PULSAR_ADMIN_TOKEN": "PULSAR_ADMIN_ROLE",
    "PULSAR_PIPELINE_TOKEN": "PULSAR_PIPELINE_ROLE",
}
SECRET_NAMES: tuple[str, ...] = (*PASSWORDS, SIGNING_KEY, *TOKENS)


class SecretsError(RetailAssetsError):
    """The `.env` file cannot be written as asked."""


def random_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def random_signing_key() -> str:
    """A fresh HS256 key, standard base64 as Pulsar's `data:;base64,` URL expects."""
    return base64.b64encode(secrets.token_bytes(SIGNING_KEY_BYTES)).decode("ascii")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _compact_json(value: dict[str, str]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")


def make_token(subject: str, signing_key: str) -> str:
    """An HS256 JWT with `sub` = `subject`, signed with the base64 `signing_key`.

    No `exp` claim, like `pulsar tokens create` without `--expiry-time`: a token is revoked by
    rotating the signing key (docs/deploy.md, Security).
    """
    if not subject:
        raise SecretsError("a Pulsar token needs a role name (the JWT's sub claim)")
    key = base64.b64decode(signing_key, validate=True)
    header = _b64url(_compact_json({"alg": "HS256", "typ": "JWT"}))
    signing_input = f"{header}.{_b64url(_compact_json({'sub': subject}))}"
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def verify_token(token: str, signing_key: str) -> str:
    """The `sub` claim of an HS256 `token` whose signature matches `signing_key`; ValueError otherwise."""
    try:
        header_part, payload_part, signature_part = token.split(".")
    except ValueError:
        raise ValueError("a JWT has three dot-separated parts") from None
    if json.loads(_b64url_decode(header_part)).get("alg") != "HS256":
        raise ValueError("not an HS256 token")
    key = base64.b64decode(signing_key, validate=True)
    expected = hmac.new(key, f"{header_part}.{payload_part}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _b64url_decode(signature_part)):
        raise ValueError("the token's signature does not match the signing key")
    subject = json.loads(_b64url_decode(payload_part)).get("sub")
    if not isinstance(subject, str) or not subject:
        raise ValueError("the token has no sub claim")
    return subject


def parse_env(text: str) -> dict[str, str]:
    """`NAME=value` lines of an env file (comments and blank lines skipped; no quoting, as compose reads it)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and "=" in stripped:
            name, value = stripped.split("=", 1)
            values[name.strip()] = value
    return values


def fill_secrets(template: str, rotate: set[str] | None = None) -> tuple[str, list[str]]:
    """`template` with secret values set; returns the text and the names that were generated.

    With `rotate` None every secret in the template is generated (a new `.env`); otherwise only
    the named ones, plus the tokens when their signing key or role changes, and any secret the
    template leaves empty.
    """
    current = parse_env(template)
    wanted = set(SECRET_NAMES) if rotate is None else set(rotate)
    wanted |= {name for name in SECRET_NAMES if name in current and not current[name]}
    if SIGNING_KEY in wanted:
        wanted |= set(TOKENS)
    new: dict[str, str] = {}
    for name in PASSWORDS:
        if name in wanted:
            new[name] = random_password()
    if SIGNING_KEY in wanted:
        new[SIGNING_KEY] = random_signing_key()
    signing_key = new.get(SIGNING_KEY, current.get(SIGNING_KEY, ""))
    for token_name, role_name in TOKENS.items():
        if token_name in wanted and token_name in current:
            if not signing_key:
                raise SecretsError(f"{token_name} needs {SIGNING_KEY}; rotate it too")
            new[token_name] = make_token(current.get(role_name, ""), signing_key)

    lines = []
    seen = set()
    for line in template.splitlines():
        stripped = line.strip()
        name = stripped.split("=", 1)[0].strip() if "=" in stripped and not stripped.startswith("#") else ""
        if name in new:
            line = f"{name}={new[name]}"
            seen.add(name)
        lines.append(line)
    # A secret asked for by name but missing from the file (an older .env) is appended.
    lines += [f"{name}={new[name]}" for name in new if name not in seen]
    return "\n".join(lines) + "\n", sorted(new)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600, atomically: a reader never sees a partial file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        # os.open's mode is masked by the umask; set it explicitly so the file is never wider.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env-file", default=".env", type=Path, help="file to write (default: .env)")
    parser.add_argument(
        "--example", default=".env.example", type=Path, help="template to copy (default: .env.example)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an existing env file (every secret changes)"
    )
    parser.add_argument(
        "--rotate",
        nargs="+",
        metavar="NAME",
        choices=SECRET_NAMES,
        help=f"in an existing env file, replace only these secrets (one of: {', '.join(SECRET_NAMES)})",
    )


def run(args: argparse.Namespace) -> int:
    env_file: Path = args.env_file
    if args.rotate:
        if not env_file.is_file():
            raise SecretsError(f"{env_file} does not exist; run `retail-assets secrets` first")
        text, generated = fill_secrets(env_file.read_text(encoding="utf-8"), set(args.rotate))
    else:
        if env_file.exists() and not args.force:
            raise SecretsError(
                f"{env_file} exists; not overwriting it (--force replaces every secret, "
                "--rotate NAME replaces one)"
            )
        if not args.example.is_file():
            raise SecretsError(f"template {args.example} not found; run from the repository root")
        text, generated = fill_secrets(args.example.read_text(encoding="utf-8"))
    write_private(env_file, text)
    # Names only: the values must never reach a terminal, a CI log or a shell history.
    print(f"wrote {env_file} (mode 0600); generated: {', '.join(generated) or 'nothing'}", file=sys.stderr)
    return 0
