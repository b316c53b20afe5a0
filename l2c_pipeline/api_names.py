"""Salesforce API names (objects and fields), checked before they go near a query or a table."""

from __future__ import annotations

import re

_NAME_PART = r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*"
# Standard names (Account, StageName), custom ones (Region__c) and package ones with a namespace
# (SBQQ__Quote__c, blng__Invoice__History).
API_NAME = re.compile(
    rf"^(?:{_NAME_PART}__)?{_NAME_PART}(?:__(?:c|r|History|Share|Feed|mdt|e|b|x|kav|ka))?$"
)


def is_api_name(name: object) -> bool:
    return isinstance(name, str) and bool(API_NAME.match(name))
