package sqlserver

import (
	"errors"
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
