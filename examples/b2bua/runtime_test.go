package main

import (
	"net/http"
	"net/http/httptest"
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
