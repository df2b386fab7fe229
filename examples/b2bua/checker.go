package main

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// checker collects the problems of one configuration file, each with its
// key and, from the parsed YAML tree, its line.
type checker struct {
	pos      map[string]int // key path → line of the key in the file
	byLine   map[int]string // line → deepest key path on it
	problems []Problem
	getenv   func(string) (string, bool)
}

func newChecker(getenv func(string) (string, bool)) *checker {
	return &checker{pos: map[string]int{}, byLine: map[int]string{}, getenv: getenv}
}

// addf records a problem with key.
func (c *checker) addf(key, format string, args ...any) {
	c.problems = append(c.problems, Problem{Key: key, Line: c.line(key), Msg: fmt.Sprintf(format, args...)})
}

// line returns the line of key or, for a key absent from the file, of its
// nearest present parent.
func (c *checker) line(key string) int {
	for key != "" {
		if l, ok := c.pos[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// walk records the line of every key under n and reports keys that the
// Go type t has no field for. n's Go counterpart is t; path is n's key.
func (c *checker) walk(n *yaml.Node, t reflect.Type, path string) {
	if n == nil {
		return
	}
	if n.Kind == yaml.DocumentNode {
		for _, d := range n.Content {
			c.walk(d, t, path)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		// The anchor's keys were walked where it is defined; following
		// every alias could cost the square of the file's size.
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinKey(path, k.Value)
			c.mark(p, k.Line)
			c.markLine(v.Line, p) // a value below its key: "lines:\n  user: x"
			f, ok := fields[k.Value]
			if !ok {
				c.addf(p, "unknown key (valid keys here: %s)", strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
				continue
			}
			c.walk(v, f, p)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinKey(path, k.Value)
			c.mark(p, k.Line)
			c.walk(v, t.Elem(), p)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			c.mark(p, e.Line)
			c.walk(e, t.Elem(), p)
		}
	}
}

func (c *checker) mark(path string, line int) {
	c.pos[path] = line
	c.markLine(line, path)
}

// markLine makes path the key of line unless a deeper key is on it.
func (c *checker) markLine(line int, path string) {
	if len(path) > len(c.byLine[line]) {
		c.byLine[line] = path
	}
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML keys of struct type t to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = f.Type
	}
	return m
}

// yamlLine matches the "line N: " that yaml.v3 puts before its messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError records a yaml.v3 error, each message under the key on its
// line. An unknown field walk already reported (with the valid keys) is
// not repeated.
func (c *checker) yamlError(err error) {
	var msgs []string
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for _, m := range msgs {
		sub := yamlLine.FindStringSubmatch(m)
		if sub == nil {
			c.problems = append(c.problems, Problem{Msg: strings.TrimPrefix(m, "yaml: ")})
			continue
		}
		line, _ := strconv.Atoi(sub[1])
		msg := typeMessage(sub[2])
		if f := yamlUnknown.FindStringSubmatch(msg); f != nil {
			if c.reportedUnknown(line, f[1]) {
				continue
			}
			msg = "unknown key " + f[1]
		}
		c.problems = append(c.problems, Problem{Key: c.byLine[line], Line: line, Msg: msg})
	}
}

// yamlUnknown matches yaml.v3's "field x not found in type main.fileSide".
var yamlUnknown = regexp.MustCompile(`^field (\S+) not found in type `)

// reportedUnknown reports whether walk found the unknown key on line.
func (c *checker) reportedUnknown(line int, key string) bool {
	return slices.ContainsFunc(c.problems, func(p Problem) bool {
		return p.Line == line && (p.Key == key || strings.HasSuffix(p.Key, "."+key)) &&
			strings.HasPrefix(p.Msg, "unknown key")
	})
}

// yamlType matches yaml.v3's "cannot unmarshal !!str `x` into int".
var yamlType = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")

// typeMessage rephrases yaml.v3's type errors for people who write YAML
// rather than Go: "\"x\" is not an integer".
func typeMessage(msg string) string {
	m := yamlType.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := "a mapping"
	switch t := m[3]; {
	case t == "int":
		want = "an integer"
	case t == "bool":
		want = "true or false"
	case t == "string":
		want = "a single value"
	case strings.HasPrefix(t, "[]"):
		want = "a list"
	}
	switch m[1] {
	case "seq":
		return "a list is not " + want
	case "map":
		return "a mapping is not " + want
	}
	return fmt.Sprintf("%q is not %s", m[2], want)
}

// The value checks below record a problem for a bad value and return the
// parsed one (the zero value when bad); where they take a default, an
// empty string means it.

func (c *checker) duration(key, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		c.addf(key, "%q is not a duration such as 30s, 5m or 4h", s)
	case d < 0:
		c.addf(key, "%s is negative", s)
	}
	return d
}

// durationOrOff is duration that also accepts "off", returned as -1 (the
// packages' "disabled").
func (c *checker) durationOrOff(key, s string) time.Duration {
	if s == "off" {
		return -1
	}
	return c.duration(key, s, 0)
}

// sizeUnits are the suffixes size accepts, longest first.
var sizeUnits = []struct {
	suffix string
	mult   uint64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// size parses a byte count such as 512MiB, 2GB or 1048576.
func (c *checker) size(key, s string) uint64 {
	if s == "" {
		return 0
	}
	num, mult := strings.TrimSpace(s), uint64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > math.MaxUint64/mult {
		c.addf(key, "%q is not a size such as 512MiB, 2GB or 1048576", s)
		return 0
	}
	return n * mult
}

// hostPort checks a host:port; with ipOnly the host must be an IP address.
func (c *checker) hostPort(key, s string, ipOnly, portZeroOK bool) {
	if s == "" {
		c.addf(key, "missing")
		return
	}
	if ipOnly {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			c.addf(key, "%q is not an ip:port such as 192.0.2.10:5060", s)
		} else if ap.Port() == 0 && !portZeroOK {
			c.addf(key, "%q has port 0", s)
		}
		return
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		c.addf(key, "%q is not a host:port such as sbc.example.net:5060", s)
		return
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || (p == 0 && !portZeroOK) {
		c.addf(key, "%q has no valid port", s)
	}
}

func (c *checker) prefix(key, s string) netip.Prefix {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		// A bare address is a one-address network.
		if a, aerr := netip.ParseAddr(s); aerr == nil {
			return netip.PrefixFrom(a, a.BitLen())
		}
		c.addf(key, "%q is not a network such as 10.0.0.0/24 or an address", s)
		return netip.Prefix{}
	}
	return p.Masked()
}

func (c *checker) oneOf(key, s, def string, valid ...string) string {
	if s == "" {
		return def
	}
	if !slices.Contains(valid, s) {
		c.addf(key, "%q is not one of %s", s, strings.Join(valid, ", "))
		return def
	}
	return s
}

func (c *checker) nonNegative(key string, n int) int {
	if n < 0 {
		c.addf(key, "%d is negative", n)
		return 0
	}
	return n
}

// envRef matches ${NAME} in a secret field.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// secret expands every ${NAME} in a secret field from the environment; an
// unset variable is a problem. The variable override, when not empty and
// set, replaces the value altogether.
func (c *checker) secret(key, s, override string) string {
	if override != "" {
		if v, ok := c.getenv(override); ok && v != "" {
			return v
		}
	}
	return envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		v, ok := c.getenv(name)
		if !ok {
			c.addf(key, "environment variable %s is not set", name)
		}
		return v
	})
}
