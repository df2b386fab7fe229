package archive_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery/archive"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

const testPassword = "correct horse 1"

// webEnv is an archive holding the fixtures, with users of every role,
// served over loopback HTTP.
type webEnv struct {
	a   *archive.Archive
	srv *httptest.Server
}

func newWebEnv(t testing.TB, cfg archive.WebConfig) *webEnv {
	t.Helper()
	a, err := archive.Open(context.Background(), archive.Config{Dir: filepath.Join(t.TempDir(), "rec"), PasswordCost: bcrypt.MinCost})
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	deliver(t, a, http.MethodPost, fixtures...)
	ctx := context.Background()
	for _, u := range []archive.User{
		{Name: "admin", Role: archive.RoleAdmin},
		{Name: "sv", Role: archive.RoleSupervisor},
		{Name: "tokyo", Role: archive.RoleAgent, Lines: []string{"03-1234-5678"}},
		{Name: "osaka", Role: archive.RoleAgent, Lines: []string{"06-1234-0000"}},
	} {
		require.NoError(t, a.SetUser(ctx, u, testPassword))
	}
	cfg.InsecureCookies = true
	web, err := a.Web(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(web)
	t.Cleanup(srv.Close)
	return &webEnv{a: a, srv: srv}
}

// client is a browser-like HTTP client: a cookie jar, no redirects
// followed, and an optional local address (another loopback source).
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
	csrf string
}

func (e *webEnv) client(t testing.TB, localIP string) *client {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{}
	if localIP != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 5 * time.Second}
		tr.DialContext = d.DialContext
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, base: e.srv.URL, hc: &http.Client{Jar: jar, Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// do sends a request and returns the status and body.
func (c *client) do(method, path string, form url.Values, hdr ...string) (int, string, http.Header) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	require.NoError(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, string(b), resp.Header
}

func (c *client) get(path string, hdr ...string) (int, string) {
	c.t.Helper()
	code, body, _ := c.do(http.MethodGet, path, nil, hdr...)
	return code, body
}

// post sends a form with the session's CSRF token.
func (c *client) post(path string, form url.Values) (int, string) {
	c.t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", c.csrf)
	}
	code, body, _ := c.do(http.MethodPost, path, form)
	return code, body
}

// login logs in through the login form and returns the status of the POST.
func (c *client) login(user, password string) int {
	c.t.Helper()
	code, body := c.get("/login")
	require.Equal(c.t, http.StatusOK, code)
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(c.t, m, "login form has a CSRF token")
	code, _, _ = c.do(http.MethodPost, "/login", url.Values{"csrf": {m[1]}, "user": {user}, "password": {password}, "next": {"/"}})
	if code == http.StatusSeeOther {
		_, body = c.get("/")
		m := csrfRE.FindStringSubmatch(body)
		require.NotNil(c.t, m, "search page has the session's CSRF token")
		c.csrf = m[1]
	}
	return code
}

// auditHas reports whether the audit trail holds an entry matching want's
// non-empty fields.
func auditHas(t testing.TB, a *archive.Archive, want archive.AuditEntry) bool {
	t.Helper()
	es, _, err := a.AuditLog(context.Background(), archive.AuditQuery{PageSize: -1})
	require.NoError(t, err)
	for _, e := range es {
		if (want.User == "" || e.User == want.User) && e.Action == want.Action &&
			(want.Target == "" || e.Target == want.Target) && (want.Remote == "" || e.Remote == want.Remote) &&
			(want.Detail == "" || strings.Contains(e.Detail, want.Detail)) {
			return true
		}
	}
	return false
}

func newServer(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
