package relay

// Party names one end of a relayed call. A session has one leg (a pair of
// RTP/RTCP sockets) facing each party. Its values and text are
// recorder.Side's (0 caller, 1 callee; "caller", "callee"), the SDK's one
// party numbering, so the party whose packets a tap sees converts as
// recorder.Side(p).
type Party uint8

const (
	// Caller is the party that sent the INVITE.
	Caller Party = 0
	// Callee is the party the INVITE was forwarded to.
	Callee Party = 1
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

// MarshalText encodes the party as "caller" or "callee", as recorder.Side
// does, also in JSON.
func (p Party) MarshalText() ([]byte, error) { return []byte(p.String()), nil }
