package relay

// Party names one end of a relayed call. A session has one leg (a pair of
// RTP/RTCP sockets) facing each party.
type Party uint8

const (
	// Caller is the party that sent the INVITE.
	Caller Party = iota
	// Callee is the party the INVITE was forwarded to.
	Callee
)

// Other returns the opposite party.
func (p Party) Other() Party { return p ^ 1 }

// String returns "caller" or "callee".
func (p Party) String() string {
	if p == Caller {
		return "caller"
	}
	return "callee"
}
