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

// spoolFreeForReserve reads the spool's free space for [B2BUA.checkReserve]
// before the B2BUA's mutex is taken, so that the file-system call does not
// hold up other calls; ok is false when no reserve applies.
func (b *B2BUA) spoolFreeForReserve() (free uint64, ok bool, err error) {
	if b.cfg.reserveBytes() == 0 || b.cfg.SpoolFree == nil {
		return 0, false, nil
	}
	free, err = b.cfg.SpoolFree()
	if err != nil {
		return 0, false, fmt.Errorf("spool free space: %w", err)
	}
	return free, true, nil
}

// checkReserve refuses a new recorded call unless the spool's free space
// covers MinSpoolFree plus the reserve of every recorded call in progress
// and of the new one, so that calls get 503 before the disk fills rather
// than being announced and then not recorded. recorded is the number of
// recorded calls in progress.
func (b *B2BUA) checkReserve(free uint64, recorded int) error {
	per := b.cfg.reserveBytes()
	need := b.cfg.MinSpoolFree + uint64(recorded+1)*per
	if free < need {
		return fmt.Errorf("spool free space %d below %d (%d recorded calls in progress, %d bytes reserved each)",
			free, need, recorded, per)
	}
	return nil
}
