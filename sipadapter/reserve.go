package sipadapter

import (
	"fmt"
	"time"
)

// Recording bit rates: 16-bit samples at 8 kHz, per channel.
const (
	StereoBytesPerSecond = 32000
	MonoBytesPerSecond   = 16000
)

// DefaultRecordingReserve is the default of [Config].RecordingReserve.
const DefaultRecordingReserve = 2 * time.Minute

// reserveBytes is the spool space one recorded call reserves: the
// configured recording time at the stereo rate, the larger of the two, so
// that a call is never admitted on space a mono estimate left out.
func (c Config) reserveBytes() uint64 {
	if c.RecordingReserve <= 0 {
		return 0
	}
	return uint64(c.RecordingReserve.Seconds() * StereoBytesPerSecond)
}

// checkReserve refuses a new recorded call unless the spool's free space
// covers MinSpoolFree plus the reserve of every recorded call in progress
// and of the new one, so that calls get 503 before the disk fills rather
// than being announced and then not recorded. recorded is the number of
// recorded calls in progress.
func (b *B2BUA) checkReserve(recorded int) error {
	per := b.cfg.reserveBytes()
	if per == 0 || b.cfg.SpoolFree == nil {
		return nil
	}
	free, err := b.cfg.SpoolFree()
	if err != nil {
		return fmt.Errorf("spool free space: %w", err)
	}
	need := b.cfg.MinSpoolFree + uint64(recorded+1)*per
	if free < need {
		return fmt.Errorf("spool free space %d below %d (%d recorded calls in progress, %d bytes reserved each)",
			free, need, recorded, per)
	}
	return nil
}
