"""Optional single sign-on through OpenID Connect (authlib), for example NHS Care Identity Service 2.

On only when ``SAFELINK_OIDC_METADATA_URL``, ``SAFELINK_OIDC_CLIENT_ID`` and ``SAFELINK_OIDC_CLIENT_SECRET``
are set. The provider vouches for the e-mail address; the case view account with that address (made with
``safelink users add``) gives the role. Someone the provider knows but the case view does not is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from caseview import accounts

if TYPE_CHECKING:
    from caseview.app import Context


def add_sso_routes(app: FastAPI, ctx: Context) -> None:
    """Add ``/login/sso`` and ``/login/sso/callback`` when single sign-on is configured.

    Args:
        app: the application.
        ctx: its context.
    """
    if not ctx.oidc.enabled:
        return
    from authlib.integrations.starlette_client import OAuth

    from caseview.app import Refused, home, sign_in

    oauth = OAuth()
    oauth.register("idp", server_metadata_url=ctx.oidc.metadata_url, client_id=ctx.oidc.client_id,
                   client_secret=ctx.oidc.client_secret, client_kwargs={"scope": ctx.oidc.scope})
    client: Any = oauth.create_client("idp")

    @app.get("/login/sso")
    async def sso_start(request: Request) -> Response:
        callback = (f"{ctx.base_url}/login/sso/callback" if ctx.base_url
                    else str(request.url_for("sso_callback")))
        response: Response = await client.authorize_redirect(request, callback)
        return response

    @app.get("/login/sso/callback", name="sso_callback")
    async def sso_callback(request: Request) -> Response:
        try:
            token = await client.authorize_access_token(request)
        except Exception as exc:  # authlib raises several error types for a failed or forged callback
            raise Refused(401, "Single sign-on did not complete. Try again.") from exc
        claims = token.get("userinfo") or await client.userinfo(token=token)
        email = str(claims.get(ctx.oidc.email_claim) or "")
        user = accounts.user_by_email(ctx.engine, email) if email else None
        if user is None:
            raise Refused(403, "Your identity was confirmed but there is no case view account for it. "
                               "Ask the designated professional to add one.")
        sign_in(ctx, request, user)
        return RedirectResponse(home(user), status_code=303)
