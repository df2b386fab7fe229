package archive_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/callrec/callrec/delivery/archive"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWebAgentSeesOnlyOwnLines: over real HTTP, an agent gets the same 404
// for every route of another line's recording as for an ID that does not
// exist, and cannot change it; their own line works; a supervisor sees all.
func TestWebAgentSeesOnlyOwnLines(t *testing.T) {
	e := newWebEnv(t, archive.WebConfig{})
	osaka := e.client(t, "")
	require.Equal(t, http.StatusSeeOther, osaka.login("osaka", testPassword))

	// r3 is on osaka's line 0612340000; r1 and r2 are on Tokyo's.
	code, body := osaka.get("/calls/r3")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `id="waveform"`)
	code, body = osaka.get("/calls/r3/audio", "Range", "bytes=0-99")
	assert.Equal(t, http.StatusPartialContent, code)
	assert.Len(t, body, 100)
	code, _ = osaka.get("/calls/r3/waveform.png")
	assert.Equal(t, http.StatusOK, code)

	_, missing := osaka.get("/calls/no-such-id")
	for _, id := range []string{"r1", "r2", "no-such-id", "..%2Fr1"} {
		for _, p := range []string{"", "/audio", "/download", "/waveform.png"} {
			code, body := osaka.get("/calls/" + id + p)
			assert.Equal(t, http.StatusNotFound, code, "GET %s%s", id, p)
			assert.NotContains(t, body, "09033334444", "GET %s%s leaks a number", id, p)
			if p == "" {
				assert.Equal(t, mainOf(missing), mainOf(body), "another line's recording looks like a missing one")
			}
		}
		code, _ := osaka.post("/calls/"+id+"/notes", url.Values{"notes": {"mine now"}})
		assert.Equal(t, http.StatusNotFound, code, "notes %s", id)
		code, _ = osaka.post("/calls/"+id+"/tags", url.Values{"tag": {"stolen"}, "op": {"add"}})
		assert.Equal(t, http.StatusNotFound, code, "tags %s", id)
	}
	r1, err := e.a.Store().Get(context.Background(), "r1", nil)
	require.NoError(t, err)
	assert.Empty(t, r1.Notes)
	assert.Empty(t, r1.Tags)
	assert.True(t, auditHas(t, e.a, archive.AuditEntry{User: "osaka", Action: archive.ActionDenied, Target: "r1"}))

	// Search never lists another line's recording, even by its number.
	_, body = osaka.get("/?number=0312345678")
	assert.NotContains(t, body, "/calls/r1")
	_, body = osaka.get("/")
	assert.Contains(t, body, "/calls/r3")
	assert.NotContains(t, body, "/calls/r2")

	// Admin-only routes.
	for _, p := range []string{"/admin/users", "/admin/retention", "/admin/audit", "/admin/audit.csv"} {
		code, _ := osaka.get(p)
		assert.Equal(t, http.StatusForbidden, code, p)
	}
	code, _ = osaka.post("/calls/r3/hold", url.Values{"hold": {"1"}})
	assert.Equal(t, http.StatusForbidden, code)
	code, _ = osaka.post("/calls/r3/delete", url.Values{})
	assert.Equal(t, http.StatusForbidden, code)

	sv := e.client(t, "")
	require.Equal(t, http.StatusSeeOther, sv.login("sv", testPassword))
	_, body = sv.get("/?number=3333")
	assert.Contains(t, body, "/calls/r2")
	code, _ = sv.get("/calls/r1/download")
	assert.Equal(t, http.StatusOK, code)
	code, _ = sv.get("/admin/users")
	assert.Equal(t, http.StatusForbidden, code)

	// Not logged in: pages redirect to the login, posts are refused.
	anon := e.client(t, "")
	code, _ = anon.get("/calls/r3/audio")
	assert.Equal(t, http.StatusSeeOther, code)
	code, _ = anon.post("/calls/r3/notes", url.Values{"notes": {"x"}, "csrf": {"x"}})
	assert.Equal(t, http.StatusForbidden, code)
}

// TestWebCSRFAndCookies: state-changing requests need the session's CSRF
// token; the session cookie is HttpOnly, SameSite=Lax and Secure unless
// configured off.
func TestWebCSRFAndCookies(t *testing.T) {
	e := newWebEnv(t, archive.WebConfig{})
	c := e.client(t, "")
	require.Equal(t, http.StatusSeeOther, c.login("tokyo", testPassword))
	for _, tok := range []string{"", "00", strings.Repeat("0", 64)} {
		code, _, _ := c.do(http.MethodPost, "/calls/r1/notes", url.Values{"notes": {"forged"}, "csrf": {tok}})
		assert.Equal(t, http.StatusForbidden, code, "csrf %q", tok)
	}
	code, _, _ := c.do(http.MethodPost, "/logout", url.Values{})
	assert.Equal(t, http.StatusForbidden, code, "logout without token")
	r1, err := e.a.Store().Get(context.Background(), "r1", nil)
	require.NoError(t, err)
	assert.Empty(t, r1.Notes)
	code, _ = c.post("/calls/r1/notes", url.Values{"notes": {"customer disputes the price"}})
	assert.Equal(t, http.StatusSeeOther, code)
	r1, _ = e.a.Store().Get(context.Background(), "r1", nil)
	assert.Equal(t, "customer disputes the price", r1.Notes)

	// A login form post without the login token is refused.
	anon := e.client(t, "")
	code, _, _ = anon.do(http.MethodPost, "/login", url.Values{"user": {"tokyo"}, "password": {testPassword}})
	assert.Equal(t, http.StatusForbidden, code)

	// Cookie attributes, with Secure on (the default).
	a := e.a
	web, err := a.Web(archive.WebConfig{})
	require.NoError(t, err)
	secure := &webEnv{a: a, srv: newServer(t, web)}
	sc := secure.client(t, "")
	code, body := sc.get("/login")
	require.Equal(t, http.StatusOK, code)
	tok := csrfRE.FindStringSubmatch(body)[1]
	code, _, hdr := sc.do(http.MethodPost, "/login", url.Values{"csrf": {tok}, "user": {"tokyo"}, "password": {testPassword}},
		"Cookie", "callrec_login_csrf="+tok)
	require.Equal(t, http.StatusSeeOther, code)
	var session string
	for _, sc := range hdr.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "callrec_session=") {
			session = sc
		}
	}
	require.NotEmpty(t, session)
	assert.Contains(t, session, "HttpOnly")
	assert.Contains(t, session, "Secure")
	assert.Contains(t, session, "SameSite=Lax")
}

// TestWebLoginRateLimit: after 5 failures for one user from one address,
// even the right password is refused from there, while another loopback
// address and another user are not affected.
func TestWebLoginRateLimit(t *testing.T) {
	e := newWebEnv(t, archive.WebConfig{})
	c := e.client(t, "127.0.0.1")
	for range 5 {
		assert.Equal(t, http.StatusUnauthorized, c.login("tokyo", "wrong password"))
	}
	assert.Equal(t, http.StatusTooManyRequests, c.login("tokyo", testPassword))
	assert.Equal(t, http.StatusSeeOther, c.login("osaka", testPassword), "another user from the same source")
	other := e.client(t, "127.0.0.2")
	assert.Equal(t, http.StatusSeeOther, other.login("tokyo", testPassword), "the same user from another source")
	assert.True(t, auditHas(t, e.a, archive.AuditEntry{User: "tokyo", Action: archive.ActionLoginFailed, Remote: "127.0.0.1", Detail: "rate limited"}))
	assert.True(t, auditHas(t, e.a, archive.AuditEntry{User: "tokyo", Action: archive.ActionLogin, Remote: "127.0.0.2"}))
}

// TestWebAudit: every access and change is in the audit trail with who,
// what and from where; the admin browses it and exports CSV; the table
// refuses updates and deletes.
func TestWebAudit(t *testing.T) {
	e := newWebEnv(t, archive.WebConfig{})
	c := e.client(t, "")
	require.Equal(t, http.StatusUnauthorized, c.login("tokyo", "nope nope"))
	require.Equal(t, http.StatusSeeOther, c.login("tokyo", testPassword))
	c.get("/calls/r1")
	c.get("/calls/r1/audio", "Range", "bytes=0-")
	c.get("/calls/r1/audio", "Range", "bytes=1000-")
	c.get("/calls/r1/download")
	c.post("/calls/r1/tags", url.Values{"tag": {"dispute"}, "op": {"add"}})
	c.post("/calls/r1/tags", url.Values{"tag": {"dispute"}, "op": {"remove"}})
	c.post("/calls/r1/notes", url.Values{"notes": {"called back"}})

	adm := e.client(t, "")
	require.Equal(t, http.StatusSeeOther, adm.login("admin", testPassword))
	code, _ := adm.post("/calls/r2/hold", url.Values{"hold": {"1"}})
	require.Equal(t, http.StatusSeeOther, code)
	code, _ = adm.post("/calls/r2/delete", url.Values{})
	assert.Equal(t, http.StatusBadRequest, code, "a held recording is not deleted")
	code, _ = adm.post("/calls/r3/delete", url.Values{})
	require.Equal(t, http.StatusSeeOther, code)
	code, _ = adm.post("/admin/retention", url.Values{"op": {"set"}, "days": {"30"}})
	require.Equal(t, http.StatusSeeOther, code)
	code, _ = adm.post("/admin/users", url.Values{"op": {"set"}, "name": {"nagoya"}, "role": {"agent"}, "lines": {"052-000-0000"}, "password": {"another pass"}})
	require.Equal(t, http.StatusSeeOther, code)

	for _, want := range []archive.AuditEntry{
		{User: "tokyo", Action: archive.ActionLoginFailed, Remote: "127.0.0.1"},
		{User: "tokyo", Action: archive.ActionLogin, Remote: "127.0.0.1"},
		{User: "tokyo", Action: archive.ActionView, Target: "r1", Remote: "127.0.0.1"},
		{User: "tokyo", Action: archive.ActionPlay, Target: "r1"},
		{User: "tokyo", Action: archive.ActionDownload, Target: "r1"},
		{User: "tokyo", Action: archive.ActionTagAdd, Target: "r1", Detail: "dispute"},
		{User: "tokyo", Action: archive.ActionTagRemove, Target: "r1", Detail: "dispute"},
		{User: "tokyo", Action: archive.ActionNote, Target: "r1", Detail: "called back"},
		{User: "admin", Action: archive.ActionHold, Target: "r2"},
		{User: "admin", Action: archive.ActionDelete, Target: "r3"},
		{User: "admin", Action: archive.ActionRetentionSet, Target: "*", Detail: "30 days"},
		{User: "admin", Action: archive.ActionUserSet, Target: "nagoya", Detail: "role=agent"},
	} {
		assert.True(t, auditHas(t, e.a, want), "audit %+v", want)
	}
	plays, _, err := e.a.AuditLog(context.Background(), archive.AuditQuery{Action: archive.ActionPlay, PageSize: -1})
	require.NoError(t, err)
	assert.Len(t, plays, 1, "a seek within the file is not another play")
	assert.False(t, auditHas(t, e.a, archive.AuditEntry{Action: archive.ActionUserSet, Detail: "another pass"}), "no password in the audit")

	code, body := adm.get("/admin/audit?user=tokyo")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "tag_add")
	assert.NotContains(t, body, ">hold<")
	code, body, hdr := adm.do(http.MethodGet, "/admin/audit.csv?action=download", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "text/csv; charset=utf-8", hdr.Get("Content-Type"))
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, []string{"seq", "time", "user", "action", "target", "remote", "detail"}, rows[0])
	assert.Equal(t, []string{"tokyo", "download", "r1", "127.0.0.1"}, rows[1][2:6])

	require.Error(t, archive.ExecSQL(e.a, "UPDATE audit SET user = 'nobody'"))
	require.Error(t, archive.ExecSQL(e.a, "DELETE FROM audit"))
	assert.True(t, auditHas(t, e.a, archive.AuditEntry{User: "tokyo", Action: archive.ActionDownload}))
}

// TestWebPages: the pages render in Japanese by default and in English
// after the language switch; the call page shows the metadata and player.
func TestWebPages(t *testing.T) {
	e := newWebEnv(t, archive.WebConfig{})
	c := e.client(t, "")
	_, body := c.get("/login")
	assert.Contains(t, body, "ログイン")
	require.Equal(t, http.StatusSeeOther, c.login("tokyo", testPassword))
	require.NoError(t, e.a.Verify(context.Background(), mustGet(t, e.a, "r1")))
	code, body := c.get("/calls/r1")
	require.Equal(t, http.StatusOK, code)
	for _, s := range []string{"課金開始", "2026-11-23 09:00:01", "ann-1", "0:03", `id="channels">2<`, `id="verified"`,
		`src="/calls/r1/audio"`, `id="mute-0"`, `id="solo-1"`, `value="0.75"`, `value="2"`, `/calls/r1/download`, `name="csrf"`} {
		assert.Contains(t, body, s)
	}
	code, _, hdr := c.do(http.MethodGet, "/lang?to=en&back=/calls/r1", nil)
	require.Equal(t, http.StatusSeeOther, code)
	assert.Equal(t, "/calls/r1", hdr.Get("Location"))
	_, body = c.get("/calls/r1")
	assert.Contains(t, body, "Billing start (announcement start)")
	code, _, hdr = c.do(http.MethodGet, "/lang?to=ja&back=//evil.example/", nil)
	require.Equal(t, http.StatusSeeOther, code)
	assert.Equal(t, "/", hdr.Get("Location"), "no open redirect")

	_, body = c.get("/?number=0312&page=0")
	assert.Contains(t, body, "/calls/r2")
	code, _ = c.get("/?from=yesterday")
	assert.Equal(t, http.StatusBadRequest, code)
	code, _ = c.get("/static/player.js")
	assert.Equal(t, http.StatusOK, code)
}

func mustGet(t testing.TB, a *archive.Archive, id string) archive.Recording {
	t.Helper()
	r, err := a.Store().Get(context.Background(), id, nil)
	require.NoError(t, err)
	return r
}

// mainOf returns the <main> part of a page.
func mainOf(page string) string {
	_, s, _ := strings.Cut(page, "<main>")
	s, _, _ = strings.Cut(s, "</main>")
	return s
}

// TestWebHoldAndRetention: an admin puts a search result under legal hold
// over HTTP and runs retention from the admin page; the held recording
// stays, the others go, and everything is audited.
func TestWebHoldAndRetention(t *testing.T) {
	_, err := newArchive(t).Web(archive.WebConfig{Lang: "fr"})
	require.ErrorIs(t, err, archive.ErrInvalidConfig)

	e := newWebEnv(t, archive.WebConfig{Lang: archive.LangEnglish})
	adm := e.client(t, "")
	require.Equal(t, http.StatusSeeOther, adm.login("admin", testPassword))
	_, body := adm.get("/?number=3333")
	assert.Contains(t, body, "Put every result of this search under legal hold", "English by configuration")
	code, _ := adm.post("/hold", url.Values{"query": {"number=3333"}, "hold": {"1"}})
	require.Equal(t, http.StatusSeeOther, code)
	assert.True(t, mustGet(t, e.a, "r2").Hold)
	assert.False(t, mustGet(t, e.a, "r1").Hold)
	assert.True(t, auditHas(t, e.a, archive.AuditEntry{User: "admin", Action: archive.ActionHold, Target: "r2", Detail: "number=3333"}))

	// The fixtures are from 23–24 Nov 2026; one day of retention expires
	// them all by the time this runs.
	code, _ = adm.post("/admin/retention", url.Values{"op": {"set"}, "days": {"1"}})
	require.Equal(t, http.StatusSeeOther, code)
	code, body, hdr := adm.do(http.MethodPost, "/admin/retention", url.Values{"op": {"run"}, "csrf": {adm.csrf}})
	require.Equal(t, http.StatusSeeOther, code, body)
	assert.Equal(t, "/admin/retention?deleted=2", hdr.Get("Location"))
	n, err := e.a.Store().Count(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n, "only the held recording is left")
	assert.True(t, auditHas(t, e.a, archive.AuditEntry{User: archive.SystemUser, Action: archive.ActionDelete, Target: "r1"}))
	assert.True(t, auditHas(t, e.a, archive.AuditEntry{User: "admin", Action: archive.ActionRetentionRun, Detail: "deleted 2"}))
	_, body = adm.get("/admin/retention?deleted=2")
	assert.Contains(t, body, `id="deleted"`)

	// Users page: create, then delete an agent.
	code, _ = adm.post("/admin/users", url.Values{"op": {"set"}, "name": {"kobe"}, "role": {"agent"}, "lines": {"078-000-0000"}, "password": {"kobe password"}})
	require.Equal(t, http.StatusSeeOther, code)
	_, body = adm.get("/admin/users")
	assert.Contains(t, body, "0780000000")
	code, _ = adm.post("/admin/users", url.Values{"op": {"set"}, "name": {"bad name"}, "role": {"agent"}, "password": {"kobe password"}})
	assert.Equal(t, http.StatusBadRequest, code)
	code, _ = adm.post("/admin/users", url.Values{"op": {"delete"}, "name": {"kobe"}})
	require.Equal(t, http.StatusSeeOther, code)
	code, _ = adm.post("/admin/users", url.Values{"op": {"delete"}, "name": {"admin"}})
	assert.Equal(t, http.StatusBadRequest, code, "an admin cannot delete themself")
	assert.True(t, auditHas(t, e.a, archive.AuditEntry{User: "admin", Action: archive.ActionUserDelete, Target: "kobe"}))
}

// TestWebSearchListsTags: the result list shows each recording's tags,
// escaped, each a link to the search by that tag.
func TestWebSearchListsTags(t *testing.T) {
	e := newWebEnv(t, archive.WebConfig{})
	ctx := context.Background()
	require.NoError(t, e.a.Store().AddTag(ctx, "r1", "dispute"))
	require.NoError(t, e.a.Store().AddTag(ctx, "r1", `<b>&"x"`))
	c := e.client(t, "")
	require.Equal(t, http.StatusSeeOther, c.login("tokyo", testPassword))
	code, body := c.get("/")
	require.Equal(t, http.StatusOK, code)
	main := mainOf(body)
	assert.Contains(t, main, `<a class="tag" href="/?tag=dispute">dispute</a>`)
	assert.Contains(t, main, `<a class="tag" href="/?tag=%3cb%3e%26%22x%22">&lt;b&gt;&amp;&#34;x&#34;</a>`)
	assert.NotContains(t, main, `<b>&`)
	code, body = c.get("/?tag=dispute")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, mainOf(body), "/calls/r1")
	assert.NotContains(t, mainOf(body), "/calls/r2")
}
