package main

import (
	"encoding/json"
	"net/http"
	"os"
	"sync/atomic"
)

// health answers the liveness and readiness probes.
//
// /healthz is 200 while the process runs. /readyz is 200 only while the
// SIP sides are being served, the spool directory can be written, and the
// service is not draining; otherwise 503, so that a load balancer (a
// Kamailio dispatcher with probing, a Kubernetes Service) sends new calls
// elsewhere. Both answer a small JSON object saying what they checked.
type health struct {
	serving  atomic.Bool
	draining atomic.Bool
	spoolDir string
}

// readiness is the body of /readyz.
type readiness struct {
	Ready    bool   `json:"ready"`
	SIP      bool   `json:"sip"`
	Spool    bool   `json:"spool"`
	Draining bool   `json:"draining"`
	Error    string `json:"error,omitempty"`
}

func (h *health) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

func (h *health) readyz(w http.ResponseWriter, _ *http.Request) {
	r := readiness{SIP: h.serving.Load(), Draining: h.draining.Load()}
	if err := probeWritable(h.spoolDir); err != nil {
		r.Error = "spool: " + err.Error()
	} else {
		r.Spool = true
	}
	r.Ready = r.SIP && r.Spool && !r.Draining
	code := http.StatusOK
	if !r.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, r)
}

// probeWritable creates and removes a file in dir. The spool's own
// entries live in its subdirectories, which the probe never touches.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".readyz-*")
	if err != nil {
		return err
	}
	name := f.Name()
	cerr := f.Close()
	if err := os.Remove(name); err != nil {
		return err
	}
	return cerr
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// mux routes /metrics, /healthz and /readyz.
func (h *health) mux(metrics http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	return mux
}
