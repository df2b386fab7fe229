package durable_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/callrec/callrec/internal/durable"
)

func ExampleWriteFile() {
	dir, err := os.MkdirTemp("", "durable")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "state.json")
	if err := durable.WriteFile(name, []byte(`{"attempts":1}`), 0o640); err != nil {
		panic(err)
	}
	b, _ := os.ReadFile(name)
	fmt.Println(string(b))
	// Output: {"attempts":1}
}
