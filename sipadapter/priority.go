package sipadapter

import (
	"fmt"

	"github.com/callrec/callrec/sipadapter/relay"
)

// defaultPriorityReserve is the share of MaxDialogs (and of the media
// sessions the port range holds) kept for disaster-priority calls when
// Config.PriorityReserve is zero: 5 %, at least one call.
func defaultPriorityReserve(maxDialogs int) int { return max(1, (maxDialogs+19)/20) }

// mediaCapacity is how many calls the media port range can relay: two RTP
// port pairs per call.
func mediaCapacity(cfg Config) int {
	lo, hi := cfg.MediaPortMin, cfg.MediaPortMax
	if lo == 0 && hi == 0 {
		lo, hi = relay.DefaultPortMin, relay.DefaultPortMax
	}
	return ((hi-lo)/2 + 1) / 2
}

// dialogLimit is the number of calls beyond which a new call is refused:
// MaxDialogs for a priority call, MaxDialogs less the reserve otherwise.
func (b *B2BUA) dialogLimit(priority bool) int {
	if priority {
		return b.cfg.MaxDialogs
	}
	return b.cfg.MaxDialogs - b.cfg.PriorityReserve
}

// openMedia opens the call's media session. An ordinary call may not take
// the last PriorityReserve sessions of the port range, which stay for
// priority calls; the check and the allocation are one step so that
// concurrent calls cannot both take the last ordinary session.
func (b *B2BUA) openMedia(priority bool) (*relay.Session, error) {
	if priority {
		return b.anchor.Open()
	}
	b.mediaMu.Lock()
	defer b.mediaMu.Unlock()
	if used, limit := b.anchor.PairsInUse()/2, b.mediaCap-b.mediaReserve; used >= limit {
		return nil, fmt.Errorf("%w: %d media sessions in use, the remaining %d are kept for priority calls",
			relay.ErrPortsExhausted, used, b.mediaReserve)
	}
	return b.anchor.Open()
}
