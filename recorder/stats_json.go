package recorder

import "encoding/json"

// UnmarshalJSON decodes the snake_case form [Stats] marshals to, and also
// the Go field names (Received, ComfortNoise …) that metadata written
// before the fields had JSON tags carries. encoding/json already matches
// one-word names case-insensitively ("Received" to "received"); the
// multi-word ones are read here.
func (s *Stats) UnmarshalJSON(b []byte) error {
	type tagged Stats // without this method
	var legacy struct {
		ComfortNoise *uint64
		EventPackets *uint64
		SSRCChanges  *uint64
		DTMFEvents   *uint64
	}
	if err := json.Unmarshal(b, (*tagged)(s)); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &legacy); err != nil {
		return err
	}
	for _, f := range []struct {
		old *uint64
		dst *uint64
	}{
		{legacy.ComfortNoise, &s.ComfortNoise},
		{legacy.EventPackets, &s.EventPackets},
		{legacy.SSRCChanges, &s.SSRCChanges},
		{legacy.DTMFEvents, &s.DTMFEvents},
	} {
		if f.old != nil {
			*f.dst = *f.old
		}
	}
	return nil
}
