"""The lab's Keycloak as Nextcloud sees it: the discovery document at the URL roles/nextcloud
configures (from fleet_sso), read from cloud.lab over the lab network, and the realm's
`nextcloud` client as the admin API shows it (the `organization` scope Nextcloud asks for,
whose claim becomes its groups). The real Keycloak on sso.lab (playbooks/sso.yml), no
stand-in; Nextcloud itself cannot be installed here (roles/nextcloud/README.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.playbooks.lab_reads import KEYCLOAK_DEFAULTS, KEYCLOAK_SIGN_IN, reported

pytestmark = [pytest.mark.lab, pytest.mark.slow]

if shutil.which("podman") is None:
    pytest.skip("podman is not installed (bash scripts/setup.sh installs it)", allow_module_level=True)


PLAY = """
- name: Read the discovery document where Nextcloud will
  hosts: nextcloud
  gather_facts: false
  vars_files: [{nextcloud_defaults}]
  tasks:
    - name: GET the discovery URL roles/nextcloud configures
      ansible.builtin.uri:
        url: "{{{{ nextcloud_oidc_discovery_url }}}}"
        validate_certs: false  # the lab's self-signed certificate; a real host's is public
        return_content: true
        timeout: 30
      register: discovery
    - name: Report it
      ansible.builtin.set_fact:
        seen: "{{{{ {{'url': nextcloud_oidc_discovery_url, 'client_id': nextcloud_oidc_client_id,
                    'scope': nextcloud_oidc_scope, 'groups_claim': nextcloud_oidc_groups_claim,
                    'document': discovery.json}} }}}}"

- name: The realm's nextcloud client, through the admin API
  hosts: keycloak
  gather_facts: false
  vars_files: [{keycloak_defaults}]
  tasks:
{keycloak_sign_in}    - name: Read the client and its optional and default scopes
      ansible.builtin.uri:
        url: "{{{{ keycloak_admin_url }}}}/admin/realms/{{{{ fleet_sso.realm }}}}/clients?clientId=nextcloud"
        headers: {{Authorization: "Bearer {{{{ token.json.access_token }}}}"}}
        timeout: 30
      register: client
      no_log: true
    - name: Report the client's settings (no secret)
      ansible.builtin.set_fact:
        seen: "{{{{ {{'realm': fleet_sso.realm, 'public_url': fleet_sso.public_url,
                    'redirect_uris': client.json[0].redirectUris,
                    'scopes': client.json[0].defaultClientScopes + client.json[0].optionalClientScopes}} }}}}"
"""


@pytest.fixture(scope="module")
def seen(applied_lab: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    facts = reported(PLAY.format(nextcloud_defaults=REPO / "roles/nextcloud/defaults/main.yml",
                                 keycloak_defaults=KEYCLOAK_DEFAULTS, keycloak_sign_in=KEYCLOAK_SIGN_IN),
                     tmp_path_factory.mktemp("sso"))
    assert set(facts) == {"cloud.lab", "sso.lab"}, facts
    return facts


def test_nextcloud_reads_the_realms_discovery_document_with_the_public_issuer(seen: dict[str, dict]) -> None:
    nextcloud, keycloak = seen["cloud.lab"], seen["sso.lab"]
    issuer = keycloak["public_url"].rstrip("/") + "/realms/" + keycloak["realm"]
    assert nextcloud["url"] == issuer + "/.well-known/openid-configuration"
    document = nextcloud["document"]
    # Tokens carry the public URL even though cloud.lab asked sso.lab over the lab network.
    assert document["issuer"] == issuer
    assert document["authorization_endpoint"] == issuer + "/protocol/openid-connect/auth"
    assert document["token_endpoint"].startswith(issuer + "/")
    assert "code" in document["response_types_supported"]


def test_the_claims_nextcloud_maps_are_offered_to_its_client(seen: dict[str, dict]) -> None:
    nextcloud, keycloak = seen["cloud.lab"], seen["sso.lab"]
    assert nextcloud["client_id"] == "nextcloud"
    assert keycloak["redirect_uris"] == ["https://cloud.lab/apps/user_oidc/code"]
    asked = set(nextcloud["scope"].split())
    assert asked <= set(nextcloud["document"]["scopes_supported"]), asked
    # Every scope Nextcloud asks for is the client's (else Keycloak refuses the sign-in with
    # invalid_scope); the organization scope carries the claim it turns into groups.
    assert asked - {"openid"} <= set(keycloak["scopes"]), (asked, keycloak["scopes"])
    assert nextcloud["groups_claim"] == "organization"
