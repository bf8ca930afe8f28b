package mysql

import (
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/mirrorsink/mirrorsink/dialect"
)

// TestMissingErrors: the errors by which MySQL says that the mirror's database or a table does not
// exist are dialect.ErrMissing, and no other error is.
func TestMissingErrors(t *testing.T) {
	for number, missing := range map[uint16]bool{1049: true, 1146: true, 1062: false, 1054: false} {
		err := mapError(fmt.Errorf("mysql: %w", &mysql.MySQLError{Number: number, Message: "x"}))
		if errors.Is(err, dialect.ErrMissing) != missing {
			t.Errorf("error %d: ErrMissing is %v, want %v", number, errors.Is(err, dialect.ErrMissing), missing)
		}
	}
}
