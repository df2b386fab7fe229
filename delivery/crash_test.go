package delivery_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/deliverytest"
)

const (
	envCrashChild = "CALLREC_DELIVERY_CRASH_CHILD"
	envCrashRoot  = "CALLREC_DELIVERY_CRASH_ROOT"
	envCrashRound = "CALLREC_DELIVERY_CRASH_ROUND"
)

// crashSize is the audio size of a crash-test recording.
func crashSize(name string) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return 1000 + int(h.Sum32()%40_000)
}

// TestHelperProcess is the child of TestCrashSafety: it enqueues and
// delivers recordings in a loop until its parent kills it with SIGKILL.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(envCrashChild) != "1" {
		t.Skip("child process of TestCrashSafety")
	}
	root := os.Getenv(envCrashRoot)
	round, err := strconv.Atoi(os.Getenv(envCrashRound))
	require.NoError(t, err)
	src := filepath.Join(root, "src")
	sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: filepath.Join(root, "dest")})
	require.NoError(t, err)
	q, err := delivery.New(delivery.Config{Dir: filepath.Join(root, "spool"), Sink: sink, Workers: 2, Backoff: fastBackoff})
	require.NoError(t, err)
	require.NoError(t, q.Start())
	journal, err := os.OpenFile(filepath.Join(root, fmt.Sprintf("journal-%02d", round)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	require.NoError(t, err)
	note := func(event, name string) {
		_, err := fmt.Fprintf(journal, "%s %s\n", event, name)
		require.NoError(t, err)
		require.NoError(t, journal.Sync())
	}
	for i := range 1000 {
		name := fmt.Sprintf("r%02d-%04d", round, i)
		tmp, final := filepath.Join(src, "."+name+".tmp"), filepath.Join(src, name+".wav")
		f, err := os.Create(tmp)
		require.NoError(t, err)
		_, err = f.Write(deliverytest.Audio(name, crashSize(name)))
		require.NoError(t, err)
		require.NoError(t, f.Sync())
		require.NoError(t, f.Close())
		require.NoError(t, os.Rename(tmp, final))
		note("created", name)
		require.NoError(t, q.Enqueue(context.Background(), delivery.Recording{AudioPath: final, Metadata: delivery.Metadata{CallID: name}}))
		note("enqueued", name)
	}
	time.Sleep(time.Minute) // wait for the kill
}

// TestCrashSafety kills a process that enqueues and delivers recordings
// with SIGKILL at random instants, restarts it, and checks that no accepted
// recording is lost and no half-written file is ever delivered.
func TestCrashSafety(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"src", "dest", "spool"} {
		require.NoError(t, os.Mkdir(filepath.Join(root, d), 0o750))
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	const rounds = 20
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashChild+"=1", envCrashRoot+"="+root, envCrashRound+"="+strconv.Itoa(round))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		if round%2 == 1 {
			// Odd rounds let the child get going first, so that every run
			// makes progress however slowly the machine starts processes.
			journal := filepath.Join(root, fmt.Sprintf("journal-%02d", round))
			waitFor(t, "the child to enqueue", 30*time.Second, func() bool {
				b, err := os.ReadFile(journal)
				return err == nil && bytes.Contains(b, []byte("enqueued "))
			})
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err := cmd.Wait()
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended on its own (%v):\n%s", round, err, out.String())
		}
	}

	// Restart once more and let the queue drain.
	sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: filepath.Join(root, "dest")})
	require.NoError(t, err)
	q := newQueue(t, delivery.Config{Dir: filepath.Join(root, "spool"), Sink: sink})
	require.NoError(t, q.Start())
	waitFor(t, "the spool to drain", 30*time.Second, func() bool { return q.Stats().Queued == 0 })
	require.NoError(t, q.Shutdown(context.Background()))

	created, enqueued := readJournals(t, root)
	delivered := readDelivered(t, filepath.Join(root, "dest"))
	t.Logf("%d recordings created, %d acknowledged, %d delivered", len(created), len(enqueued), len(delivered))
	require.NotEmpty(t, enqueued, "the children made progress")
	for name := range enqueued {
		assert.Equal(t, 1, delivered[name], "acknowledged recording %s delivered exactly once", name)
	}
	for name := range created {
		b, err := os.ReadFile(filepath.Join(root, "src", name+".wav"))
		switch {
		case err == nil:
			assert.Equal(t, deliverytest.Audio(name, crashSize(name)), b, "caller's file %s intact", name)
		case delivered[name] == 0:
			t.Errorf("recording %s lost: neither the caller's file nor a delivery", name)
		}
	}
	for _, d := range []string{"queue", "dead"} {
		ents, err := os.ReadDir(filepath.Join(root, "spool", d))
		require.NoError(t, err)
		assert.Empty(t, ents, "spool/%s", d)
	}
}

func readJournals(t *testing.T, root string) (created, enqueued map[string]bool) {
	t.Helper()
	created, enqueued = map[string]bool{}, map[string]bool{}
	files, err := filepath.Glob(filepath.Join(root, "journal-*"))
	require.NoError(t, err)
	for _, p := range files {
		f, err := os.Open(p)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			event, name, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				continue // a line torn by the kill
			}
			switch event {
			case "created":
				created[name] = true
			case "enqueued":
				enqueued[name] = true
			}
		}
		require.NoError(t, sc.Err())
		require.NoError(t, f.Close())
	}
	return created, enqueued
}

// readDelivered checks every delivered recording (a visible sidecar with its
// audio) against its digest and expected content, and counts them by Call-ID.
func readDelivered(t *testing.T, dest string) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		base, ext := strings.TrimSuffix(d.Name(), filepath.Ext(d.Name())), filepath.Ext(d.Name())
		if ext != ".json" {
			_, err := os.Stat(filepath.Join(filepath.Dir(p), base+".json"))
			assert.NoError(t, err, "audio %s has its sidecar", p)
			return nil
		}
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		var md delivery.Metadata
		require.NoError(t, json.Unmarshal(raw, &md), p)
		audio, err := os.ReadFile(filepath.Join(filepath.Dir(p), base+md.AudioExt))
		require.NoError(t, err)
		sum := sha256.Sum256(audio)
		assert.Equal(t, md.SHA256, hex.EncodeToString(sum[:]), "digest of %s", p)
		assert.Equal(t, deliverytest.Audio(md.CallID, crashSize(md.CallID)), audio, "content of %s", p)
		out[md.CallID]++
		return nil
	})
	require.NoError(t, err)
	return out
}
