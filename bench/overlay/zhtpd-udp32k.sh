# shellcheck shell=bash
# zhtpd with 32,000-byte UDP link frames (udp_mtu = 32000; the default is the UDP profile's
# 1,280): the kernel fragments each datagram at IP level instead of zhtpd making one syscall per
# 1,280-byte frame. Not a default setting; it shows what the per-frame syscalls cost. Uses the
# functions of zhtpd.sh.
sc_zhtpd_udp32k_check() { sc_zhtpd_check; }
sc_zhtpd_udp32k_version() { ZHTPD_EXTRA="udp_mtu = 32000" sc_zhtpd_version; }
sc_zhtpd_udp32k_start() { ZHTPD_EXTRA="udp_mtu = 32000" sc_zhtpd_start; }
