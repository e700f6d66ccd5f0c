#!/bin/sh
# meetfleet (roles/nextcloud): check a detached OpenPGP signature against one pinned key.
#   verify-signature.sh KEY_FILE SIGNATURE_FILE SIGNED_FILE PRIMARY_KEY_FINGERPRINT
# The key is imported into a throwaway GNUPGHOME (the host's keyrings are never touched);
# the signature must be good and made by the key whose primary fingerprint is the pinned
# one. Exit 0 when it is, 1 (with the reason on stderr) when not, 2 on bad usage.
set -eu
[ "$#" -eq 4 ] || { echo "usage: $0 KEY SIGNATURE FILE FINGERPRINT" >&2; exit 2; }
key=$1 signature=$2 signed=$3 fingerprint=$(printf '%s' "$4" | tr -d ' ' | tr 'a-f' 'A-F')
home=$(mktemp -d)
trap 'gpgconf --homedir "$home" --kill all >/dev/null 2>&1 || true; rm -rf "$home"' EXIT
if ! gpg --homedir "$home" --batch --quiet --import "$key" >/dev/null 2>&1; then
  echo "cannot import the release key from $key" >&2
  exit 1
fi
if ! status=$(gpg --homedir "$home" --batch --status-fd 1 --verify "$signature" "$signed" 2>/dev/null); then
  echo "the signature $signature does not verify $signed with the key from $key" >&2
  exit 1
fi
# [GNUPG:] VALIDSIG <signing key fpr> <date> <timestamp> <expiry> <version> <reserved>
#   <pubkey algo> <hash algo> <class> <primary key fpr>
primary=$(printf '%s\n' "$status" | awk '$2 == "VALIDSIG" { print $NF }')
if [ "$primary" != "$fingerprint" ]; then
  echo "$signed is signed by ${primary:-no valid key}, not by the pinned key $fingerprint" >&2
  exit 1
fi
echo "good signature by $fingerprint"
