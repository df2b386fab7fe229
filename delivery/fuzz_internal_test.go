package delivery

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzMetadataJSON(f *testing.F) {
	f.Add("call-1@example.com", "0501234567", int64(175_000), int64(1795462873), `{"lost":2}`)
	f.Add("", "", int64(-1), int64(0), "not json")
	f.Fuzz(func(t *testing.T, callID, caller string, durMS, unix int64, stats string) {
		if !utf8.ValidString(callID) || !utf8.ValidString(caller) {
			t.Skip("JSON replaces invalid UTF-8")
		}
		md := Metadata{ID: "id", CallID: callID, Caller: caller, Direction: Incoming,
			Duration: time.Duration(durMS) * time.Millisecond, Start: time.Unix(unix%(1<<40), 0).UTC()}
		if json.Valid([]byte(stats)) {
			md.RecorderStats = json.RawMessage(stats)
		}
		b1, err := json.Marshal(md)
		if err != nil {
			t.Skip("not representable:", err) // e.g. a year outside [0, 9999]
		}
		var back Metadata
		if err := json.Unmarshal(b1, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", b1, err)
		}
		b2, err := json.Marshal(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("round trip changed\n%s\n%s", b1, b2)
		}
		if back.Duration != md.Duration || back.CallID != md.CallID || !back.Start.Equal(md.Start) {
			t.Fatalf("round trip lost fields: %+v vs %+v", back, md)
		}
	})
}

func FuzzBaseName(f *testing.F) {
	for _, s := range []string{"", "call-1@example.com", "../../etc/passwd", ".hidden", "a/b\\c\x00d", strings.Repeat("x", 300), "日本語"} {
		f.Add(s, "id-1")
	}
	f.Fuzz(func(t *testing.T, callID, id string) {
		name := Metadata{CallID: callID, ID: id}.BaseName()
		if name == "" || len(name) > 160 || name[0] == '.' {
			t.Fatalf("BaseName(%q) = %q", callID, name)
		}
		for _, c := range name {
			if !isNameChar(c) && c != '@' {
				t.Fatalf("BaseName(%q) = %q has %q", callID, name, c)
			}
		}
		if callID != "" && len(callID) <= 160 && callID[0] != '.' && !strings.ContainsFunc(callID, func(c rune) bool { return !isNameChar(c) && c != '@' }) && name != callID {
			t.Fatalf("BaseName changed safe %q into %q", callID, name)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "7", "-3", "99999999999999999999", "Wed, 21 Oct 2026 07:28:00 GMT", "soon"} {
		f.Add(s)
	}
	now := time.Date(2026, 10, 21, 7, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d := parseRetryAfter(v, now)
		if d < 0 || d > 24*time.Hour {
			t.Fatalf("parseRetryAfter(%q) = %v", v, d)
		}
	})
}

func FuzzOpenVerified(f *testing.F) {
	f.Add([]byte("RIFF....WAVEfmt "), 3, true)
	f.Add([]byte{}, 0, false)
	f.Fuzz(func(t *testing.T, data []byte, at int, truncate bool) {
		sum := sha256.Sum256(data)
		md := Metadata{ID: "x", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
		read := func(b []byte) error {
			rc, err := NewItem(md, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }).OpenVerified()
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(io.Discard, rc)
			return err
		}
		if err := read(data); err != nil {
			t.Fatalf("intact audio rejected: %v", err)
		}
		if len(data) == 0 {
			return
		}
		bad := bytes.Clone(data)
		i := (at%len(data) + len(data)) % len(data)
		if truncate {
			bad = bad[:i]
		} else {
			bad[i] ^= 0x5a
		}
		err := read(bad)
		if !errors.Is(err, ErrChecksumMismatch) || !IsPermanent(err) {
			t.Fatalf("damaged audio: err = %v, want permanent checksum mismatch", err)
		}
	})
}
