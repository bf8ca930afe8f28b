package sqlserver

import (
	"errors"
	"fmt"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// TestMissingErrors: the errors by which SQL Server says that the mirror's database, schema or a table
// does not exist are dialect.ErrMissing, and no other error is.
func TestMissingErrors(t *testing.T) {
	for number, missing := range map[int32]bool{4060: true, 911: true, 208: true, 2760: true, 2627: false, 1205: false} {
		err := mapError(mssql.Error{Number: number, Message: "x"})
		if errors.Is(err, dialect.ErrMissing) != missing {
			t.Errorf("error %d: ErrMissing is %v, want %v", number, errors.Is(err, dialect.ErrMissing), missing)
		}
	}
}

// TestLoginToAMissingDatabaseIsMissing: an Open with NoCreate of a mirror whose database does not
// exist connects to it and nothing else (never to master), and SQL Server refuses the login with 4060
// followed by 18456, which go-mssqldb returns as one error whose number is the last one's (18456):
// that must still be ErrMissing, for the engine to say that the tenant has no mirror. A login refused
// for a wrong password alone (18456) is not.
func TestLoginToAMissingDatabaseIsMissing(t *testing.T) {
	cannotOpen := mssql.Error{Number: 4060, Class: 11, Message: `Cannot open database "crm_typo" requested by the login. The login failed.`}
	loginFailed := mssql.Error{Number: 18456, Class: 14, Message: "Login failed for user 'mirror'."}
	login := loginFailed
	login.All = []mssql.Error{cannotOpen, loginFailed}
	err := mapError(fmt.Errorf("waiting for a connection slot: %w", login))
	if !errors.Is(err, dialect.ErrMissing) {
		t.Fatalf("the login to a missing database: %v, want ErrMissing", err)
	}
	wrongPassword := loginFailed
	wrongPassword.All = []mssql.Error{loginFailed}
	if err := mapError(wrongPassword); errors.Is(err, dialect.ErrMissing) {
		t.Fatalf("a login refused for its password is ErrMissing: %v", err)
	}
}
