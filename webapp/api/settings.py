"""The API of the installation's settings: its locale (``core.installation``), which every
signed-in user reads (a script writing amounts as the app does) and only an admin changes.
The request and answer models live here, beside the endpoints that use them."""
from __future__ import annotations

from pydantic import BaseModel, Field

from core import installation
from core.formatting import DATE_FORMATS, NUMBER_STYLES
from webapp import services
from webapp.api.payloads import Strict
from webapp.api.routing import endpoint
from webapp.security import client_ip, current_db_user, db_session

_CLEAR = " Null (or \"\") goes back to the environment's default; an absent field is kept."


class LocaleRequest(Strict):
    currency: str | None = Field(None, description="ISO 4217 code (GBP, USD, EUR, …) or a "
                                                   "sign (£, $, €)." + _CLEAR)
    number_style: str | None = Field(None, description="How 1234.56 is written: "
                                     + ", ".join(NUMBER_STYLES) + "." + _CLEAR)
    date_format: str | None = Field(None, description="One of " + ", ".join(
        f"{name} ({example})" for name, example in DATE_FORMATS.items()) + "." + _CLEAR)
    timezone: str | None = Field(None, description="The IANA time zone the data's times "
                                                   "are in (Europe/London)." + _CLEAR)


class LocaleResponse(BaseModel):
    currency: str = Field(description="The ISO code amounts are shown in.")
    symbol: str = Field(description="Its sign (£, $, €; the code when it has none).")
    number_style: str
    date_format: str
    timezone: str
    sources: dict[str, str] = Field(description="Where each setting comes from: admin, "
                                                "environment, data (the currency the "
                                                "data states) or default.")
    data_currency: str | None = Field(description="The currency the current data states, "
                                                  "if it states one.")
    warning: str | None = Field(description="A set currency that contradicts the data's.")
    example: str = Field(description="£1,234,567.89 · 2 Dec 2025, written this way.")


@endpoint("GET", "/settings/locale", role="viewer", response=LocaleResponse,
          errors=(400, 401),
          summary="The installation's locale: the currency amounts are shown in, the number "
                  "style, date format and data time zone, and where each comes from.")
def get_locale():
    return services.locale_state().to_dict()


@endpoint("PUT", "/settings/locale", role="admin", body=LocaleRequest,
          response=LocaleResponse,
          summary="Change the installation's locale (admin); the fields sent are set or, "
                  "null, cleared. Audited as settings_changed.")
def put_locale(body: LocaleRequest):
    session = db_session()
    installation.update_locale(session, current_db_user(), body.model_dump(exclude_unset=True),
                               ip=client_ip())
    session.commit()
    installation.forget_cached()
    return services.locale_state().to_dict()
