package main

import (
	"math"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
)

// fileRuntime tunes the Go runtime for a media server: a soft memory limit
// lets the garbage collector run rarely while far from it (with gc_percent
// raised, or off), and hard only when the process nears the limit.
type fileRuntime struct {
	// MemoryLimit is GOMEMLIMIT as a size ("1GiB"); empty keeps the
	// environment's or the default (none).
	MemoryLimit string `yaml:"memory_limit"`
	// GCPercent is GOGC; -1 turns the proportional collector off (then
	// set memory_limit). Absent keeps the environment's GOGC, or else is
	// defaultGCPercent.
	GCPercent *int `yaml:"gc_percent"`
}

// defaultGCPercent is the GOGC used when neither the file nor the
// environment sets one. The media path allocates nothing per packet, so
// the heap grows slowly (from call setup and SIP) and collections are
// cheap: at 400 calls in the shared bench, the collector took about 2 % of
// the service's CPU with GOGC 50. The heap may grow to 1+GOGC/100 times
// its live size (stacks included) before a collection, and the resident
// memory per call follows it. Measured with compare.sh 400 20 (06:49-06:52
// UTC, load 1-4), GOGC 25 instead of 50: 115.6 instead of 132.8 KB per
// call; 34 instead of 20 collections in the first 34 s, with the mark
// workers at 1.5 % of the CPU samples instead of 1.4 % and the process's
// CPU no higher (23.3 s against 24.3 s by then). Lower than 25, each
// halving doubles the collections for a smaller saving.
const defaultGCPercent = 25

// minMemoryLimit is the smallest runtime.memory_limit accepted.
const minMemoryLimit = 64 << 20

// runtimeSettings is the validated runtime section.
type runtimeSettings struct {
	memoryLimit int64 // bytes; 0 leaves it alone
	gcPercent   *int
}

func (r fileRuntime) check(c *checker) runtimeSettings {
	var s runtimeSettings
	if n := c.size("runtime.memory_limit", r.MemoryLimit); n > 0 {
		switch {
		case n > math.MaxInt64:
			c.addf("runtime.memory_limit", "%q is too large", r.MemoryLimit)
		case n < minMemoryLimit:
			c.addf("runtime.memory_limit", "%q is below %dMiB: the idle service alone takes about 20MiB, and near the limit the collector runs almost continuously", r.MemoryLimit, minMemoryLimit>>20)
		default:
			s.memoryLimit = int64(n)
		}
	}
	switch {
	case r.GCPercent != nil && *r.GCPercent < -1:
		c.addf("runtime.gc_percent", "%d is below -1 (off)", *r.GCPercent)
	case r.GCPercent != nil && *r.GCPercent == -1 && r.MemoryLimit == "" && !c.envSet("GOMEMLIMIT"):
		// Without a limit the heap would grow until the process is killed.
		c.addf("runtime.gc_percent", "-1 turns the collector off: set runtime.memory_limit (or GOMEMLIMIT) too")
	case r.GCPercent != nil:
		s.gcPercent = r.GCPercent
	case !c.envSet("GOGC"):
		s.gcPercent = new(int)
		*s.gcPercent = defaultGCPercent
	}
	return s
}

// envSet reports whether the environment sets name (to anything but "").
func (c *checker) envSet(name string) bool {
	if c.getenv == nil {
		return false
	}
	v, ok := c.getenv(name)
	return ok && v != ""
}

// apply sets the runtime's memory limit and GC percentage.
func (s runtimeSettings) apply() {
	if s.memoryLimit > 0 {
		debug.SetMemoryLimit(s.memoryLimit)
	}
	if s.gcPercent != nil {
		debug.SetGCPercent(*s.gcPercent)
	}
}

// withPprof adds net/http/pprof's handlers to mux under /debug/pprof/.
func withPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
