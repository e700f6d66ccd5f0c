<?php
// meetfleet (roles/nextcloud): run Nextcloud's occ with further arguments read from a file,
// so that passwords never appear on a command line (ps, /proc/PID/cmdline):
//   OCC_SECRET_ARGS=FILE php occ-with-secrets.php WEBROOT COMMAND [OPTION...]
// FILE holds a JSON list of strings appended to the arguments (e.g. ["--admin-pass", "..."]).
if (PHP_SAPI !== 'cli') {
	exit(1);
}
if ($argc < 3) {
	fwrite(STDERR, "usage: OCC_SECRET_ARGS=FILE php occ-with-secrets.php WEBROOT COMMAND [OPTION...]\n");
	exit(2);
}
$secretFile = getenv('OCC_SECRET_ARGS');
if ($secretFile === false || $secretFile === '' || !is_readable($secretFile)) {
	fwrite(STDERR, "OCC_SECRET_ARGS must name a readable file\n");
	exit(2);
}
$extra = json_decode((string)file_get_contents($secretFile), true, 4);
if (!is_array($extra) || !array_is_list($extra) || count(array_filter($extra, 'is_string')) !== count($extra)) {
	fwrite(STDERR, "OCC_SECRET_ARGS: the file must hold a JSON list of strings\n");
	exit(2);
}
putenv('OCC_SECRET_ARGS');
$webroot = rtrim($argv[1], '/');
$argv = array_merge([$webroot . '/occ'], array_slice($argv, 2), $extra);
$argc = count($argv);
$_SERVER['argv'] = $argv;
$_SERVER['argc'] = $argc;
unset($extra, $secretFile);
chdir($webroot);
require $webroot . '/console.php';
