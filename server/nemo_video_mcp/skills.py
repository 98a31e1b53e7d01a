"""The three skills: their texts (`skills/<slug>/SKILL.md`), versions and attribution.

The YAML front matter of each SKILL.md is the single source of truth for the skill's version,
which every backend request carries as `X-Skill-Version`. The platform (`X-Skill-Platform`) is
detected from where the skills are installed: under `~/.clawhub/` it is `clawhub`, under
`~/.cursor/skills/` it is `cursor`, anything else `unknown`; `NEMO_SKILL_PLATFORM` overrides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from .settings import SKILLS


class SkillError(ValueError):
    """A SKILL.md is missing or its front matter is unusable."""


@dataclass(frozen=True)
class Skill:
    slug: str
    name: str
    description: str
    version: str
    body: str  # the markdown after the front matter
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Attribution:
    """The three attribution headers' values for one request."""

    source: str
    version: str
    platform: str

    def headers(self) -> dict[str, str]:
        return {
            "X-Skill-Source": self.source,
            "X-Skill-Version": self.version,
            "X-Skill-Platform": self.platform,
        }


def skills_dir() -> Path:
    """Where the SKILL.md files are: beside the package when installed, else the repo's `skills/`."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_skills", here.parent.parent / "skills"):
        if candidate.is_dir():
            return candidate
    raise SkillError(f"no skills folder found beside {here}")


def parse_skill(slug: str, path: Path) -> Skill:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SkillError(f"cannot read {path}: {exc.strerror}") from None
    if not raw.startswith("---"):
        raise SkillError(f"{path} has no YAML front matter")
    _, front, body = raw.split("---", 2)
    meta = yaml.safe_load(front)
    if not isinstance(meta, dict):
        raise SkillError(f"{path}: front matter is not a mapping")
    missing = [k for k in ("name", "description", "version") if not meta.get(k)]
    if missing:
        raise SkillError(f"{path}: front matter lacks {', '.join(missing)}")
    return Skill(
        slug=slug,
        name=str(meta["name"]),
        description=" ".join(str(meta["description"]).split()),
        version=str(meta["version"]),
        body=body.lstrip("\n"),
        path=path,
    )


def detect_platform(install_path: Path, home: Path | None = None) -> str:
    """`clawhub`, `cursor` or `unknown`, from where the skills are installed."""
    home = (home or Path.home()).resolve()
    try:
        rel = install_path.resolve().relative_to(home)
    except ValueError:
        return "unknown"
    parts = rel.parts
    if parts[:1] == (".clawhub",):
        return "clawhub"
    if parts[:2] == (".cursor", "skills"):
        return "cursor"
    return "unknown"


class SkillRegistry:
    """The three skills, loaded once at start-up."""

    def __init__(self, skills: dict[str, Skill], platform: str) -> None:
        self._skills = skills
        self.platform = platform

    @classmethod
    def load(cls, directory: Path | None = None, *, platform_override: str | None = None) -> SkillRegistry:
        directory = directory or skills_dir()
        skills = {slug: parse_skill(slug, directory / slug / "SKILL.md") for slug in SKILLS}
        platform = platform_override or detect_platform(directory)
        return cls(skills, platform)

    def __getitem__(self, slug: str) -> Skill:
        try:
            return self._skills[slug]
        except KeyError:
            raise SkillError(f"unknown skill {slug!r}; choose one of: {', '.join(SKILLS)}") from None

    def __iter__(self) -> Iterator[Skill]:
        return iter(self._skills.values())

    def attribution(self, slug: str) -> Attribution:
        return Attribution(source=slug, version=self[slug].version, platform=self.platform)
