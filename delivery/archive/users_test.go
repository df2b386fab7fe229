package archive_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery/archive"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// TestUsersAndSessions: users are validated, passwords hashed and checked,
// sessions expire and end when the password changes.
func TestUsersAndSessions(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, jst)
	a, err := archive.Open(context.Background(), archive.Config{Dir: filepath.Join(t.TempDir(), "rec"),
		PasswordCost: bcrypt.MinCost, Now: func() time.Time { return now }})
	require.NoError(t, err)
	defer a.Close()
	ctx := context.Background()
	for name, tc := range map[string]struct {
		u  archive.User
		pw string
	}{
		"bad name":       {archive.User{Name: "a b", Role: archive.RoleAgent}, testPassword},
		"bad role":       {archive.User{Name: "x", Role: "root"}, testPassword},
		"short password": {archive.User{Name: "x", Role: archive.RoleAgent}, "short"},
		"long password":  {archive.User{Name: "x", Role: archive.RoleAgent}, string(make([]byte, 73))},
		"line no digits": {archive.User{Name: "x", Role: archive.RoleAgent, Lines: []string{"abc"}}, testPassword},
		"new no pass":    {archive.User{Name: "x", Role: archive.RoleAgent}, ""},
	} {
		require.ErrorIs(t, a.SetUser(ctx, tc.u, tc.pw), archive.ErrInvalidUser, name)
	}
	require.NoError(t, a.SetUser(ctx, archive.User{Name: "ag", Role: archive.RoleAgent, Lines: []string{"+81 3-1234-5678", "０３１２３４５６７８"}}, testPassword))
	u, err := a.User(ctx, "ag")
	require.NoError(t, err)
	assert.Equal(t, []string{"0312345678"}, u.Lines, "lines normalised, duplicates dropped")
	assert.Equal(t, []string{"0312345678"}, u.Visible())
	assert.Nil(t, archive.User{Role: archive.RoleSupervisor}.Visible())
	assert.Equal(t, []string{}, archive.User{Role: archive.RoleAgent}.Visible(), "an agent without lines sees nothing")

	_, err = a.Authenticate(ctx, "ag", "wrong password")
	require.ErrorIs(t, err, archive.ErrBadCredentials)
	_, err = a.Authenticate(ctx, "nobody", testPassword)
	require.ErrorIs(t, err, archive.ErrBadCredentials)
	u, err = a.Authenticate(ctx, "ag", testPassword)
	require.NoError(t, err)

	s, err := a.NewSession(ctx, u, time.Hour)
	require.NoError(t, err)
	got, err := a.SessionFor(ctx, s.Token)
	require.NoError(t, err)
	assert.Equal(t, s.CSRF, got.CSRF)
	assert.Equal(t, "ag", got.User.Name)
	_, err = a.SessionFor(ctx, s.CSRF)
	require.ErrorIs(t, err, archive.ErrNotFound, "only the token opens the session")

	now = now.Add(2 * time.Hour)
	_, err = a.SessionFor(ctx, s.Token)
	require.ErrorIs(t, err, archive.ErrNotFound, "expired")

	s, err = a.NewSession(ctx, u, time.Hour)
	require.NoError(t, err)
	require.NoError(t, a.SetUser(ctx, archive.User{Name: "ag", Role: archive.RoleAgent}, "new password 2"))
	_, err = a.SessionFor(ctx, s.Token)
	require.ErrorIs(t, err, archive.ErrNotFound, "a password change ends sessions")
	require.NoError(t, a.DeleteUser(ctx, "ag"))
	require.ErrorIs(t, a.DeleteUser(ctx, "ag"), archive.ErrNotFound)
}
