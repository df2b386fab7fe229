package archive

import (
	"database/sql"
	"fmt"
)

// SetUserVersion forces the schema version of the database at path.
func SetUserVersion(path string, v int) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v))
	return err
}

// ExecSQL runs q on the archive's database, for tests of its triggers.
func ExecSQL(a *Archive, q string) error {
	_, err := a.store.db.Exec(q)
	return err
}
