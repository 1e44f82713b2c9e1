"""Who may verify, review feedback and add documents in the app, and the token sign-in that guards them.

Where the council's identity provider is configured (``[auth]`` in
``.streamlit/secrets.toml``, Streamlit's OpenID Connect sign-in), the signed-in
e-mail address decides: :func:`may_review` against ``PROTOCOL_QA_REVIEWERS``.
Where it is not, the administrator token below is the fallback for a single machine.

Uploads are accepted only from a session that has signed in with the
administrator token; the file control is not even shown before that, so a
visitor cannot make the server hold a file in memory. Wrong tokens are
counted across all sessions of the server (an attacker opens as many
sessions as they like): past ``max_failures`` in ``window_s`` seconds, every
sign-in is refused for ``lockout_s`` seconds, the right token included. Each
failure and each lockout is logged with the session's short id, never with
what was typed.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

__all__ = ["SignIn", "SignInGuard", "SignInPolicy", "Reviewer", "may_review"]

log = logging.getLogger("protocol_qa.access")


@dataclass(frozen=True)
class Reviewer:
    """Someone signed in with the Monitoring Officer's role: ``via`` is ``"oidc"`` or ``"token"``."""

    name: str
    email: str
    via: str

    @property
    def who(self) -> str:
        """How the audit log names them: the e-mail address, else the name, else the sign-in used."""
        return self.email or self.name or "administrator token"


def may_review(email: str | None, reviewers: tuple[str, ...], *, roles=None, reviewer_role: str = "") -> bool:
    """Whether the signed-in person may verify: their ``email`` is one of ``reviewers`` (without regard
    to case), or ``reviewer_role`` is among the ``roles`` claim of their ID token (a list or one string,
    as Microsoft Entra ID's app roles and Keycloak's mapped roles arrive).

    Only what the identity provider vouched for should reach here: Streamlit takes both from the
    provider's ID token, never from the user."""
    if email and email.strip().lower() in reviewers:
        return True
    if not reviewer_role or not roles:
        return False
    return reviewer_role in ([roles] if isinstance(roles, str) else list(roles))


class SignIn(Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass(frozen=True)
class SignInPolicy:
    """How many wrong tokens are allowed, and for how long sign-in stops after them.

    Ten a minute lets an administrator mistype several times, and holds a
    guesser to at most 14,400 guesses a day against a token of 20 or more
    random characters (the README asks for one).
    """

    max_failures: int = 10
    window_s: float = 60.0
    lockout_s: float = 300.0


class SignInGuard:
    """Checks tokens for every session of one server process; thread-safe."""

    def __init__(self, secret: str, policy: SignInPolicy = SignInPolicy(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._secret = secret.encode()
        self.policy = policy
        self._clock = clock
        self._failures: deque[float] = deque()
        self._locked_until = 0.0
        self._lock = threading.Lock()

    def locked_for(self) -> float:
        """Seconds until sign-in opens again (0 when open)."""
        with self._lock:
            return max(0.0, self._locked_until - self._clock())

    def check(self, token: str, session: str = "") -> SignIn:
        """Whether ``token`` is the administrator token, unless sign-in is locked."""
        with self._lock:
            now = self._clock()
            if now < self._locked_until:
                log.warning("administrator sign-in refused while locked (session %s)", session[:8] or "?")
                return SignIn.LOCKED
            if hmac.compare_digest(token.encode(), self._secret):
                return SignIn.ACCEPTED
            self._failures.append(now)
            while self._failures and self._failures[0] <= now - self.policy.window_s:
                self._failures.popleft()
            log.warning("wrong administrator token (session %s; %d wrong in the last %g s)",
                        session[:8] or "?", len(self._failures), self.policy.window_s)
            if len(self._failures) >= self.policy.max_failures:
                self._locked_until = now + self.policy.lockout_s
                self._failures.clear()
                log.warning("administrator sign-in locked for %g s after %d wrong tokens in %g s",
                            self.policy.lockout_s, self.policy.max_failures, self.policy.window_s)
            return SignIn.WRONG
