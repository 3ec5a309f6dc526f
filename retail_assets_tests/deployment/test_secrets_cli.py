"""`retail-assets secrets`: the production `.env`, its random secrets and the Pulsar tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from pathlib import Path

import pytest

from retail_assets.cli import main
from retail_assets.secrets_cli import (
    PASSWORDS,
    SECRET_NAMES,
    SIGNING_KEY,
    TOKENS,
    make_token,
    parse_env,
    random_signing_key,
    verify_token,
)
from retail_assets_tests.deployment.envfile import ENV_EXAMPLE, compose_config, write_generated_env


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_token_is_an_hs256_jwt_whose_sub_is_the_role() -> None:
    key = random_signing_key()
    assert len(base64.b64decode(key, validate=True)) == 32
    token = make_token("rva-pipeline", key)
    header, payload, signature = token.split(".")
    assert json.loads(_b64url_decode(header)) == {"alg": "HS256", "typ": "JWT"}
    assert json.loads(_b64url_decode(payload)) == {"sub": "rva-pipeline"}
    # The HMAC computed independently of the module, as the broker does.
    expected = hmac.new(base64.b64decode(key), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert _b64url_decode(signature) == expected
    assert verify_token(token, key) == "rva-pipeline"


def test_a_token_signed_with_another_key_or_altered_is_rejected() -> None:
    key = random_signing_key()
    token = make_token("rva-pipeline", key)
    with pytest.raises(ValueError, match="signature"):
        verify_token(token, random_signing_key())
    header, _, signature = token.split(".")
    forged = base64.urlsafe_b64encode(b'{"sub":"rva-admin"}').rstrip(b"=").decode()
    with pytest.raises(ValueError, match="signature"):
        verify_token(f"{header}.{forged}.{signature}", key)


def test_writes_a_private_env_with_random_secrets_and_never_prints_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = parse_env(write_generated_env(tmp_path / "a.env").read_text())
    second = parse_env(write_generated_env(tmp_path / "b.env").read_text())
    printed = capsys.readouterr()
    for name in ("a.env", "b.env"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    example = parse_env(ENV_EXAMPLE.read_text())
    assert set(first) == set(example)
    for name in SECRET_NAMES:
        assert first[name] and second[name] and first[name] != second[name], name
        assert first[name] not in printed.out + printed.err, name
    for name in PASSWORDS:
        assert len(first[name]) >= 32 and first[name].isalnum(), name
    # Everything that is not a secret is copied unchanged.
    assert {k: v for k, v in first.items() if k not in SECRET_NAMES} == {
        k: v for k, v in example.items() if k not in SECRET_NAMES
    }
    for token_name, role_name in TOKENS.items():
        assert verify_token(first[token_name], first[SIGNING_KEY]) == example[role_name]


def test_refuses_to_overwrite_an_existing_env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = write_generated_env(tmp_path / ".env")
    before = env_file.read_text()
    assert main(["secrets", "--env-file", str(env_file), "--example", str(ENV_EXAMPLE)]) == 2
    assert "--force" in capsys.readouterr().err
    assert env_file.read_text() == before
    assert main(["secrets", "--env-file", str(env_file), "--example", str(ENV_EXAMPLE), "--force"]) == 0
    after = parse_env(env_file.read_text())
    assert all(after[name] != parse_env(before)[name] for name in SECRET_NAMES)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_rotate_replaces_only_the_named_secret_and_the_tokens_follow_their_key(tmp_path: Path) -> None:
    env_file = write_generated_env(tmp_path / ".env")
    env_file.write_text(env_file.read_text() + "# an operator's note\n")
    env_file.chmod(0o600)
    before = parse_env(env_file.read_text())
    assert main(["secrets", "--env-file", str(env_file), "--rotate", "POSTGRES_PASSWORD"]) == 0
    after = parse_env(env_file.read_text())
    assert [n for n in SECRET_NAMES if after[n] != before[n]] == ["POSTGRES_PASSWORD"]
    assert env_file.read_text().endswith("# an operator's note\n")

    assert main(["secrets", "--env-file", str(env_file), "--rotate", SIGNING_KEY]) == 0
    rotated = parse_env(env_file.read_text())
    assert sorted(n for n in SECRET_NAMES if rotated[n] != after[n]) == sorted([SIGNING_KEY, *TOKENS])
    for token_name, role_name in TOKENS.items():
        assert verify_token(rotated[token_name], rotated[SIGNING_KEY]) == rotated[role_name]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_compose_accepts_the_generated_env(tmp_path: Path) -> None:
    result = compose_config(write_generated_env(tmp_path / ".env"), "-q")
    assert result.returncode == 0, result.stderr
