"""The value types config models share: strict models, durations, sizes, names and URLs."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from crawler.config.units import parse_duration, parse_size

SOURCE_NAME = r"^[a-z0-9_-]+$"
HTTP_URL = r"^https?://[^\s/$.?#][^\s]*$"

Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
HttpUrlText = Annotated[str, Field(pattern=HTTP_URL)]

# How a pattern mismatch is explained (crawler/config/load.py).
PATTERN_MESSAGES = {
    SOURCE_NAME: "use only lowercase letters, digits, '-' and '_'",
    HTTP_URL: "must be an http:// or https:// URL",
}


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
