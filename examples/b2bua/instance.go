package main

import (
	"net/netip"
	"strconv"
	"strings"
)

// maxInstanceID is sipadapter's limit on Config.InstanceID.
const maxInstanceID = 64

// checkInstanceID returns the instance ID: instance_id when set, else one
// derived from the host name and the inside listen port, which tells apart
// every instance that can run at once (two cannot listen on one host and
// port). With port 0 the port is not known yet, and the process ID stands
// in for it.
func (fc *fileConfig) checkInstanceID(c *checker, hostname func() (string, error), pid func() int) string {
	if id := fc.InstanceID; id != "" {
		if len(id) > maxInstanceID || id[0] == '.' || strings.IndexFunc(id, func(r rune) bool { return !instanceChar(r) }) >= 0 {
			c.addf("instance_id", "%q is not 1–%d characters of [A-Za-z0-9._-] not starting with a dot", id, maxInstanceID)
		}
		return id
	}
	host, err := hostname()
	if err != nil || host == "" {
		host = "callrec"
	}
	host = strings.Map(func(r rune) rune {
		if instanceChar(r) {
			return r
		}
		return '-'
	}, host)
	host = strings.TrimLeft(host, ".")
	suffix := "-p" + strconv.Itoa(pid())
	if ap, err := netip.ParseAddrPort(fc.Sides.Inside.Listen); err == nil && ap.Port() != 0 {
		suffix = "-" + strconv.Itoa(int(ap.Port()))
	}
	if len(host) > maxInstanceID-len(suffix) {
		host = host[:maxInstanceID-len(suffix)]
	}
	return host + suffix
}

func instanceChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}
