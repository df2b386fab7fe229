package archive

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

type loginData struct {
	Next, Name, LoginCSRF string
}

func (w *Web) loginPage(rw http.ResponseWriter, hr *http.Request) {
	w.showLogin(rw, &request{Request: hr, lang: w.lang(hr), remote: remoteAddr(hr)}, http.StatusOK, "", "")
}

// showLogin renders the login form with a fresh login CSRF token, kept in
// a cookie and echoed by the form (double submit): there is no session
// yet to hold it.
func (w *Web) showLogin(rw http.ResponseWriter, r *request, code int, name, msg string) {
	tok, err := randomToken()
	if err != nil {
		w.fail(rw, r, http.StatusInternalServerError, "error")
		return
	}
	http.SetCookie(rw, &http.Cookie{Name: loginCSRFCookie, Value: tok, Path: "/login", HttpOnly: true,
		Secure: !w.cfg.InsecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	w.render(rw, r, code, "login", struct {
		loginData
		Msg string
	}{loginData{Next: localPath(r.URL.Query().Get("next")), Name: name, LoginCSRF: tok}, msg})
}

func (w *Web) login(rw http.ResponseWriter, hr *http.Request) {
	hr.Body = http.MaxBytesReader(rw, hr.Body, maxFormBytes)
	r := &request{Request: hr, lang: w.lang(hr), remote: remoteAddr(hr)}
	c, err := hr.Cookie(loginCSRFCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(hr.PostFormValue(csrfField))) != 1 {
		w.fail(rw, r, http.StatusForbidden, "forbidden")
		return
	}
	name, pw := strings.TrimSpace(hr.PostFormValue("user")), hr.PostFormValue("password")
	entry := AuditEntry{User: name, Remote: r.remote}
	key := name + "\x00" + r.remote
	now := w.a.cfg.Now()
	if !w.limiter.allowed(key, now) {
		entry.Action, entry.Detail = ActionLoginFailed, "rate limited"
		w.a.Audit(hr.Context(), entry)
		w.showLogin(rw, r, http.StatusTooManyRequests, name, "rate_limited")
		return
	}
	u, err := w.a.Authenticate(hr.Context(), name, pw)
	if err != nil {
		entry.Action, entry.Detail = ActionLoginFailed, "bad credentials"
		if !errors.Is(err, ErrBadCredentials) {
			entry.Detail = err.Error()
		}
		w.limiter.failed(key, now)
		w.a.Audit(hr.Context(), entry)
		w.showLogin(rw, r, http.StatusUnauthorized, name, "login_failed")
		return
	}
	w.limiter.reset(key)
	s, err := w.a.NewSession(hr.Context(), u, w.cfg.SessionTTL)
	if err != nil {
		w.log.Error("new session", "error", err)
		w.fail(rw, r, http.StatusInternalServerError, "error")
		return
	}
	entry.Action = ActionLogin
	if err := w.a.Audit(hr.Context(), entry); err != nil {
		w.log.Error("audit", "error", err)
	}
	http.SetCookie(rw, &http.Cookie{Name: sessionCookie, Value: s.Token, Path: "/", Expires: s.Expires,
		HttpOnly: true, Secure: !w.cfg.InsecureCookies, SameSite: http.SameSiteLaxMode})
	http.SetCookie(rw, &http.Cookie{Name: loginCSRFCookie, Value: "", Path: "/login", MaxAge: -1})
	http.Redirect(rw, hr, localPath(hr.PostFormValue("next")), http.StatusSeeOther)
}

func (w *Web) logout(rw http.ResponseWriter, r *request) {
	if err := w.a.EndSession(r.Context(), r.sess.Token); err != nil {
		w.failErr(rw, r, err)
		return
	}
	w.audit(r, ActionLogout, r.sess.User.Name, "")
	http.SetCookie(rw, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: !w.cfg.InsecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(rw, r.Request, "/login", http.StatusSeeOther)
}

// parseQuery reads the search form; dates are days in the archive's time
// zone, To inclusive.
func (w *Web) parseQuery(form url.Values, u User) (Query, error) {
	q := Query{Number: strings.TrimSpace(form.Get("number")), Direction: form.Get("direction"),
		LineNumber: strings.TrimSpace(form.Get("line")), Tag: strings.TrimSpace(form.Get("tag")),
		Note: strings.TrimSpace(form.Get("note")), Lines: u.Visible()}
	if q.Direction != "" && q.Direction != "incoming" && q.Direction != "outgoing" {
		return q, fmt.Errorf("%w: direction %q", ErrInvalidQuery, q.Direction)
	}
	day := func(field string) (time.Time, error) {
		v := form.Get(field)
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.ParseInLocation("2006-01-02", v, w.a.cfg.Location)
		if err != nil {
			return t, fmt.Errorf("%w: %s %q", ErrInvalidQuery, field, v)
		}
		return t, nil
	}
	var err error
	if q.From, err = day("from"); err != nil {
		return q, err
	}
	if q.To, err = day("to"); err != nil {
		return q, err
	}
	if !q.To.IsZero() {
		q.To = q.To.AddDate(0, 0, 1)
	}
	secs := func(field string) (time.Duration, error) {
		v := form.Get(field)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 || n > 1e7 {
			return 0, fmt.Errorf("%w: %s %q", ErrInvalidQuery, field, v)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	if q.MinDuration, err = secs("min"); err != nil {
		return q, err
	}
	if q.MaxDuration, err = secs("max"); err != nil {
		return q, err
	}
	if p := form.Get("page"); p != "" {
		if q.Page, err = strconv.Atoi(p); err != nil || q.Page < 0 || q.Page > 1e6 {
			return q, fmt.Errorf("%w: page %q", ErrInvalidQuery, p)
		}
	}
	return q, nil
}

type searchData struct {
	Form        url.Values
	Page        Page
	PageNo      int
	Prev, Next  string
	QueryString string
	Searched    bool
}

func (w *Web) search(rw http.ResponseWriter, r *request) {
	form := r.URL.Query()
	q, err := w.parseQuery(form, r.user())
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	p, err := w.a.store.Search(r.Context(), q)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	form.Del("page")
	d := searchData{Form: form, Page: p, PageNo: q.Page + 1, QueryString: form.Encode(), Searched: len(form) > 0}
	if len(form) > 0 {
		w.audit(r, ActionSearch, "", form.Encode())
	}
	link := func(page int) string {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("page", strconv.Itoa(page))
		return "/?" + f.Encode()
	}
	if q.Page > 0 {
		d.Prev = link(q.Page - 1)
	}
	if p.More {
		d.Next = link(q.Page + 1)
	}
	w.render(rw, r, http.StatusOK, "search", d)
}

// recording loads the recording of the request's {id} as the user may see
// it; one on a line the user is not assigned to is not found, like one
// that does not exist, and the attempt is audited.
func (w *Web) recording(rw http.ResponseWriter, r *request) (Recording, bool) {
	id := r.PathValue("id")
	rec, err := w.a.store.Get(r.Context(), id, r.user().Visible())
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			w.audit(r, ActionDenied, id, "not found or not visible: "+r.Method+" "+r.URL.Path)
		}
		w.failErr(rw, r, err)
		return rec, false
	}
	return rec, true
}

type callData struct {
	Rec          Recording
	BillingStart time.Time
	Stereo       bool
	Speeds       []string
}

func (w *Web) call(rw http.ResponseWriter, r *request) {
	rec, ok := w.recording(rw, r)
	if !ok {
		return
	}
	w.audit(r, ActionView, rec.ID, "")
	w.render(rw, r, http.StatusOK, "call", callData{Rec: rec, BillingStart: rec.GuidanceStart,
		Stereo: rec.Channels == 2, Speeds: []string{"0.75", "1", "1.25", "1.5", "2"}})
}

func audioType(ext string) string {
	switch strings.ToLower(ext) {
	case ".wav":
		return "audio/wav"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// serveAudio serves the recording's audio with Range support.
func (w *Web) serveAudio(rw http.ResponseWriter, r *request, rec Recording, attachment bool) {
	f, err := os.Open(w.a.AudioFile(rec))
	if err != nil {
		w.failErr(rw, r, fmt.Errorf("archive: open audio %s: %w", rec.ID, err))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	ext := path.Ext(rec.AudioPath)
	rw.Header().Set("Content-Type", audioType(ext))
	if attachment {
		rw.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": rec.ID + ext}))
	}
	http.ServeContent(rw, r.Request, "", st.ModTime(), f)
}

func (w *Web) audio(rw http.ResponseWriter, r *request) {
	rec, ok := w.recording(rw, r)
	if !ok {
		return
	}
	// A player fetches the audio in many ranges; the one from the start
	// (or the whole file) is the play, the others are seeks and buffering.
	if rg := r.Header.Get("Range"); r.Method == http.MethodGet && (rg == "" || strings.HasPrefix(rg, "bytes=0-")) {
		w.audit(r, ActionPlay, rec.ID, rg)
	}
	w.serveAudio(rw, r, rec, false)
}

func (w *Web) download(rw http.ResponseWriter, r *request) {
	rec, ok := w.recording(rw, r)
	if !ok {
		return
	}
	w.audit(r, ActionDownload, rec.ID, "")
	w.serveAudio(rw, r, rec, true)
}

func (w *Web) waveform(rw http.ResponseWriter, r *request) {
	rec, ok := w.recording(rw, r)
	if !ok {
		return
	}
	png, err := w.a.WaveformPNG(rec)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	w.audit(r, ActionWaveform, rec.ID, "")
	rw.Header().Set("Content-Type", "image/png")
	rw.Write(png)
}

func (w *Web) backToCall(rw http.ResponseWriter, r *request, id string) {
	http.Redirect(rw, r.Request, "/calls/"+url.PathEscape(id), http.StatusSeeOther)
}

func (w *Web) notes(rw http.ResponseWriter, r *request) {
	rec, ok := w.recording(rw, r)
	if !ok {
		return
	}
	notes := r.PostFormValue("notes")
	if len(notes) > 16<<10 {
		w.fail(rw, r, http.StatusBadRequest, "bad_request")
		return
	}
	if err := w.a.store.SetNotes(r.Context(), rec.ID, notes); err != nil {
		w.failErr(rw, r, err)
		return
	}
	w.audit(r, ActionNote, rec.ID, notes)
	w.backToCall(rw, r, rec.ID)
}

func (w *Web) tags(rw http.ResponseWriter, r *request) {
	rec, ok := w.recording(rw, r)
	if !ok {
		return
	}
	tag := strings.TrimSpace(r.PostFormValue("tag"))
	var err error
	action := ActionTagAdd
	if r.PostFormValue("op") == "remove" {
		action, err = ActionTagRemove, w.a.store.RemoveTag(r.Context(), rec.ID, tag)
	} else {
		err = w.a.store.AddTag(r.Context(), rec.ID, tag)
	}
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	w.audit(r, action, rec.ID, tag)
	w.backToCall(rw, r, rec.ID)
}

func (w *Web) hold(rw http.ResponseWriter, r *request) {
	rec, ok := w.recording(rw, r)
	if !ok {
		return
	}
	on := r.PostFormValue("hold") == "1"
	if err := w.a.store.SetHold(r.Context(), rec.ID, on); err != nil {
		w.failErr(rw, r, err)
		return
	}
	action := ActionHold
	if !on {
		action = ActionRelease
	}
	w.audit(r, action, rec.ID, "")
	w.backToCall(rw, r, rec.ID)
}

func (w *Web) deleteCall(rw http.ResponseWriter, r *request) {
	rec, ok := w.recording(rw, r)
	if !ok {
		return
	}
	if err := w.a.Delete(r.Context(), rec.ID, r.user().Name, r.remote, "deleted by user"); err != nil {
		w.failErr(rw, r, err)
		return
	}
	http.Redirect(rw, r.Request, "/", http.StatusSeeOther)
}

// holdSearch sets or clears the hold of every result of the search whose
// parameters the form carries.
func (w *Web) holdSearch(rw http.ResponseWriter, r *request) {
	form, err := url.ParseQuery(r.PostFormValue("query"))
	if err != nil {
		w.fail(rw, r, http.StatusBadRequest, "bad_request")
		return
	}
	q, err := w.parseQuery(form, r.user())
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	on := r.PostFormValue("hold") == "1"
	ids, err := w.a.HoldSearch(r.Context(), q, on)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	action := ActionHold
	if !on {
		action = ActionRelease
	}
	for _, id := range ids {
		w.audit(r, action, id, "search: "+form.Encode())
	}
	http.Redirect(rw, r.Request, "/?"+form.Encode(), http.StatusSeeOther)
}

func (w *Web) usersPage(rw http.ResponseWriter, r *request) {
	us, err := w.a.Users(r.Context())
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "users", struct {
		Users []User
		Roles []Role
	}{us, []Role{RoleAgent, RoleSupervisor, RoleAdmin}})
}

func (w *Web) saveUser(rw http.ResponseWriter, r *request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if r.PostFormValue("op") == "delete" {
		if name == r.user().Name {
			w.fail(rw, r, http.StatusBadRequest, "bad_request")
			return
		}
		if err := w.a.DeleteUser(r.Context(), name); err != nil {
			w.failErr(rw, r, err)
			return
		}
		w.audit(r, ActionUserDelete, name, "")
	} else {
		lines := strings.FieldsFunc(r.PostFormValue("lines"), func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '、' })
		u := User{Name: name, Role: Role(r.PostFormValue("role")), Lines: lines}
		if err := w.a.SetUser(r.Context(), u, r.PostFormValue("password")); err != nil {
			w.failErr(rw, r, err)
			return
		}
		detail := "role=" + string(u.Role) + " lines=" + strings.Join(lines, ",")
		if r.PostFormValue("password") != "" {
			detail += " password changed"
		}
		w.audit(r, ActionUserSet, name, detail)
	}
	http.Redirect(rw, r.Request, "/admin/users", http.StatusSeeOther)
}

func (w *Web) retentionPage(rw http.ResponseWriter, r *request) {
	ret, err := w.a.Retention(r.Context())
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "retention", struct {
		Retention Retention
		Deleted   string
	}{ret, r.URL.Query().Get("deleted")})
}

func (w *Web) saveRetention(rw http.ResponseWriter, r *request) {
	if r.PostFormValue("op") == "run" {
		ids, err := w.a.ApplyRetention(r.Context(), w.a.cfg.Now())
		w.audit(r, ActionRetentionRun, "", fmt.Sprintf("manual run: deleted %d", len(ids)))
		if err != nil {
			w.failErr(rw, r, err)
			return
		}
		http.Redirect(rw, r.Request, "/admin/retention?deleted="+strconv.Itoa(len(ids)), http.StatusSeeOther)
		return
	}
	line := strings.TrimSpace(r.PostFormValue("line"))
	days, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("days")))
	if err != nil || days > 100*366 {
		w.fail(rw, r, http.StatusBadRequest, "bad_request")
		return
	}
	if err := w.a.SetRetention(r.Context(), line, days); err != nil {
		w.failErr(rw, r, err)
		return
	}
	target := line
	if target == "" {
		target = globalLine
	}
	w.audit(r, ActionRetentionSet, target, strconv.Itoa(days)+" days")
	http.Redirect(rw, r.Request, "/admin/retention", http.StatusSeeOther)
}

func (w *Web) auditQuery(form url.Values) (AuditQuery, error) {
	q := AuditQuery{User: form.Get("user"), Action: form.Get("action"), Target: form.Get("target")}
	for _, f := range []struct {
		name string
		t    *time.Time
		add  int
	}{{"from", &q.From, 0}, {"to", &q.To, 1}} {
		if v := form.Get(f.name); v != "" {
			t, err := time.ParseInLocation("2006-01-02", v, w.a.cfg.Location)
			if err != nil {
				return q, fmt.Errorf("%w: %s %q", ErrInvalidQuery, f.name, v)
			}
			*f.t = t.AddDate(0, 0, f.add)
		}
	}
	if p := form.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return q, fmt.Errorf("%w: page %q", ErrInvalidQuery, p)
		}
		q.Page = n
	}
	return q, nil
}

func (w *Web) auditPage(rw http.ResponseWriter, r *request) {
	form := r.URL.Query()
	q, err := w.auditQuery(form)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	es, more, err := w.a.AuditLog(r.Context(), q)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	form.Del("page")
	d := struct {
		Entries     []AuditEntry
		Form        url.Values
		QueryString string
		Prev, Next  string
	}{Entries: es, Form: form, QueryString: form.Encode()}
	link := func(p int) string {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("page", strconv.Itoa(p))
		return "/admin/audit?" + f.Encode()
	}
	if q.Page > 0 {
		d.Prev = link(q.Page - 1)
	}
	if more {
		d.Next = link(q.Page + 1)
	}
	w.render(rw, r, http.StatusOK, "audit", d)
}

func (w *Web) auditCSV(rw http.ResponseWriter, r *request) {
	q, err := w.auditQuery(r.URL.Query())
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	q.PageSize = -1
	es, _, err := w.a.AuditLog(r.Context(), q)
	if err != nil {
		w.failErr(rw, r, err)
		return
	}
	w.audit(r, ActionAuditExport, "", r.URL.RawQuery)
	rw.Header().Set("Content-Type", "text/csv; charset=utf-8")
	rw.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "audit.csv"}))
	if err := WriteAuditCSV(rw, es, w.a.cfg.Location); err != nil {
		w.log.Error("audit csv", "error", err)
	}
}
