package guidance

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnnouncements(t *testing.T) {
	tests := map[string]struct {
		id      int
		purpose Purpose
		name    string
		text    string
	}{
		"1 general": {1, PurposeGeneral, "general",
			"この通話はKDDIの通話録音サービスを利用して録音させていただきます。"},
		"2 transaction": {2, PurposeTransactionConfirmation, "transaction confirmation",
			"この通話はお取引内容確認のため、KDDIのサービスを利用して録音させていただきます。"},
		"3 accuracy": {3, PurposeAccuracy, "accuracy",
			"この通話は内容を正確に承るため、KDDIのサービスを利用して録音させていただきます。"},
		"4 dispute": {4, PurposeDisputePrevention, "dispute prevention",
			"この通話はトラブル防止のため、KDDIのサービスを利用して録音させていただきます。"},
		"5 service": {5, PurposeServiceImprovement, "service improvement",
			"この通話はサービスの向上を目的とし、KDDIのサービスを利用して録音させていただきます。"},
	}
	all := Announcements()
	require.Len(t, all, NumAnnouncements)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := Lookup(tc.id)
			require.NoError(t, err)
			assert.Equal(t, all[tc.id-1], a)
			assert.Equal(t, tc.id, a.ID)
			assert.Equal(t, tc.purpose, a.Purpose)
			assert.Equal(t, tc.name, a.Purpose.String())
			assert.Equal(t, tc.text, a.Text(""))
			assert.Equal(t, tc.text, a.Text(DefaultCarrier))
			assert.Contains(t, a.Gloss(""), "KDDI")
			assert.Contains(t, a.Gloss(""), "recorded")
			assert.NotEmpty(t, a.Purpose.Japanese())

			vendor := a.Text("ExampleTel")
			assert.Equal(t, strings.ReplaceAll(tc.text, "KDDI", "ExampleTel"), vendor)
			assert.Contains(t, a.Gloss("ExampleTel"), "ExampleTel")
		})
	}
}

func TestAnnouncementsIsACopy(t *testing.T) {
	a := Announcements()
	a[0].Template = "changed"
	b, err := Lookup(1)
	require.NoError(t, err)
	assert.NotEqual(t, "changed", b.Template)
}

func TestLookupUnknown(t *testing.T) {
	for _, id := range []int{-1, 0, 6, 100} {
		_, err := Lookup(id)
		assert.True(t, errors.Is(err, ErrUnknownAnnouncement), "id %d: %v", id, err)
	}
}

func TestPurposeStringUnknown(t *testing.T) {
	assert.Equal(t, "Purpose(0)", Purpose(0).String())
	assert.Equal(t, "Purpose(9)", Purpose(9).Japanese())
	assert.Equal(t, "トラブル防止", PurposeDisputePrevention.Japanese())
}
