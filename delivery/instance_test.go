package delivery_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/deliverytest"
)

func TestBaseNameInstance(t *testing.T) {
	assert.Equal(t, "c1@pbx", delivery.Metadata{CallID: "c1@pbx"}.BaseName())
	assert.Equal(t, "c1@pbx_rec-a", delivery.Metadata{CallID: "c1@pbx", Instance: "rec-a"}.BaseName())
	assert.Equal(t, "id-1_rec_b", delivery.Metadata{ID: "id-1", Instance: "rec/b"}.BaseName())
}

// TestDirSinkInstancesNeverOverwrite: two instances (each with its own
// DirSink, as two processes have) deliver recordings of the same Call-ID
// into one directory at the same moment; each keeps its own files.
func TestDirSinkInstancesNeverOverwrite(t *testing.T) {
	dir := t.TempDir()
	const callID = "same-call@pbx"
	items := map[string]delivery.Item{}
	for i, inst := range []string{"rec-a", "rec-b"} {
		item := deliverytest.NewItem("20261123T090000.000Z-"+inst+"-00000000000"+string(rune('1'+i)), callID, 4000+i)
		item.Metadata.Instance = inst
		items[inst] = item
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(items))
	for _, item := range items {
		sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: dir})
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- sink.Deliver(deliverCtx(t), item)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	day := filepath.Join(dir, "2026", "11", "23")
	ents, err := os.ReadDir(day)
	require.NoError(t, err)
	assert.Len(t, ents, 4, "two audio files and two sidecars")
	for inst, item := range items {
		audio, err := os.ReadFile(filepath.Join(day, callID+"_"+inst+".wav"))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(deliverytest.Audio(item.Metadata.ID, int(item.Metadata.Size)), audio), inst)
		raw, err := os.ReadFile(filepath.Join(day, callID+"_"+inst+".json"))
		require.NoError(t, err)
		var md delivery.Metadata
		require.NoError(t, json.Unmarshal(raw, &md))
		assert.Equal(t, inst, md.Instance)
		assert.Equal(t, item.Metadata.ID, md.ID)
	}
}
