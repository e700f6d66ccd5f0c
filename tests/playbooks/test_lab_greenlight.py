"""The lab's Greenlight instances (rooms-eu.lab, playbooks/greenlight.yml) as Keycloak and BBB
see them: each instance's env file, read on rooms-eu.lab, against the real Keycloak on sso.lab
(its realm's discovery document fetched from rooms-eu.lab over the lab network, each
client and its secret through the admin API) and against its tenant's BBB server (a
getMeetings call from rooms-eu.lab signed with the env file's secret). The Greenlight image
cannot run here (roles/greenlight/README.md): this checks that what it would be started
with is what the realm and the servers accept.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import LAB_INVENTORY
from tests.playbooks.lab_reads import KEYCLOAK_DEFAULTS, KEYCLOAK_SIGN_IN, reported

pytestmark = [pytest.mark.lab, pytest.mark.slow]

if shutil.which("podman") is None:
    pytest.skip("podman is not installed (bash scripts/setup.sh installs it)", allow_module_level=True)

CALLBACK = "auth/openid_connect/callback"

PLAY = """
- name: Each instance's settings, and what rooms-eu.lab reaches with them
  hosts: greenlight
  gather_facts: false
  tasks:
    - name: Read the env files
      ansible.builtin.shell: |
        set -eu
        cd /etc/meetfleet-greenlight
        for f in *.env; do printf '%s\\t' "${{f%.env}}"; grep -v '^#' "$f" | base64 -w0; echo; done
      changed_when: false
      register: env_files
      no_log: true
    - name: Parse them
      ansible.builtin.set_fact:
        instances: >-
          {{%- set out = {{}} -%}}
          {{%- for line in env_files.stdout_lines -%}}
          {{%-   set name, body = line.split('\\t') -%}}
          {{%-   set pairs = body | b64decode | trim | split('\\n') | map('split', '=', 1) | list -%}}
          {{%-   set _ = out.update({{name: dict(pairs)}}) -%}}
          {{%- endfor -%}}
          {{{{ out }}}}
      no_log: true
    - name: GET the realm's discovery document from here
      ansible.builtin.uri:
        url: "{{{{ (instances.values() | first).OPENID_CONNECT_ISSUER }}}}/.well-known/openid-configuration"
        validate_certs: false  # the lab's self-signed certificate; a real host's is public
        timeout: 30
      register: discovery
    - name: Ask each instance's BBB server for its meetings, signed with the instance's secret
      ansible.builtin.uri:
        url: >-
          {{{{ item.value.BIGBLUEBUTTON_ENDPOINT }}}}getMeetings?checksum={{{{
          ('getMeetings' ~ item.value.BIGBLUEBUTTON_SECRET) | hash('sha256') }}}}
        validate_certs: false
        return_content: true
        timeout: 30
      loop: "{{{{ instances | dict2items }}}}"
      loop_control:
        label: "{{{{ item.key }}}}"
      register: bbb
      no_log: true
    # Secrets only as their digests: the report is in the test's output.
    - name: Report (the instances' settings, their client secret's digest, the discovery document, BBB's answers)
      ansible.builtin.set_fact:
        seen:
          instances: >-
            {{%- set out = {{}} -%}}
            {{%- for name, env in instances.items() -%}}
            {{%-   set _ = out.update({{name: {{
                     'issuer': env.OPENID_CONNECT_ISSUER, 'logout_path': env.OPENID_CONNECT_LOGOUT_PATH,
                     'uid_field': env.OPENID_CONNECT_UID_FIELD, 'client_id': env.OPENID_CONNECT_CLIENT_ID,
                     'redirect': env.OPENID_CONNECT_REDIRECT,
                     'client_secret_sha256': env.OPENID_CONNECT_CLIENT_SECRET | hash('sha256')}}}}) -%}}
            {{%- endfor -%}}
            {{{{ out }}}}
          discovery: "{{{{ discovery.json }}}}"
          bbb: "{{{{ dict(bbb.results | map(attribute='item.key') | zip(bbb.results | map(attribute='content'))) }}}}"

- name: The realm's clients and their secrets, through the admin API
  hosts: keycloak
  gather_facts: false
  vars_files: [{keycloak_defaults}]
  tasks:
{keycloak_sign_in}    - name: Read the clients
      ansible.builtin.uri:
        url: "{{{{ keycloak_admin_url }}}}/admin/realms/{{{{ fleet_sso.realm }}}}/clients?max=1000"
        headers: {{Authorization: "Bearer {{{{ token.json.access_token }}}}"}}
        timeout: 30
      register: clients
      no_log: true
    - name: Read each confidential client's secret
      ansible.builtin.uri:
        url: >-
          {{{{ keycloak_admin_url }}}}/admin/realms/{{{{ fleet_sso.realm }}}}/clients/{{{{ item.id }}}}/client-secret
        headers: {{Authorization: "Bearer {{{{ token.json.access_token }}}}"}}
        timeout: 30
      # the clients roles/keycloak made from the inventory (its mark), not Keycloak's own
      loop: >-
        {{{{ clients.json | selectattr('attributes.meetfleet-managed', 'defined')
           | selectattr('attributes.meetfleet-managed', 'eq', 'true') | list }}}}
      loop_control:
        label: "{{{{ item.clientId }}}}"
      register: secrets
      no_log: true
    - name: Report them (each secret as its digest)
      ansible.builtin.set_fact:
        seen: >-
          {{{{ dict(secrets.results | map(attribute='item.clientId')
                    | zip(secrets.results | map(attribute='item.redirectUris')
                          | zip(secrets.results | map(attribute='json.value') | map('hash', 'sha256')))) }}}}
"""


@pytest.fixture(scope="module")
def seen(applied_lab: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    facts = reported(PLAY.format(keycloak_defaults=KEYCLOAK_DEFAULTS, keycloak_sign_in=KEYCLOAK_SIGN_IN),
                     tmp_path_factory.mktemp("greenlight"))
    assert set(facts) == {"rooms-eu.lab", "sso.lab"}, sorted(facts)
    return facts


def test_the_lab_host_runs_each_member_greenlight_and_the_shared_one(seen: dict[str, dict]) -> None:
    import yaml

    tenants = yaml.safe_load((LAB_INVENTORY / "group_vars/all/tenants.yml").read_text())["fleet_tenants"]
    own = {name for name, t in tenants.items() if t.get("greenlight") == "rooms-eu.lab"}
    assert set(seen["rooms-eu.lab"]["instances"]) == own | {"shared"}


def test_each_instance_signs_in_through_the_realm_with_a_client_keycloak_knows(seen: dict[str, dict]) -> None:
    instances, discovery = seen["rooms-eu.lab"]["instances"], seen["rooms-eu.lab"]["discovery"]
    clients = {client_id: (redirects, digest) for client_id, (redirects, digest) in seen["sso.lab"].items()}
    for name, env in instances.items():
        # The issuer the instance is given is the one Keycloak puts in its tokens (read from rooms-eu.lab).
        assert env["issuer"] == discovery["issuer"], name
        # Signing out of Greenlight ends the Keycloak session: its logout is the realm's end-session endpoint.
        assert discovery["end_session_endpoint"] == env["issuer"] + env["logout_path"]
        assert env["uid_field"] == "sub"
        redirects, digest = clients[env["client_id"]]
        assert env["redirect"] + CALLBACK in redirects, (name, redirects)
        assert env["client_secret_sha256"] == digest, f"{name}: its client secret is not the realm's"
    assert instances["shared"]["client_id"] == "shared-greenlight"


def test_each_instance_is_accepted_by_its_tenant_bbb_server(seen: dict[str, dict]) -> None:
    for name, answer in seen["rooms-eu.lab"]["bbb"].items():
        assert "<returncode>SUCCESS</returncode>" in answer, (name, answer[:300])
