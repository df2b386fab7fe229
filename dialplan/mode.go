package dialplan

// RecordMode says which outgoing calls of a line are recorded.
type RecordMode uint8

// The record modes. [RecordPrefix] is the zero value: the service as
// offered.
const (
	// RecordPrefix records the calls dialled with the line's recording
	// prefix; every other call is connected unrecorded.
	RecordPrefix RecordMode = iota
	// RecordAll records, besides prefixed calls, every unprefixed call to a
	// destination the prefix would allow, exactly as if the prefix had been
	// dialled: for PBXs that cannot add the prefix themselves. Numbers the
	// prefix would refuse (emergency, 1XY, 00XY, # …) are still connected
	// unrecorded.
	RecordAll
	// RecordOnDemand connects unprefixed calls to a destination the prefix
	// would allow unrecorded, marked [Decision.OnDemand]: the company's user
	// may start and stop the recording during the call (DTMF code or API).
	// Prefixed calls are recorded as usual.
	RecordOnDemand
)

var recordModeNames = [...]string{RecordPrefix: "prefix", RecordAll: "all", RecordOnDemand: "on-demand"}

// String returns the mode's name: "prefix", "all" or "on-demand".
func (m RecordMode) String() string { return enumString(recordModeNames[:], int(m), "RecordMode") }

// MarshalText implements [encoding.TextMarshaler].
func (m RecordMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]; it accepts "prefix",
// "all" and "on-demand", and the empty string as "prefix".
func (m *RecordMode) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*m = RecordPrefix
		return nil
	}
	return enumParse(recordModeNames[:], b, "record mode", (*uint8)(m))
}

// Caller-ID service codes dialled in front of a number (and in front of the
// recording prefix): withhold or present the caller ID for this one call.
const (
	codeWithhold = "184"
	codePresent  = "186"
)

// cutCallerIDCode splits a leading 184/186 off n when a number follows it.
func cutCallerIDCode(n string) (code, rest string) {
	if len(n) > len(codeWithhold) && (n[:3] == codeWithhold || n[:3] == codePresent) {
		return n[:3], n[3:]
	}
	return "", n
}
