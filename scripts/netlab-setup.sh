#!/usr/bin/env bash
# Installs what the network lab (internal/netlab, build tag lab) needs
# beyond ip and tc: iptables for NAT nodes and iputils ping for the ICMP
# cross-check. Debian packages; needs root. Without them the lab still
# runs: NAT tests skip with a message, the ICMP cross-check is left out.
set -uo pipefail
if [ "$(id -u)" != 0 ]; then
	echo "netlab-setup: not root: nothing installed" >&2
	exit 0
fi
missing=()
command -v iptables >/dev/null || missing+=(iptables)
command -v ping >/dev/null || missing+=(iputils-ping)
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if ! command -v apt-get >/dev/null; then
	echo "netlab-setup: no apt-get: install ${missing[*]} by hand (NAT tests will skip)" >&2
	exit 0
fi
echo "netlab-setup: installing ${missing[*]}"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/tmp/netlab-setup.log 2>&1; then
	echo "netlab-setup: could not install ${missing[*]} (see /tmp/netlab-setup.log): NAT tests will skip" >&2
fi
exit 0
