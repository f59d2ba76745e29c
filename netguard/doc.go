// Package netguard owns hookd's outbound network policy: which addresses
// deliveries may connect to. By default it refuses every address that is
// not on the public internet (loopback, private, link-local and cloud
// metadata, CGNAT, multicast, documentation and reserved ranges, and IPv6
// forms that embed such IPv4 addresses), so an endpoint URL cannot be used
// to reach hookd's own network (SSRF). The check runs at dial time on the
// resolved address, so DNS rebinding cannot get past it.
package netguard
