"""One settings object, read once at start-up from the environment and passed down.

Nothing here runs at import time: `Settings.from_env(os.environ)` is called by the composition
root (and by tests with their own mapping). An invalid value fails with `SettingsError`, whose
message names the environment variable and says what a valid value looks like.
"""

from __future__ import annotations

import locale
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

SKILLS: tuple[str, ...] = ("objectremover-video", "video-json-ai", "editor-remastered")
DEFAULT_API_URL = "https://mega-api-prod.nemovideo.ai"
WAIT_CEILING_SECONDS = 50.0
DOWNLOAD_MAX_BYTES = 20 * 1024**3  # 20 GiB
MAX_CONTACT_SHEET_FRAMES = 12

SkillSlug = Literal["objectremover-video", "video-json-ai", "editor-remastered"]
Platform = Literal["clawhub", "cursor", "unknown"]

# env var -> field name. The README's configuration table is checked against this mapping.
ENV_VARS: dict[str, str] = {
    "NEMO_TOKEN": "token",
    "NEMO_API_URL": "api_url",
    "NEMO_CLIENT_ID": "client_id",
    "NEMO_SKILL": "skill",
    "NEMO_SKILL_PLATFORM": "skill_platform",
    "NEMO_LANGUAGE": "language",
    "NEMO_MEDIA_ROOTS": "media_roots",
    "NEMO_OUTPUT_DIR": "output_dir",
    "NEMO_STATE_DIR": "state_dir",
    "NEMO_WAIT_SECONDS": "wait_seconds",
    "NEMO_POLL_SECONDS": "poll_seconds",
    "NEMO_POLL_MAX_SECONDS": "poll_max_seconds",
    "NEMO_RENDER_URL_POLLS": "render_url_polls",
    "NEMO_RETRY_AFTER_SECONDS": "retry_after_seconds",
    "NEMO_MAX_RETRIES": "max_retries",
    "NEMO_CONNECT_TIMEOUT": "connect_timeout",
    "NEMO_READ_TIMEOUT": "read_timeout",
    "NEMO_STREAM_STALL_SECONDS": "stream_stall_seconds",
    "NEMO_STREAM_MAX_SECONDS": "stream_max_seconds",
    "NEMO_RECOVERY_POLL_SECONDS": "recovery_poll_seconds",
    "NEMO_RECOVERY_MAX_UNCHANGED": "recovery_max_unchanged",
    "NEMO_RECORD_TTL_HOURS": "record_ttl_hours",
    "NEMO_DOWNLOAD_MAX_BYTES": "download_max_bytes",
    "NEMO_DOWNLOAD_MAX_SECONDS": "download_max_seconds",
    "NEMO_CONTACT_SHEET_FRAMES": "contact_sheet_frames",
    "NEMO_HTTP_TOKEN": "http_token",
    "NEMO_HTTP_ISOLATE_CLIENTS": "http_isolate_clients",
    "NEMO_LOG_LEVEL": "log_level",
}


class SettingsError(ValueError):
    """A setting is invalid; the message names the environment variable."""


def default_media_roots(home: Path | None = None) -> list[Path]:
    """The user's usual media folders that exist: Desktop, Downloads, Movies/Videos, Music, Pictures."""
    home = home or Path.home()
    names = ("Desktop", "Downloads", "Movies", "Videos", "Music", "Pictures")
    return [home / n for n in names if (home / n).is_dir()]


def language_tag(value: str) -> str | None:
    """A locale or language setting as NemoVideo writes languages: `zh_CN.UTF-8` -> `zh-CN`,
    `en` -> `en`, `pt-br` -> `pt-BR` (the region kept, a script dropped); None when unusable."""
    base = value.strip().split(".")[0].split("@")[0]
    parts = [p for p in base.replace("_", "-").split("-") if p]
    if not parts:
        return None
    lang = parts[0].lower()
    if not (lang.isalpha() and 2 <= len(lang) <= 3) or lang in ("c", "posix"):
        return None
    region = next(
        (p for p in parts[1:] if (p.isalpha() and len(p) == 2) or (p.isdigit() and len(p) == 3)), None
    )
    return f"{lang}-{region.upper()}" if region else lang


def system_language() -> str:
    """The system locale's language, region kept (`en-US`, `zh-CN`, `es`...), else `en`."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        tag = language_tag(os.environ.get(var, ""))
        if tag is not None:
            return tag
    try:
        loc = locale.getlocale()[0] or ""
    except ValueError:  # an unparsable locale is the same as none
        loc = ""
    return language_tag(loc) or "en"


class Settings(BaseModel):
    """Every knob of the server. Build with `Settings.from_env(os.environ)`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: SecretStr | None = None
    api_url: str = DEFAULT_API_URL
    client_id: str | None = None
    skill: SkillSlug = "objectremover-video"
    skill_platform: Platform | None = None
    language: str = "en"
    media_roots: tuple[Path, ...] = ()
    output_dir: Path = Path()
    state_dir: Path = Path()
    wait_seconds: float = Field(default=40.0, gt=0, le=WAIT_CEILING_SECONDS)
    poll_seconds: float = Field(default=2.0, gt=0, le=60)
    poll_max_seconds: float = Field(default=15.0, gt=0, le=300)
    render_url_polls: int = Field(default=3, ge=0, le=50)
    retry_after_seconds: float = Field(default=30.0, ge=0, le=600)
    max_retries: int = Field(default=3, ge=0, le=10)
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    stream_stall_seconds: float = Field(default=300.0, gt=0)
    stream_max_seconds: float = Field(default=900.0, gt=0)
    recovery_poll_seconds: tuple[float, ...] = (30.0, 60.0)
    recovery_max_unchanged: int = Field(default=5, ge=1, le=100)
    record_ttl_hours: float = Field(default=24.0 * 7, gt=0)
    download_max_bytes: int = Field(default=DOWNLOAD_MAX_BYTES, gt=0)
    download_max_seconds: float = Field(default=3600.0, gt=0, le=7 * 24 * 3600.0)
    http_token: SecretStr | None = None  # one token, or several separated by commas (one per client)
    http_isolate_clients: bool = False
    contact_sheet_frames: int = Field(default=6, ge=0, le=MAX_CONTACT_SHEET_FRAMES)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Not from the environment: `--sandbox` sets it (cli.sandboxed), so every result can say that
    # it was simulated by the embedded emulator, not made by NemoVideo.
    sandbox: bool = False

    @field_validator("api_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/")

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str) -> str:
        tag = language_tag(v)
        if tag is None:
            raise ValueError("must be a language code such as en, zh-CN or es")
        return tag

    @field_validator("recovery_poll_seconds")
    @classmethod
    def _intervals(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v or any(x <= 0 for x in v):
            raise ValueError("must be one or more positive numbers of seconds, comma-separated")
        return v

    @property
    def http_tokens(self) -> tuple[str, ...]:
        """The bearer tokens the HTTP transport accepts (NEMO_HTTP_TOKEN, split at commas)."""
        raw = self.http_token.get_secret_value() if self.http_token is not None else ""
        return tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, home: Path | None = None) -> Settings:
        """Read settings from `env`; raise `SettingsError` naming the first bad variable."""
        values: dict[str, Any] = {}
        for var, field in ENV_VARS.items():
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            raw = raw.strip()
            if field == "media_roots":
                values[field] = tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip())
            elif field == "recovery_poll_seconds":
                values[field] = tuple(x.strip() for x in raw.split(",") if x.strip())
            elif field in ("output_dir", "state_dir"):
                values[field] = Path(raw).expanduser()
            elif field == "log_level":
                values[field] = raw.upper()
            else:
                values[field] = raw
        values.setdefault("language", system_language())
        values.setdefault("media_roots", tuple(default_media_roots(home)))
        if "output_dir" not in values:
            downloads = Path(platformdirs.user_downloads_dir()) if home is None else home / "Downloads"
            values["output_dir"] = downloads / "NemoVideo"
        if "state_dir" not in values:
            values["state_dir"] = (
                Path(platformdirs.user_state_dir("nemo-video-mcp", appauthor=False))
                if home is None
                else home / ".local" / "state" / "nemo-video-mcp"
            )
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError(_explain(exc)) from None

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (validated)."""
        try:
            return type(self)(**{**self.model_dump(), **changes})
        except ValidationError as exc:
            raise SettingsError(_explain(exc)) from None


def _explain(exc: ValidationError) -> str:
    field_to_var = {f: v for v, f in ENV_VARS.items()}
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        var = field_to_var.get(field, field)
        shown = "" if field in ("token", "http_token") else f" (got {err.get('input')!r})"
        lines.append(f"{var}: {err['msg']}{shown}")
    return "invalid configuration: " + "; ".join(lines)
