package recname_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/callrec/callrec/internal/recname"
)

func TestValidID(t *testing.T) {
	for _, id := range []string{"20261123T000000.000Z-0123456789ab", "a", "call_1-x.y", strings.Repeat("a", 128)} {
		assert.True(t, recname.ValidID(id), id)
	}
	for _, id := range []string{"", ".", "..", ".hidden", "../etc", "a/b", `a\b`, "a b", "ａ", "a\x00", strings.Repeat("a", 129)} {
		assert.False(t, recname.ValidID(id), id)
	}
}

func TestValidExt(t *testing.T) {
	for _, ext := range []string{".wav", ".g711", ".x"} {
		assert.True(t, recname.ValidExt(ext), ext)
	}
	for _, ext := range []string{"", ".", "wav", ".tar.gz", "..", "./", ".wav/", "." + strings.Repeat("a", 16)} {
		assert.False(t, recname.ValidExt(ext), ext)
	}
}

func ExampleValidID() {
	fmt.Println(recname.ValidID("20261123T000000.000Z-0123456789ab"), recname.ValidID("../../etc/passwd"))
	// Output: true false
}
