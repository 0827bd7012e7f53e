"""A SoftHSM2 token for tests and benchmarks on one machine (the PKCS#11 key store's HSM).

SoftHSM2 comes from Debian (`softhsm2`). `ensure_softhsm()` installs it when it is missing —
through the repository's `scripts/install-test-deps.sh` when there is one, else `apt-get` — and
raises `SoftHsmError` when that fails: a test that needs a token never skips for want of one.

`SoftHsm(root)` keeps its own configuration and token directory under `root`, so it touches
nothing of a system-wide SoftHSM. SoftHSM2 reads `SOFTHSM2_CONF` when a process first loads the
library and sees only the tokens that existed then: initialise every token before the first use
in a process (`init_token`), and give child processes `env()`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Final

_MODULES: Final = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
_INSTALL_SCRIPT: Final = Path(__file__).resolve().parents[1] / "scripts" / "install-test-deps.sh"


class SoftHsmError(RuntimeError):
    """SoftHSM2 is not installed and could not be installed, or a token could not be made."""


def find_module() -> Path | None:
    """The SoftHSM2 PKCS#11 library, if installed."""
    for candidate in _MODULES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def _util() -> str | None:
    return shutil.which("softhsm2-util")


def ensure_softhsm() -> Path:
    """The SoftHSM2 library, installing Debian's `softhsm2` first when it is missing."""
    module = find_module()
    if module is not None and _util() is not None:
        return module
    if _INSTALL_SCRIPT.is_file():
        command = ["bash", str(_INSTALL_SCRIPT)]
    elif shutil.which("apt-get") is not None and os.geteuid() == 0:
        command = ["/bin/sh", "-c", "apt-get update -qq && apt-get install -y -qq softhsm2"]
    else:
        raise SoftHsmError(
            "SoftHSM2 is missing: install Debian's softhsm2 (apt-get install softhsm2)"
        )
    result = subprocess.run(  # noqa: S603 — fixed commands, no user input
        command,
        check=False,
        capture_output=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        timeout=600,
    )
    module = find_module()
    if result.returncode != 0 or module is None or _util() is None:
        tail = result.stderr.decode(errors="replace")[-400:]
        raise SoftHsmError(f"installing softhsm2 failed ({result.returncode}): {tail}")
    return module


class SoftHsm:
    """A private SoftHSM2 configuration and token directory under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.module = ensure_softhsm()
        self.tokens = self.root / "tokens"
        self.tokens.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.pin_files: dict[str, Path] = {}
        """PIN file of each token made by `init_token`, by label."""
        self.conf = self.root / "softhsm2.conf"
        self.conf.write_text(
            f"directories.tokendir = {self.tokens}\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
            "slots.removable = false\n",
            encoding="utf-8",
        )

    def env(self) -> dict[str, str]:
        """What a process needs in its environment to see these tokens."""
        return {"SOFTHSM2_CONF": str(self.conf)}

    def init_token(self, label: str) -> Path:
        """Initialise a token `label` with a random user PIN; returns the PIN file (0600)."""
        util = _util()
        if util is None:
            raise SoftHsmError("softhsm2-util is missing")
        pin = secrets.token_hex(8)
        result = subprocess.run(  # noqa: S603 — fixed binary, generated arguments
            [
                util,
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                secrets.token_hex(8),
                "--pin",
                pin,
            ],
            check=False,
            capture_output=True,
            env={**os.environ, **self.env()},
            timeout=60,
        )
        if result.returncode != 0:
            raise SoftHsmError(f"softhsm2-util could not initialise token {label!r}")
        pin_file = self.root / f"{label}.pin"
        fd = os.open(pin_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(pin + "\n")
        self.pin_files[label] = pin_file
        return pin_file
