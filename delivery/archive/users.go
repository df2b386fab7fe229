package archive

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a user may do in the archive.
type Role string

// The roles, from most to least powerful.
const (
	// RoleAdmin manages users, retention and legal holds, reads the audit
	// trail, and sees every line.
	RoleAdmin Role = "admin"
	// RoleSupervisor sees and annotates the recordings of every line.
	RoleSupervisor Role = "supervisor"
	// RoleAgent sees and annotates only the recordings of the lines
	// assigned to the user.
	RoleAgent Role = "agent"
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleSupervisor || r == RoleAgent }

// User is an account of the archive's web UI.
type User struct {
	// Name is the login name: 1–64 letters, digits, '.', '_', '-' or '@'.
	Name string
	// Role decides what the user may do.
	Role Role
	// Lines are the line numbers (normalised) an agent may see; ignored
	// for the other roles.
	Lines []string
}

// Visible returns the lines the user may see as [Query.Lines] and
// [Store.Get] take them: nil (every line) for admins and supervisors, the
// assigned lines (never nil) for an agent.
func (u User) Visible() []string {
	if u.Role == RoleAgent {
		if u.Lines == nil {
			return []string{}
		}
		return u.Lines
	}
	return nil
}

func validUserName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-@", c)) {
			return false
		}
	}
	return true
}

// MinPasswordLength is the shortest password [Archive.SetUser] accepts.
const MinPasswordLength = 8

// checkPassword applies the rules bcrypt and this package put on passwords.
func checkPassword(pw string) error {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLength:
		return fmt.Errorf("%w: password shorter than %d characters", ErrInvalidUser, MinPasswordLength)
	case len(pw) > 72:
		return fmt.Errorf("%w: password longer than 72 bytes", ErrInvalidUser)
	}
	return nil
}

// SetUser creates or updates user u. A non-empty password replaces the
// user's password (hashed with bcrypt); a new user needs one. An agent's
// lines are normalised as the dial plan does.
func (a *Archive) SetUser(ctx context.Context, u User, password string) error {
	if !validUserName(u.Name) {
		return fmt.Errorf("%w: name %q", ErrInvalidUser, u.Name)
	}
	if !u.Role.Valid() {
		return fmt.Errorf("%w: role %q", ErrInvalidUser, u.Role)
	}
	var lines []string
	for _, l := range u.Lines {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		n := normalizeNumber(l)
		if n == "" {
			return fmt.Errorf("%w: line %q has no digits", ErrInvalidUser, l)
		}
		if !slices.Contains(lines, n) {
			lines = append(lines, n)
		}
	}
	if password == "" {
		res, err := a.store.db.ExecContext(ctx, "UPDATE users SET role = ?, lines = ? WHERE name = ?", string(u.Role), strings.Join(lines, ","), u.Name)
		if err != nil {
			return fmt.Errorf("archive: set user %s: %w", u.Name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: new user %q needs a password", ErrInvalidUser, u.Name)
		}
		return nil
	}
	if err := checkPassword(password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), a.cfg.PasswordCost)
	if err != nil {
		return fmt.Errorf("archive: hash password: %w", err)
	}
	_, err = a.store.db.ExecContext(ctx, `INSERT INTO users (name, hash, role, lines) VALUES (?,?,?,?)
		ON CONFLICT(name) DO UPDATE SET hash=excluded.hash, role=excluded.role, lines=excluded.lines`,
		u.Name, string(hash), string(u.Role), strings.Join(lines, ","))
	if err != nil {
		return fmt.Errorf("archive: set user %s: %w", u.Name, err)
	}
	// A changed password ends the sessions opened with the old one.
	if _, err := a.store.db.ExecContext(ctx, "DELETE FROM sessions WHERE user = ?", u.Name); err != nil {
		return fmt.Errorf("archive: set user %s: %w", u.Name, err)
	}
	return nil
}

// DeleteUser removes user name and ends their sessions.
func (a *Archive) DeleteUser(ctx context.Context, name string) error {
	res, err := a.store.db.ExecContext(ctx, "DELETE FROM users WHERE name = ?", name)
	if err != nil {
		return fmt.Errorf("archive: delete user %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	return nil
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// User returns the user name.
func (a *Archive) User(ctx context.Context, name string) (User, error) {
	u := User{Name: name}
	var role, lines string
	err := a.store.db.QueryRowContext(ctx, "SELECT role, lines FROM users WHERE name = ?", name).Scan(&role, &lines)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	u.Role, u.Lines = Role(role), splitLines(lines)
	return u, err
}

// Users returns every user, by name.
func (a *Archive) Users(ctx context.Context) ([]User, error) {
	rows, err := a.store.db.QueryContext(ctx, "SELECT name, role, lines FROM users ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		var u User
		var role, lines string
		if err := rows.Scan(&u.Name, &role, &lines); err != nil {
			return nil, err
		}
		u.Role, u.Lines = Role(role), splitLines(lines)
		us = append(us, u)
	}
	return us, rows.Err()
}

// Authenticate checks name's password. An unknown user costs the same
// bcrypt comparison as a known one, so that timing does not tell which
// names exist; both get [ErrBadCredentials].
func (a *Archive) Authenticate(ctx context.Context, name, password string) (User, error) {
	var hash, role, lines string
	err := a.store.db.QueryRowContext(ctx, "SELECT hash, role, lines FROM users WHERE name = ?", name).Scan(&hash, &role, &lines)
	if errors.Is(err, sql.ErrNoRows) {
		bcrypt.CompareHashAndPassword(a.dummyHash, []byte(password))
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("archive: authenticate: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return User{}, ErrBadCredentials
	}
	return User{Name: name, Role: Role(role), Lines: splitLines(lines)}, nil
}

// Session is a logged-in user's session.
type Session struct {
	// Token is the secret the session cookie carries; only its SHA-256 is
	// stored.
	Token string
	// CSRF is the token every state-changing form of the session carries.
	CSRF string
	// User is the session's user as of the request.
	User User
	// Expires is when the session ends.
	Expires time.Time
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func tokenKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// NewSession opens a session for u lasting ttl from now.
func (a *Archive) NewSession(ctx context.Context, u User, ttl time.Duration) (Session, error) {
	tok, err := randomToken()
	if err != nil {
		return Session{}, err
	}
	csrf, err := randomToken()
	if err != nil {
		return Session{}, err
	}
	now := a.cfg.Now()
	s := Session{Token: tok, CSRF: csrf, User: u, Expires: now.Add(ttl)}
	// Expired sessions are swept here, where sessions are written anyway.
	if _, err := a.store.db.ExecContext(ctx, "DELETE FROM sessions WHERE expires_ms <= ?", now.UnixMilli()); err != nil {
		return Session{}, fmt.Errorf("archive: new session: %w", err)
	}
	_, err = a.store.db.ExecContext(ctx, "INSERT INTO sessions (token, user, csrf, expires_ms) VALUES (?,?,?,?)",
		tokenKey(tok), u.Name, csrf, s.Expires.UnixMilli())
	if err != nil {
		return Session{}, fmt.Errorf("archive: new session: %w", err)
	}
	return s, nil
}

// SessionFor returns the live session whose cookie carries token, with its
// user as stored now; an unknown or expired token gives [ErrNotFound].
func (a *Archive) SessionFor(ctx context.Context, token string) (Session, error) {
	s := Session{Token: token}
	var exp int64
	var role, lines string
	err := a.store.db.QueryRowContext(ctx, `SELECT s.csrf, s.expires_ms, u.name, u.role, u.lines
		FROM sessions s JOIN users u ON u.name = s.user WHERE s.token = ?`, tokenKey(token)).
		Scan(&s.CSRF, &exp, &s.User.Name, &role, &lines)
	if errors.Is(err, sql.ErrNoRows) || err == nil && exp <= a.cfg.Now().UnixMilli() {
		return Session{}, fmt.Errorf("%w: session", ErrNotFound)
	}
	if err != nil {
		return Session{}, fmt.Errorf("archive: session: %w", err)
	}
	s.Expires = time.UnixMilli(exp)
	s.User.Role, s.User.Lines = Role(role), splitLines(lines)
	return s, nil
}

// EndSession deletes the session of token.
func (a *Archive) EndSession(ctx context.Context, token string) error {
	_, err := a.store.db.ExecContext(ctx, "DELETE FROM sessions WHERE token = ?", tokenKey(token))
	return err
}
