"""Verify roles/nextcloud in lab mode: what comes from Debian's packages (PostgreSQL, Redis,
PHP-FPM, nginx with TLS, the background-jobs units), exercised for real through nginx ->
PHP-FPM -> Redis and PostgreSQL with a probe script, and the role's helper scripts."""

import json
import shlex

import pytest

CERT = "/etc/ssl/certs/molecule-nextcloud.pem"
CONFIG = "/var/lib/nextcloud/config"
WEBROOT = "/var/www/nextcloud"
PHP = "/etc/php/8.2"
DB_CREDENTIALS = "/root/molecule-nextcloud-db-password"
LIB = "/usr/local/lib/meetfleet-nextcloud"

# Stands for Nextcloud's index.php (the archive is not there in the lab): reports, from inside
# the FPM pool, who it runs as, the effective ini values, and whether Redis (socket), APCu and
# PostgreSQL (password from a file next to it) work.
PROBE = r"""<?php
header('Content-Type: application/json');
$out = ['user' => posix_getpwuid(posix_geteuid())['name']];
foreach (['memory_limit', 'upload_max_filesize', 'post_max_size', 'max_execution_time', 'output_buffering',
          'opcache.enable', 'opcache.memory_consumption', 'opcache.interned_strings_buffer',
          'opcache.max_accelerated_files', 'opcache.save_comments', 'opcache.revalidate_freq',
          'opcache.jit', 'opcache.jit_buffer_size'] as $key) {
    $out['ini'][$key] = ini_get($key);
}
$out['opcache_running'] = function_exists('opcache_get_status') && opcache_get_status(false) !== false
    && opcache_get_status(false)['opcache_enabled'];
$out['apcu'] = function_exists('apcu_enabled') && apcu_enabled();
$out['path'] = getenv('PATH');
try {
    $redis = new Redis();
    $redis->connect('/run/redis/redis-server.sock');
    $redis->set('molecule:probe', 'ok');
    $out['redis'] = $redis->get('molecule:probe');
    $redis->del('molecule:probe');
} catch (Throwable $e) {
    $out['redis'] = 'error: ' . $e->getMessage();
}
try {
    $password = trim(file_get_contents(__DIR__ . '/db-password'));
    $db = new PDO('pgsql:host=127.0.0.1;dbname=nextcloud', 'nextcloud', $password);
    $db->exec('CREATE TABLE molecule_probe (id int)');
    $db->exec('DROP TABLE molecule_probe');
    $out['pgsql'] = $db->query('SELECT current_user')->fetchColumn();
} catch (Throwable $e) {
    $out['pgsql'] = 'error: ' . $e->getMessage();
}
echo json_encode($out);
"""


def _declared(host):
    return json.loads(host.file("/root/molecule-nextcloud-declared.json").content_string)


@pytest.fixture(scope="module")
def probe(host):
    """Puts the probe where the webroot will be, calls it through nginx over TLS, removes it."""
    assert not host.file(WEBROOT).exists, "lab mode must not create the webroot"
    setup = host.run(
        f"set -e; install -d -o root -g root -m 0755 {WEBROOT}\n"
        f"cat > {WEBROOT}/index.php <<'PHPEOF'\n{PROBE}\nPHPEOF\n"
        f"install -o nextcloud -g nextcloud -m 0600 {DB_CREDENTIALS} {WEBROOT}/db-password")
    assert setup.rc == 0, setup.stderr
    try:
        out = host.run(f"curl -sS --fail --cacert {CERT} --resolve cloud.test:443:127.0.0.1 "
                       "https://cloud.test/index.php")
        assert out.rc == 0, out.stderr
        yield json.loads(out.stdout)
    finally:
        host.run(f"rm -rf {WEBROOT}")


def test_units_active_and_enabled(host):
    for unit in ("postgresql", "redis-server", "php8.2-fpm", "nginx", "nextcloud-cron.timer"):
        service = host.service(unit)
        assert service.is_running and service.is_enabled, unit


def test_packages_from_debian(host):
    for package in ("php8.2-fpm", "php8.2-pgsql", "php8.2-apcu", "php8.2-redis", "php8.2-intl", "php8.2-gd",
                    "php8.2-zip", "php8.2-mbstring", "php8.2-opcache", "postgresql", "redis-server", "nginx",
                    "gnupg", "bzip2"):
        assert host.package(package).is_installed, package


def test_lab_mode_fetches_no_archive(host):
    assert not host.file("/opt/nextcloud/releases").listdir()
    assert not host.file(WEBROOT).exists
    assert not host.file(f"{CONFIG}/config.php").exists
    assert host.file("/var/cache/meetfleet-nextcloud").listdir() == []


def test_nextcloud_user_and_directories(host):
    user = host.user("nextcloud")
    assert user.shell == "/usr/sbin/nologin"
    assert "redis" in user.groups
    for path, owner, mode in ((CONFIG, "nextcloud", 0o750), ("/var/lib/nextcloud/data", "nextcloud", 0o750),
                              ("/var/lib/nextcloud/custom_apps", "nextcloud", 0o755),
                              ("/var/lib/nextcloud/meetfleet", "root", 0o700)):
        directory = host.file(path)
        assert directory.is_directory and (directory.user, directory.mode) == (owner, mode), path


def test_postgresql_database_and_role(host):
    password = host.file(DB_CREDENTIALS).content_string.strip()
    owner = host.check_output(
        "runuser -u postgres -- psql -tAc \"SELECT pg_get_userbyid(datdba) FROM pg_database "
        "WHERE datname = 'nextcloud'\"")
    assert owner == "nextcloud"
    flags = host.check_output(
        "runuser -u postgres -- psql -tAc \"SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
        "WHERE rolname = 'nextcloud'\"")
    assert flags == "f|f|f"
    encoding = host.check_output(
        "runuser -u postgres -- psql -tAc \"SELECT pg_encoding_to_char(encoding) FROM pg_database "
        "WHERE datname = 'nextcloud'\"")
    assert encoding == "UTF8"
    # The vault's password works over TCP on 127.0.0.1, a wrong one does not.
    ok = host.run(f"PGPASSWORD={password} psql -h 127.0.0.1 -U nextcloud -d nextcloud -tAc 'SELECT 1'")
    assert ok.rc == 0 and ok.stdout.strip() == "1", ok.stderr
    bad = host.run("PGPASSWORD=wrong-password psql -h 127.0.0.1 -U nextcloud -d nextcloud -tAc 'SELECT 1'")
    assert bad.rc != 0
    # Listening on loopback only (Debian's default).
    assert host.socket("tcp://127.0.0.1:5432").is_listening
    assert not host.socket("tcp://0.0.0.0:5432").is_listening


def test_redis_socket_only(host):
    socket = host.file("/run/redis/redis-server.sock")
    assert socket.is_socket and (socket.user, socket.group, socket.mode) == ("redis", "redis", 0o770)
    assert host.run("runuser -u nextcloud -- redis-cli -s /run/redis/redis-server.sock ping").stdout.strip() == "PONG"
    # Not in the redis group: no access.
    assert host.run("runuser -u nobody -- redis-cli -s /run/redis/redis-server.sock ping").stdout.strip() != "PONG"
    assert not host.socket("tcp://127.0.0.1:6379").is_listening
    assert "include /etc/redis/nextcloud.conf" in host.file("/etc/redis/redis.conf").content_string


def test_php_fpm_pool_settings(host):
    pool = host.file(f"{PHP}/fpm/pool.d/nextcloud.conf").content_string
    for line in ("user = nextcloud", "listen = /run/php/php8.2-fpm-nextcloud.sock", "listen.owner = www-data",
                 "listen.mode = 0660", "pm = dynamic", "pm.max_children = 32",
                 "env[PATH] = /usr/local/bin:/usr/bin:/bin"):
        assert line in pool.splitlines(), line
    assert not host.file(f"{PHP}/fpm/pool.d/www.conf").exists
    socket = host.file("/run/php/php8.2-fpm-nextcloud.sock")
    assert socket.is_socket and (socket.user, socket.group, socket.mode) == ("www-data", "www-data", 0o660)
    workers = host.check_output("ps -o user= -C php-fpm8.2").split()
    assert "nextcloud" in workers and "www-data" not in workers


def test_php_ini_files(host):
    fpm = host.file(f"{PHP}/fpm/conf.d/90-nextcloud.ini").content_string.splitlines()
    for line in ("memory_limit = 512M", "opcache.enable = 1", "opcache.save_comments = 1",
                 "opcache.interned_strings_buffer = 16", "opcache.max_accelerated_files = 10000",
                 "opcache.memory_consumption = 128", "opcache.revalidate_freq = 60"):
        assert line in fpm, line
    cli = host.check_output(f"php8.2 -c {PHP}/cli/php.ini -r 'echo ini_get(\"apc.enable_cli\"), \" \", "
                            "ini_get(\"memory_limit\");'")
    assert cli == "1 512M"


def test_probe_through_nginx_fpm_redis_postgresql(probe):
    assert probe["user"] == "nextcloud"
    assert probe["ini"] == {
        "memory_limit": "512M", "upload_max_filesize": "512M", "post_max_size": "512M",
        "max_execution_time": "3600", "output_buffering": "0", "opcache.enable": "1",
        "opcache.memory_consumption": "128", "opcache.interned_strings_buffer": "16",
        "opcache.max_accelerated_files": "10000", "opcache.save_comments": "1", "opcache.revalidate_freq": "60",
        "opcache.jit": "1255", "opcache.jit_buffer_size": "8M"}
    assert probe["opcache_running"] is True
    assert probe["apcu"] is True
    assert probe["path"] == "/usr/local/bin:/usr/bin:/bin"
    assert probe["redis"] == "ok"
    assert probe["pgsql"] == "nextcloud"


def test_nginx_tls_and_headers(host):
    head = host.run(f"curl -sS -o /dev/null -D - --cacert {CERT} --resolve cloud.test:443:127.0.0.1 "
                    "https://cloud.test/.well-known/caldav")
    assert head.rc == 0, head.stderr
    lines = head.stdout.lower()
    assert " 301" in lines.splitlines()[0]
    assert "location: /remote.php/dav/" in lines
    for header in ("strict-transport-security: max-age=15768000", "x-content-type-options: nosniff",
                   'x-robots-tag: noindex, nofollow', "referrer-policy: no-referrer"):
        assert header in lines, header
    assert "server: nginx\r" in lines  # no version (server_tokens off)
    for version in ("-tls1_2", "-tls1_3"):
        handshake = host.run(f"echo | openssl s_client -connect 127.0.0.1:443 -servername cloud.test {version} "
                             f"-CAfile {CERT} -verify_return_error")
        assert handshake.rc == 0 and "Verify return code: 0 (ok)" in handshake.stdout, version
    old = host.run("echo | openssl s_client -connect 127.0.0.1:443 -servername cloud.test -tls1_1")
    assert old.rc != 0
    # Hidden paths (rules of .htaccess) and the plain-HTTP redirect.
    for path in ("/config/config.php", "/data/x", "/occ", "/.htaccess"):
        code = host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {CERT} "
                                 f"--resolve cloud.test:443:127.0.0.1 https://cloud.test{path}")
        assert code == "404", path
    redirect = host.check_output("curl -s -o /dev/null -w '%{redirect_url}' -H 'Host: cloud.test' http://127.0.0.1/x?y=1")
    assert redirect == "https://cloud.test/x?y=1"
    assert not host.file("/etc/nginx/sites-enabled/default").exists


def test_nextcloud_settings_file(host):
    settings = host.file(f"{CONFIG}/meetfleet.config.php")
    assert (settings.user, settings.mode) == ("nextcloud", 0o640)
    config = json.loads(host.check_output(
        f"php8.2 -r 'include \"{CONFIG}/meetfleet.config.php\"; echo json_encode($CONFIG);'"))
    assert config["trusted_domains"] == ["cloud.test", "cloud.lab"]
    assert config["overwrite.cli.url"] == "https://cloud.test"
    assert config["memcache.local"] == "\\OC\\Memcache\\APCu"
    assert config["memcache.locking"] == config["memcache.distributed"] == "\\OC\\Memcache\\Redis"
    assert config["redis"] == {"host": "/run/redis/redis-server.sock", "port": 0, "timeout": 1.5}
    assert config["datadirectory"] == "/var/lib/nextcloud/data"
    assert config["apps_paths"][1] == {"path": "/var/lib/nextcloud/custom_apps", "url": "/custom_apps",
                                       "writable": True}
    assert config["default_phone_region"] == "DE"
    assert config["upgrade.disable-web"] is True
    assert config["user_oidc"] == {"auto_provision": True}


def test_background_job_units(host):
    service = host.file("/etc/systemd/system/nextcloud-cron.service").content_string.splitlines()
    for line in ("User=nextcloud", "ExecStart=/usr/bin/php8.2 -f /var/www/nextcloud/cron.php", "KillMode=process",
                 f"ConditionPathExists={CONFIG}/config.php"):
        assert line in service, line
    timer = host.file("/etc/systemd/system/nextcloud-cron.timer").content_string.splitlines()
    assert "OnCalendar=*:0/5" in timer and "Unit=nextcloud-cron.service" in timer
    # As systemd reads it: every 5 minutes (the next run time itself can be empty while it elapses).
    calendar = host.check_output("systemctl show -p TimersCalendar --value nextcloud-cron.timer")
    assert "OnCalendar=*-*-* *:00/5:00" in calendar
    # Before Nextcloud is installed the job is skipped by its condition, not failed.
    host.run("systemctl start nextcloud-cron.service")
    assert host.check_output("systemctl show -p Result --value nextcloud-cron.service") == "success"
    assert host.check_output("systemctl show -p ConditionResult --value nextcloud-cron.service") == "no"


def test_declarations_for_base_and_occ(host):
    declared = _declared(host)
    assert [(str(p["port"]), p["proto"]) for p in declared["firewall_ports"]] == [("80", "tcp"), ("443", "tcp")]
    # fleet_sso's public_url had a trailing slash: the discovery URL has no double slash.
    assert declared["oidc_discovery_url"] == "https://sso.example.coop/realms/coop/.well-known/openid-configuration"
    args = declared["oidc_provider_args"]
    assert "--clientid=nextcloud" in args
    assert "--clientsecret-file=/run/meetfleet-nextcloud/oidc-client-secret" in args
    assert "--group-provisioning=1" in args and "--mapping-groups=organization" in args
    assert "--scope=openid email profile organization" in args
    assert r"--group-whitelist-regex=/^(?:bakery\-collective|food\.coop)$/" in args
    assert "--group-restrict-login-to-whitelist=1" in args
    assert not any("test-only-oidc-client-secret" in arg for arg in args)


def test_group_regex_matches_tenants_only(host):
    regex = next(a.split("=", 1)[1] for a in _declared(host)["oidc_provider_args"]
                 if a.startswith("--group-whitelist-regex="))
    script = ("$r = $argv[1]; foreach (['bakery-collective', 'food.coop', 'foodXcoop', 'admin', "
              "'bakery-collective-x', '/bakery-collective'] as $g) { echo $g, '=', preg_match($r, $g), ' '; }")
    out = host.check_output(f"php8.2 -r {shlex.quote(script)} {shlex.quote(regex)}")
    assert out.split() == ["bakery-collective=1", "food.coop=1", "foodXcoop=0", "admin=0",
                           "bakery-collective-x=0", "/bakery-collective=0"]


def test_signature_check(host):
    """verify-signature.sh with a throwaway key: good, wrong fingerprint, tampered file."""
    script = r"""
set -e
d=$(mktemp -d); export GNUPGHOME=$d/signer; mkdir -m 700 $GNUPGHOME
gpg --batch --quiet --passphrase '' --quick-gen-key 'molecule test release key' ed25519 sign never
fpr=$(gpg --batch --with-colons --list-keys | awk -F: '$1 == "fpr" { print $10; exit }')
echo archive > $d/archive; gpg --batch --quiet --armor --detach-sign -o $d/archive.asc $d/archive
gpg --batch --armor --export > $d/key.asc
unset GNUPGHOME
echo "fpr=$fpr"
v=/usr/local/lib/meetfleet-nextcloud/verify-signature.sh
$v $d/key.asc $d/archive.asc $d/archive "$fpr" && echo good=0 || echo good=$?
$v $d/key.asc $d/archive.asc $d/archive 28806A878AE423A28372792ED75899B9A724937A && echo wrongkey=0 || echo wrongkey=$?
echo tampered >> $d/archive
$v $d/key.asc $d/archive.asc $d/archive "$fpr" && echo tampered=0 || echo tampered=$?
rm -rf $d
"""
    out = host.run(f"bash -c {shlex.quote(script)}")
    assert out.rc == 0, out.stderr
    results = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    assert (results["good"], results["wrongkey"], results["tampered"]) == ("0", "1", "1"), out.stdout + out.stderr
    assert "not by the pinned key 28806A878AE423A28372792ED75899B9A724937A" in out.stderr


def test_occ_wrapper_keeps_secrets_off_the_command_line(host):
    """occ-with-secrets.php appends the file's arguments to what console.php sees (a stand-in
    console.php here: the real one comes with the archive)."""
    script = r"""
set -e
d=$(mktemp -d); chmod 755 $d
cat > $d/console.php <<'PHPEOF'
<?php echo json_encode(['argv' => $argv, 'server' => $_SERVER['argv'], 'cwd' => getcwd(),
  'env' => getenv('OCC_SECRET_ARGS'), 'cmdline' => file_get_contents('/proc/self/cmdline')]);
PHPEOF
printf '%s' '["--admin-pass", "s3cret value"]' > $d/args.json
OCC_SECRET_ARGS=$d/args.json php8.2 /usr/local/lib/meetfleet-nextcloud/occ-with-secrets.php $d \
  maintenance:install --no-interaction
rm -rf $d
"""
    out = host.run(f"bash -c {shlex.quote(script)}")
    assert out.rc == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["argv"][1:] == ["maintenance:install", "--no-interaction", "--admin-pass", "s3cret value"]
    assert seen["argv"][0].endswith("/occ") and seen["server"] == seen["argv"]
    assert seen["env"] is False
    assert "s3cret" not in seen["cmdline"]
