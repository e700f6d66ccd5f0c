"""The single sign-on realm the inventory asks for, computed without a server (docs/sso.md)."""

from meetfleet.sso.realm import RealmError, desired_realm, realm_of

__all__ = ["RealmError", "desired_realm", "realm_of"]
