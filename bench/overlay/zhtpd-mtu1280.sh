# shellcheck shell=bash
# zhtpd with its TUN MTU (and so the largest packet it carries) forced to 1280, the IPv6
# minimum: the per-packet cost, beside yggdrasil-mtu1280. Uses the functions of zhtpd.sh (run.sh
# sources every file of the directory before it runs any scenario).
sc_zhtpd_mtu1280_check() { sc_zhtpd_check; }
sc_zhtpd_mtu1280_version() { ZHTPD_TUN_MTU=1280 sc_zhtpd_version; }
sc_zhtpd_mtu1280_start() { ZHTPD_TUN_MTU=1280 sc_zhtpd_start; }
