package sqlserver_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	"github.com/mirrorsink/mirrorsink/dialect/sqlserver"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// TestConformance runs the shared suite live, each tenant in a database of its own, when
// MIRRORSINK_TEST_SQLSERVER names a server; it skips with a message otherwise.
func TestConformance(t *testing.T) {
	dsn := testenv.SQLServer(t)
	base, err := msdsn.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	run := hex.EncodeToString(b)
	conformance.Run(t, conformance.Target{
		Dialect: "sqlserver",
		Route: func(t *testing.T, tenant string) engine.Route {
			cfg := base
			cfg.Database = "mirrorsink_c" + run + "_" + tenant
			t.Cleanup(func() { dropDatabase(t, base, cfg.Database) })
			return engine.Route{Dialect: "sqlserver", DSN: cfg.URL().String()}
		},
		Canon:      canonSQLServer,
		TimeDigits: 7,
		ReadExpr: func(quoted string, col typemap.Column) string {
			switch col.Type.Kind {
			case typemap.HierarchyID:
				return quoted + ".ToString()"
			case typemap.Geography, typemap.Geometry:
				return quoted + ".STAsText()"
			case typemap.SQLVariant:
				return "CAST(" + quoted + " AS nvarchar(4000))"
			case typemap.XML:
				return "CAST(" + quoted + " AS nvarchar(max))"
			case typemap.UniqueIdentifier, typemap.Time, typemap.DateTimeOffset, typemap.Decimal, typemap.Money, typemap.SmallMoney:
				// Text forms are exact and free of the driver's byte-order and time-zone conventions.
				return "CONVERT(nvarchar(100), " + quoted + ", 121)"
			}
			return quoted
		},
	})
}

func dropDatabase(t *testing.T, base msdsn.Config, name string) {
	master := base
	master.Database = "master"
	db := sql.OpenDB(mssql.NewConnectorConfig(master))
	defer db.Close()
	q, err := sqlserver.QuoteIdent(name)
	if err != nil {
		t.Error(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, "IF DB_ID(@p1) IS NOT NULL BEGIN ALTER DATABASE "+q+" SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE "+q+" END", name); err != nil {
		t.Errorf("drop %s: %v", name, err)
	}
}

// canonSQLServer maps what go-mssqldb scans into *any (and the text forms ReadExpr asks for) to the
// suite's canonical text.
func canonSQLServer(col typemap.Column, v any) (string, error) {
	k := col.Type.Kind
	switch x := v.(type) {
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	case int64:
		return fmt.Sprint(x), nil
	case float64:
		if k == typemap.Real {
			return conformance.CanonFloat(float64(float32(x)), 32), nil
		}
		return conformance.CanonFloat(x, 64), nil
	case time.Time:
		if k == typemap.Date {
			return conformance.CanonDate(x), nil
		}
		return conformance.CanonTime(x), nil
	case []byte:
		return conformance.CanonBytes(x), nil
	case string:
		switch k {
		case typemap.Decimal, typemap.Money, typemap.SmallMoney:
			return conformance.NormalizeDecimal(x), nil
		case typemap.UniqueIdentifier:
			return strings.ToLower(x), nil
		case typemap.Time:
			// CONVERT style 121 gives hh:mi:ss.fffffff.
			return x, nil
		case typemap.DateTimeOffset:
			at, err := time.Parse("2006-01-02 15:04:05.9999999 -07:00", x)
			if err != nil {
				return "", err
			}
			return conformance.CanonTime(at.UTC()), nil
		case typemap.Char, typemap.NChar:
			return strings.TrimRight(x, " "), nil
		case typemap.Geography, typemap.Geometry:
			// SQL Server writes WKT with a space before '(' and after ','; the suite sends it without.
			return strings.NewReplacer(" (", "(", ", ", ",").Replace(x), nil
		}
		return x, nil
	}
	return "", fmt.Errorf("unexpected %T", v)
}
