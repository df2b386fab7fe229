package archive

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

// WebConfig configures the web UI returned by [Archive.Web]. The zero
// value is the default of every field.
type WebConfig struct {
	// InsecureCookies drops the Secure attribute of the session cookie so
	// that the UI works over plain HTTP. Only for tests and loopback
	// demos: in production the UI is served over HTTPS (directly or
	// behind a TLS-terminating proxy) and cookies stay Secure.
	InsecureCookies bool
	// SessionTTL is how long a login lasts. Default 12 h.
	SessionTTL time.Duration
	// LoginFailures is how many failed logins for one user name from one
	// source address are allowed within LoginWindow before further
	// attempts are refused. Default 5.
	LoginFailures int
	// LoginWindow is the period failures are counted over. Default 15 min.
	LoginWindow time.Duration
	// Lang is the default language, "ja" (default) or "en"; users switch
	// with the language link, remembered in a cookie.
	Lang string
}

// Web is the archive's web UI: login, search, call page with player,
// notes and tags, and the admin pages. Create it with [Archive.Web]; it
// is an http.Handler that also serves the ingest endpoint under /ingest/.
type Web struct {
	a       *Archive
	cfg     WebConfig
	log     *slog.Logger
	pages   map[string]*template.Template
	mux     *http.ServeMux
	limiter *loginLimiter
}

// Cookie names.
const (
	sessionCookie    = "callrec_session"
	loginCSRFCookie  = "callrec_login_csrf"
	langCookie       = "callrec_lang"
	csrfField        = "csrf"
	maxFormBytes     = 64 << 10
	defaultTTL       = 12 * time.Hour
	defaultFailures  = 5
	defaultFailureIn = 15 * time.Minute
)

// Web returns the web UI of the archive.
func (a *Archive) Web(cfg WebConfig) (*Web, error) {
	switch {
	case cfg.SessionTTL < 0:
		return nil, fmt.Errorf("%w: SessionTTL: negative", ErrInvalidConfig)
	case cfg.LoginFailures < 0:
		return nil, fmt.Errorf("%w: LoginFailures: negative", ErrInvalidConfig)
	case cfg.LoginWindow < 0:
		return nil, fmt.Errorf("%w: LoginWindow: negative", ErrInvalidConfig)
	case cfg.Lang != "" && catalogue[cfg.Lang] == nil:
		return nil, fmt.Errorf("%w: Lang: %q is not ja or en", ErrInvalidConfig, cfg.Lang)
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = defaultTTL
	}
	if cfg.LoginFailures == 0 {
		cfg.LoginFailures = defaultFailures
	}
	if cfg.LoginWindow == 0 {
		cfg.LoginWindow = defaultFailureIn
	}
	if cfg.Lang == "" {
		cfg.Lang = LangJapanese
	}
	w := &Web{a: a, cfg: cfg, log: a.log.With("component", "archive-web"), pages: map[string]*template.Template{},
		limiter: &loginLimiter{max: cfg.LoginFailures, window: cfg.LoginWindow, fails: map[string][]time.Time{}}}
	funcs := template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.In(a.cfg.Location).Format("2006-01-02 15:04:05")
		},
		"dur": func(d time.Duration) string {
			s := int(d.Round(time.Second) / time.Second)
			return fmt.Sprintf("%d:%02d", s/60, s%60)
		},
		"join": strings.Join,
	}
	for _, p := range []string{"login", "search", "call", "users", "retention", "audit", "message"} {
		t, err := template.New(p).Funcs(funcs).ParseFS(webFS, "web/templates/layout.html", "web/templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("archive: template %s: %w", p, err)
		}
		w.pages[p] = t
	}
	w.routes()
	return w, nil
}

// ServeHTTP serves the UI, with security headers on every response.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	h := rw.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	w.mux.ServeHTTP(rw, r)
}

func (w *Web) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web/static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.Handle("/ingest/", w.a.Ingest())
	m.HandleFunc("GET /login", w.loginPage)
	m.HandleFunc("POST /login", w.login)
	m.HandleFunc("GET /lang", w.setLang)
	m.HandleFunc("POST /logout", w.auth(anyRole, w.logout))
	m.HandleFunc("GET /{$}", w.auth(anyRole, w.search))
	m.HandleFunc("GET /calls/{id}", w.auth(anyRole, w.call))
	m.HandleFunc("GET /calls/{id}/audio", w.auth(anyRole, w.audio))
	m.HandleFunc("GET /calls/{id}/download", w.auth(anyRole, w.download))
	m.HandleFunc("GET /calls/{id}/waveform.png", w.auth(anyRole, w.waveform))
	m.HandleFunc("POST /calls/{id}/notes", w.auth(anyRole, w.notes))
	m.HandleFunc("POST /calls/{id}/tags", w.auth(anyRole, w.tags))
	m.HandleFunc("POST /calls/{id}/hold", w.auth(adminOnly, w.hold))
	m.HandleFunc("POST /calls/{id}/delete", w.auth(adminOnly, w.deleteCall))
	m.HandleFunc("POST /hold", w.auth(adminOnly, w.holdSearch))
	m.HandleFunc("GET /admin/users", w.auth(adminOnly, w.usersPage))
	m.HandleFunc("POST /admin/users", w.auth(adminOnly, w.saveUser))
	m.HandleFunc("GET /admin/retention", w.auth(adminOnly, w.retentionPage))
	m.HandleFunc("POST /admin/retention", w.auth(adminOnly, w.saveRetention))
	m.HandleFunc("GET /admin/audit", w.auth(adminOnly, w.auditPage))
	m.HandleFunc("GET /admin/audit.csv", w.auth(adminOnly, w.auditCSV))
	w.mux = m
}

// request is what a handler of a logged-in user gets.
type request struct {
	*http.Request
	sess   Session
	lang   string
	remote string
}

func (r *request) user() User { return r.sess.User }

func anyRole(Role) bool     { return true }
func adminOnly(r Role) bool { return r == RoleAdmin }

// auth wraps h: it requires a live session whose role allows is, and a
// matching CSRF token on every request that is not GET or HEAD.
func (w *Web) auth(allow func(Role) bool, h func(http.ResponseWriter, *request)) http.HandlerFunc {
	return func(rw http.ResponseWriter, hr *http.Request) {
		r := &request{Request: hr, lang: w.lang(hr), remote: remoteAddr(hr)}
		c, err := hr.Cookie(sessionCookie)
		if err == nil {
			r.sess, err = w.a.SessionFor(hr.Context(), c.Value)
		}
		if err != nil {
			if !errors.Is(err, ErrNotFound) && !errors.Is(err, http.ErrNoCookie) {
				w.log.Error("session", "error", err)
				w.fail(rw, r, http.StatusInternalServerError, "error")
				return
			}
			if hr.Method == http.MethodGet || hr.Method == http.MethodHead {
				http.Redirect(rw, hr, "/login?next="+url.QueryEscape(hr.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.fail(rw, r, http.StatusForbidden, "forbidden")
			return
		}
		if hr.Method != http.MethodGet && hr.Method != http.MethodHead {
			hr.Body = http.MaxBytesReader(rw, hr.Body, maxFormBytes)
			if subtle.ConstantTimeCompare([]byte(hr.PostFormValue(csrfField)), []byte(r.sess.CSRF)) != 1 {
				w.audit(r, ActionDenied, hr.URL.Path, "bad CSRF token")
				w.fail(rw, r, http.StatusForbidden, "forbidden")
				return
			}
		}
		if !allow(r.sess.User.Role) {
			w.audit(r, ActionDenied, hr.URL.Path, "role "+string(r.sess.User.Role))
			w.fail(rw, r, http.StatusForbidden, "forbidden")
			return
		}
		rw.Header().Set("Cache-Control", "no-store")
		h(rw, r)
	}
}

// remoteAddr is the peer's IP address. Forwarding headers are not
// trusted: behind a proxy, the proxy's address is what is recorded.
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (w *Web) lang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && catalogue[c.Value] != nil {
		return c.Value
	}
	return w.cfg.Lang
}

// audit writes an entry for the request's user; a failure is logged, as
// the action already happened.
func (w *Web) audit(r *request, action, target, detail string) {
	err := w.a.Audit(context.WithoutCancel(r.Context()), AuditEntry{User: r.sess.User.Name, Action: action, Target: target, Remote: r.remote, Detail: detail})
	if err != nil {
		w.log.Error("audit", "error", err)
	}
}

// view is the data of every page.
type view struct {
	Lang  string
	cat   map[string]string
	User  User
	CSRF  string
	Path  string
	Admin bool
	// Msg is a catalogue key of a message shown on the page.
	Msg  string
	Data any
}

// T returns the text of key in the page's language.
func (v *view) T(key string) string {
	if s, ok := v.cat[key]; ok {
		return s
	}
	return "[" + key + "]"
}

// OtherLang is the language the switch link offers.
func (v *view) OtherLang() string {
	if v.Lang == LangJapanese {
		return LangEnglish
	}
	return LangJapanese
}

func (w *Web) render(rw http.ResponseWriter, r *request, code int, page string, data any) {
	v := &view{Lang: r.lang, cat: catalogue[r.lang], User: r.sess.User, CSRF: r.sess.CSRF,
		Path: r.URL.RequestURI(), Admin: r.sess.User.Role == RoleAdmin, Data: data}
	if m, ok := data.(message); ok {
		v.Msg = string(m)
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(code)
	if err := w.pages[page].ExecuteTemplate(rw, "layout", v); err != nil {
		w.log.Error("render", "page", page, "error", err)
	}
}

// message is the data of the message page: a catalogue key.
type message string

func (w *Web) fail(rw http.ResponseWriter, r *request, code int, key string) {
	w.render(rw, r, code, "message", message(key))
}

// failErr answers err: 404 for a recording the user may not see or that
// does not exist (the two look the same), 400 for bad input, 500 else.
func (w *Web) failErr(rw http.ResponseWriter, r *request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		w.fail(rw, r, http.StatusNotFound, "not_found")
	case errors.Is(err, ErrInvalidQuery), errors.Is(err, ErrInvalidUser), errors.Is(err, ErrOnHold):
		w.log.Info("bad request", "path", r.URL.Path, "error", err)
		w.fail(rw, r, http.StatusBadRequest, "bad_request")
	default:
		w.log.Error("request", "path", r.URL.Path, "error", err)
		w.fail(rw, r, http.StatusInternalServerError, "error")
	}
}

// setLang remembers the chosen language and returns to the page the user
// came from (a local path only, so the link cannot redirect elsewhere).
func (w *Web) setLang(rw http.ResponseWriter, r *http.Request) {
	lang := r.URL.Query().Get("to")
	if catalogue[lang] != nil {
		http.SetCookie(rw, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: !w.cfg.InsecureCookies, SameSite: http.SameSiteLaxMode})
	}
	http.Redirect(rw, r, localPath(r.URL.Query().Get("back")), http.StatusSeeOther)
}

// localPath returns p if it is a path on this server, else "/".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return "/"
	}
	return p
}

// loginLimiter counts failed logins per user name and source address.
type loginLimiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	fails  map[string][]time.Time
}

func (l *loginLimiter) recent(key string, now time.Time) []time.Time {
	ts := l.fails[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, key)
	} else {
		l.fails[key] = ts
	}
	return ts
}

// allowed reports whether another attempt for key may be tried at now.
func (l *loginLimiter) allowed(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key, now)) < l.max
}

// failed counts a failure; the map is swept when it grows large, so that
// a flood of names does not grow it without bound.
func (l *loginLimiter) failed(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) > 10000 {
		for k := range l.fails {
			l.recent(k, now)
		}
	}
	l.fails[key] = append(l.recent(key, now), now)
}

func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}
