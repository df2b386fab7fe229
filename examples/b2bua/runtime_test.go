package main

import (
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRuntimeSettingsChecked(t *testing.T) {
	off, bad := -1, -5
	c := newChecker(nil)
	s := fileRuntime{MemoryLimit: "1GiB", GCPercent: &off}.check(c)
	assert.Empty(t, c.problems)
	assert.EqualValues(t, 1<<30, s.memoryLimit)
	require.NotNil(t, s.gcPercent)
	assert.Equal(t, -1, *s.gcPercent)

	c = newChecker(nil)
	fileRuntime{MemoryLimit: "lots", GCPercent: &bad}.check(c)
	require.Len(t, c.problems, 2)
	assert.Equal(t, "runtime.memory_limit", c.problems[0].Key)
	assert.Equal(t, "runtime.gc_percent", c.problems[1].Key)

	c = newChecker(nil)
	fileRuntime{MemoryLimit: "16MiB"}.check(c)
	require.Len(t, c.problems, 1)
	assert.Equal(t, "runtime.memory_limit", c.problems[0].Key)
	assert.Contains(t, c.problems[0].Msg, "below 64MiB")

	c = newChecker(nil)
	fileRuntime{GCPercent: &off}.check(c)
	require.Len(t, c.problems, 1, "the collector off with no limit")
	assert.Equal(t, "runtime.gc_percent", c.problems[0].Key)
	limitEnv := func(k string) (string, bool) { return "2GiB", k == "GOMEMLIMIT" }
	c = newChecker(limitEnv)
	assert.Equal(t, -1, *fileRuntime{GCPercent: &off}.check(c).gcPercent, "GOMEMLIMIT is the limit")
	assert.Empty(t, c.problems)

	s = fileRuntime{}.check(newChecker(nil))
	assert.Zero(t, s.memoryLimit, "absent: no limit")
	require.NotNil(t, s.gcPercent, "absent, and no GOGC: the default")
	assert.Equal(t, defaultGCPercent, *s.gcPercent)

	env := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) { return v, k == "GOGC" }
	}
	assert.Nil(t, fileRuntime{}.check(newChecker(env("200"))).gcPercent, "GOGC in the environment is kept")
	assert.Equal(t, defaultGCPercent, *fileRuntime{}.check(newChecker(env(""))).gcPercent, "an empty GOGC is unset")
	hundred := 100
	assert.Equal(t, 100, *fileRuntime{GCPercent: &hundred}.check(newChecker(env("200"))).gcPercent, "the file wins")
}

// TestRuntimeSettingsApplied: apply sets the collector's percentage and
// memory limit, as GOGC and GOMEMLIMIT would.
func TestRuntimeSettingsApplied(t *testing.T) {
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	})
	c := newChecker(nil)
	s := fileRuntime{MemoryLimit: "3GiB"}.check(c)
	require.Empty(t, c.problems)
	s.apply()
	assert.Equal(t, defaultGCPercent, debug.SetGCPercent(defaultGCPercent))
	assert.EqualValues(t, 3<<30, debug.SetMemoryLimit(-1))
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	h := &health{}
	plain := h.mux(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	plain.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code, "off by default")

	mux := h.mux(http.NotFoundHandler())
	withPprof(mux)
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/heap?debug=1", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "heap profile")
}
