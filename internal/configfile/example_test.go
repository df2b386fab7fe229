package configfile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/callrec/callrec/internal/configfile"
)

// A service parses its own schema and reports each problem with its key
// and line; Load reads the file and names it in the error.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "configfile")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "service.yaml")
	_ = os.WriteFile(path, []byte("port: 8080\nworkers: many\n"), 0o600)

	parse := func(raw []byte) (map[string]int, error) {
		cfg := map[string]int{}
		var problems []configfile.Problem
		for i, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			key, val, _ := strings.Cut(line, ": ")
			n, err := strconv.Atoi(val)
			if err != nil {
				problems = append(problems, configfile.Problem{Key: key, Line: i + 1, Msg: fmt.Sprintf("%q is not a number", val)})
				continue
			}
			cfg[key] = n
		}
		if len(problems) > 0 {
			return nil, &configfile.Error{Problems: problems}
		}
		return cfg, nil
	}
	_, err := configfile.Load(path, parse)
	fmt.Println(errors.Is(err, configfile.ErrInvalidConfig))
	fmt.Println(strings.ReplaceAll(err.Error(), dir, "DIR"))
	// Output:
	// true
	// DIR/service.yaml:2: workers: "many" is not a number
}
