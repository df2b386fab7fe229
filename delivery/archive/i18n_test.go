package archive

import (
	"io/fs"
	"regexp"
	"testing"
)

// TestCatalogueComplete: every key a template uses exists in every
// language, and the languages have the same keys.
func TestCatalogueComplete(t *testing.T) {
	keyRE := regexp.MustCompile(`\.T "([a-z0-9_]+)"`)
	used := map[string]bool{}
	err := fs.WalkDir(webFS, "web/templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(webFS, p)
		for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 50 {
		t.Fatalf("found only %d keys in the templates", len(used))
	}
	// Keys built at run time: roles, directions, messages.
	for _, k := range []string{"role_admin", "role_supervisor", "role_agent", "incoming", "outgoing",
		"not_found", "forbidden", "bad_request", "error", "login_failed", "rate_limited"} {
		used[k] = true
	}
	for lang, cat := range catalogue {
		for k := range used {
			if cat[k] == "" {
				t.Errorf("%s: key %q missing", lang, k)
			}
		}
		for k := range catalogue[LangJapanese] {
			if cat[k] == "" {
				t.Errorf("%s: key %q of ja missing", lang, k)
			}
		}
	}
}
