package archive

import "errors"

// Errors returned by the archive. Callers branch on them with errors.Is.
var (
	// ErrInvalidConfig reports an unusable configuration field; the wrapping
	// error names it.
	ErrInvalidConfig = errors.New("archive: invalid config")
	// ErrNotFound reports a recording, user or session the archive does not
	// hold, or one the asking user may not see.
	ErrNotFound = errors.New("archive: not found")
	// ErrInvalidRecording reports a sidecar that cannot be indexed: bad ID,
	// extension or digest.
	ErrInvalidRecording = errors.New("archive: invalid recording")
	// ErrChecksumMismatch reports audio whose SHA-256 differs from the one
	// announced.
	ErrChecksumMismatch = errors.New("archive: audio sha256 mismatch")
	// ErrSchemaTooNew reports a database migrated by a newer archive.
	ErrSchemaTooNew = errors.New("archive: database schema is newer than this program")
	// ErrOnHold reports a deletion refused because the recording is under a
	// legal hold.
	ErrOnHold = errors.New("archive: recording is under legal hold")
	// ErrInvalidQuery reports a search parameter that cannot be parsed.
	ErrInvalidQuery = errors.New("archive: invalid query")
)

// Errors of the users, sessions and retention layer.
var (
	// ErrBadCredentials reports a login with an unknown user or a wrong
	// password; the two are not told apart.
	ErrBadCredentials = errors.New("archive: bad user name or password")
	// ErrRateLimited reports a login refused because too many attempts
	// failed for this user from this source recently.
	ErrRateLimited = errors.New("archive: too many failed logins")
	// ErrInvalidUser reports a user that cannot be saved: bad name, role,
	// line or password; the wrapping error says which.
	ErrInvalidUser = errors.New("archive: invalid user")
	// ErrForbidden reports an action the user's role does not allow.
	ErrForbidden = errors.New("archive: forbidden")
)
