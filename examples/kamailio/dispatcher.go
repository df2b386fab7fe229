package kamailio

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrNoInstances reports a dispatcher list without destinations.
var ErrNoInstances = errors.New("kamailio: no instances")

// DispatcherList returns the contents of a dispatcher list file
// (kamailio.cfg's DS_LIST) for set: one line per instance, the SIP URI of
// its inside listen address, over UDP.
func DispatcherList(set int, instances ...netip.AddrPort) (string, error) {
	if len(instances) == 0 {
		return "", ErrNoInstances
	}
	var b strings.Builder
	for _, ap := range instances {
		if !ap.IsValid() || ap.Port() == 0 {
			return "", fmt.Errorf("kamailio: instance %q is not an address with a port", ap)
		}
		fmt.Fprintf(&b, "%d sip:%s\n", set, ap)
	}
	return b.String(), nil
}
