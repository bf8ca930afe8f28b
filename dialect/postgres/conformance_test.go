package postgres_test

import (
	"context"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	_ "github.com/mirrorsink/mirrorsink/dialect/postgres"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// TestConformanceSchemaPerTenant runs the suite with each tenant in a schema of the test database.
func TestConformanceSchemaPerTenant(t *testing.T) {
	dsn := testenv.Postgres(t)
	conformance.Run(t, target(func(t *testing.T, tenant string) engine.Route {
		t.Cleanup(func() { adminExec(t, dsn, "DROP SCHEMA IF EXISTS "+pgx.Identifier{tenant}.Sanitize()+" CASCADE") })
		return engine.Route{Dialect: "postgres", DSN: dsn, Schema: "{ctx}"}
	}))
}

// TestConformanceDatabasePerTenant runs the suite with each tenant in a database of its own, created on
// first use.
func TestConformanceDatabasePerTenant(t *testing.T) {
	dsn := testenv.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conformance.Run(t, target(func(t *testing.T, tenant string) engine.Route {
		db := "mirrorsink_" + tenant
		t.Cleanup(func() { adminExec(t, dsn, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)") })
		tu := *u
		tu.Path = "/mirrorsink_{ctx}" // net/url escapes the braces; the engine reads either spelling
		return engine.Route{Dialect: "postgres", DSN: tu.String()}
	}))
}

func target(route func(t *testing.T, tenant string) engine.Route) conformance.Target {
	return conformance.Target{Dialect: "postgres", Route: route, Canon: canonPostgres, TimeDigits: 6, ReplacesNUL: true}
}

func adminExec(t *testing.T, dsn, sql string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Errorf("cleanup %s: %v", sql, err)
	}
}

// canonPostgres maps what pgx scans into *any for each PostgreSQL type of TYPES.md to canonical text.
func canonPostgres(col typemap.Column, v any) (string, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	case int16, int32, int64:
		return fmt.Sprint(x), nil
	case float64:
		return conformance.CanonFloat(x, 64), nil
	case float32:
		return conformance.CanonFloat(float64(x), 32), nil
	case pgtype.Numeric:
		return numericText(x)
	case pgtype.Time:
		return conformance.CanonTimeOfDay(x.Microseconds * 1000), nil
	case time.Time:
		switch col.Type.Kind {
		case typemap.Date:
			return conformance.CanonDate(x), nil
		case typemap.DateTimeOffset:
			return conformance.CanonTime(x.UTC()), nil
		}
		return conformance.CanonTime(x), nil
	case string:
		if col.Type.Kind == typemap.Char || col.Type.Kind == typemap.NChar {
			return strings.TrimRight(x, " "), nil
		}
		return x, nil
	case []byte:
		return conformance.CanonBytes(x), nil
	case [16]byte:
		return typemap.UUID(x).String(), nil
	}
	return "", fmt.Errorf("unexpected %T", v)
}

// numericText renders a pgtype.Numeric exactly, without passing through float64.
func numericText(n pgtype.Numeric) (string, error) {
	if !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite {
		return "", fmt.Errorf("not a finite numeric: %+v", n)
	}
	digits := new(big.Int).Abs(n.Int).String()
	neg := n.Int.Sign() < 0
	exp := int(n.Exp)
	var s string
	switch {
	case exp >= 0:
		s = digits + strings.Repeat("0", exp)
	case -exp >= len(digits):
		s = "0." + strings.Repeat("0", -exp-len(digits)) + digits
	default:
		s = digits[:len(digits)+exp] + "." + digits[len(digits)+exp:]
	}
	if neg {
		s = "-" + s
	}
	return conformance.NormalizeDecimal(s), nil
}
