package sipadapter

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRecordingIDInstance(t *testing.T) {
	at := time.Date(2026, 12, 5, 9, 30, 1, 250e6, time.UTC)
	assert.Regexp(t, regexp.MustCompile(`^20261205T093001\.250Z-[0-9a-f]{12}$`), recordingID(at, ""))
	id := recordingID(at, "rec-a.2")
	assert.Regexp(t, regexp.MustCompile(`^20261205T093001\.250Z-rec-a\.2-[0-9a-f]{12}$`), id)
	assert.LessOrEqual(t, len(recordingID(at, strings.Repeat("x", maxInstanceID))), 128, "delivery's ID limit")
	assert.NotEqual(t, id, recordingID(at, "rec-a.2"), "same instance, same millisecond: still unique")

	for _, ok := range []string{"", "a", "rec-1.example_com", strings.Repeat("x", maxInstanceID)} {
		assert.True(t, validInstanceID(ok), ok)
	}
	for _, bad := range []string{".a", "a/b", "a b", "ä", strings.Repeat("x", maxInstanceID+1)} {
		assert.False(t, validInstanceID(bad), bad)
	}
}
