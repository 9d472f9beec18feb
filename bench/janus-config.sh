#!/usr/bin/env bash
# Writes a Janus configuration for bench/sfu.mjs into <dir>:
#   bench/janus-config.sh <dir> <http_port> <rtp_first> <rtp_last> <ice_ip>
#   janus -F <dir> -C <dir>/janus.jcfg
# Only what the comparison needs: the HTTP API on loopback, the videoroom
# plugin (rooms are created through the API), ICE on <ice_ip> only (libnice
# never gathers on loopback: the machine's own address, which the kernel
# delivers through loopback all the same), RTP ports of its own. Janus makes its own DTLS
# certificate. Everything else is disabled so it costs nothing.
set -euo pipefail
dir=$1 port=$2 first=$3 last=$4 ice_ip=$5
lib=/usr/lib/x86_64-linux-gnu/janus
[ -d "$lib" ] || lib=$(dirname "$(dpkg -L janus | grep -m1 '/janus/plugins/')")
mkdir -p "$dir"

cat >"$dir/janus.jcfg" <<CFG
general: {
	configs_folder = "$dir"
	plugins_folder = "$lib/plugins"
	transports_folder = "$lib/transports"
	events_folder = "$lib/events"
	loggers_folder = "$lib/loggers"
	debug_level = 3
	# The default list forbids /tmp-like folders nowhere, but does forbid
	# /usr and /etc: none of ours are written to, so no list is needed.
	protected_folders = []
}
media: {
	rtp_port_range = "$first-$last"
}
nat: {
	# One candidate, where the load clients are.
	ice_enforce_list = "$ice_ip"
}
plugins: {
	disable = "libjanus_audiobridge.so,libjanus_duktape.so,libjanus_echotest.so,libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_streaming.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_voicemail.so"
}
transports: {
	disable = "libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so,libjanus_websockets.so"
}
loggers: {
	disable = "libjanus_jsonlog.so"
}
events: {
	broadcast = false
}
CFG

cat >"$dir/janus.transport.http.jcfg" <<CFG
general: {
	base_path = "/janus"
	http = true
	port = $port
	ip = "127.0.0.1"
	https = false
}
admin: {
	admin_http = false
}
CFG

# No preconfigured rooms.
echo 'general: {}' >"$dir/janus.plugin.videoroom.jcfg"
