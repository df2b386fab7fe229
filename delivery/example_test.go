package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/callrec/callrec/delivery"
)

// Example spools a recording and delivers it into a date-partitioned
// directory.
func Example() {
	root, err := os.MkdirTemp("", "callrec-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(root)
	audio := filepath.Join(root, "call-1.wav")
	if err := os.WriteFile(audio, []byte("RIFF....WAVE"), 0o640); err != nil {
		panic(err)
	}

	sink, err := delivery.NewDirSink(delivery.DirSinkConfig{Dir: filepath.Join(root, "customer")})
	if err != nil {
		panic(err)
	}
	q, err := delivery.New(delivery.Config{Dir: filepath.Join(root, "spool"), Sink: sink})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	err = q.Enqueue(ctx, delivery.Recording{
		AudioPath: audio,
		Metadata: delivery.Metadata{
			CallID:    "call-1",
			Direction: delivery.Outgoing,
			Start:     time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		},
	})
	if err != nil {
		panic(err)
	}
	if err := q.Start(); err != nil {
		panic(err)
	}
	for q.Stats().Delivered < 1 {
		time.Sleep(time.Millisecond)
	}
	if err := q.Shutdown(ctx); err != nil {
		panic(err)
	}

	customer := filepath.Join(root, "customer")
	_ = filepath.WalkDir(customer, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(customer, p)
			fmt.Println(filepath.ToSlash(rel))
		}
		return err
	})
	// Output:
	// 2026/11/23/call-1.json
	// 2026/11/23/call-1.wav
}

// ExamplePermanent shows how a Sink classifies its failures.
func ExamplePermanent() {
	refused := delivery.Permanent(errors.New("server refused the upload"))
	busy := delivery.Retryable(errors.New("server busy"), 30*time.Second)
	fmt.Println(delivery.IsPermanent(refused), errors.Is(refused, delivery.ErrRetryable))
	fmt.Println(delivery.IsPermanent(busy), errors.Is(busy, delivery.ErrRetryable))
	fmt.Println(busy)
	// Output:
	// true false
	// false true
	// retryable: server busy
}
