package sqlite_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	_ "github.com/mirrorsink/mirrorsink/dialect/sqlite"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/typemap"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Dialect: "sqlite",
		Route: func(t *testing.T, tenant string) engine.Route {
			return engine.Route{Dialect: "sqlite", DSN: filepath.Join(t.TempDir(), "{ctx}.db")}
		},
		Canon:      canonSQLite,
		TimeDigits: 7,
	})
}

// canonSQLite maps what modernc.org/sqlite returns for a column stored as TYPES.md says to the suite's
// canonical text.
func canonSQLite(col typemap.Column, v any) (string, error) {
	switch col.Type.Kind {
	case typemap.Float:
		f, ok := v.(float64)
		if !ok {
			return "", fmt.Errorf("float stored as %T", v)
		}
		return conformance.CanonFloat(f, 64), nil
	case typemap.Real:
		f, ok := v.(float64)
		if !ok {
			return "", fmt.Errorf("real stored as %T", v)
		}
		return conformance.CanonFloat(f, 32), nil
	case typemap.Decimal, typemap.Money, typemap.SmallMoney:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("decimal stored as %T (must be TEXT, never REAL)", v)
		}
		return conformance.NormalizeDecimal(s), nil
	case typemap.DateTimeOffset:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("datetimeoffset stored as %T", v)
		}
		at, err := time.Parse("2006-01-02 15:04:05.0000000-07:00", s)
		if err != nil {
			return "", err
		}
		return conformance.CanonTime(at.UTC()), nil
	case typemap.Char, typemap.NChar:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("char stored as %T", v)
		}
		return strings.TrimRight(s, " "), nil
	}
	switch x := v.(type) {
	case int64:
		return fmt.Sprint(x), nil
	case string:
		return x, nil
	case []byte:
		return conformance.CanonBytes(x), nil
	}
	return "", fmt.Errorf("unexpected %T", v)
}
