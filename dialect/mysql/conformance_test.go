package mysql_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mirrorsink/mirrorsink/dialect/conformance"
	_ "github.com/mirrorsink/mirrorsink/dialect/mysql"
	"github.com/mirrorsink/mirrorsink/engine"
	"github.com/mirrorsink/mirrorsink/internal/testenv"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// TestConformance runs the shared suite with each tenant in a database of its own, created on first use.
func TestConformance(t *testing.T) {
	cfg, err := mysql.ParseDSN(testenv.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = "mirrorsink_c_{ctx}" // FormatDSN escapes the braces; the engine reads either spelling
	template := cfg.FormatDSN()
	conformance.Run(t, conformance.Target{
		Dialect: "mysql",
		Route: func(t *testing.T, tenant string) engine.Route {
			t.Cleanup(func() {
				admin := cfg.Clone()
				admin.DBName = ""
				db, err := sql.Open("mysql", admin.FormatDSN())
				if err != nil {
					t.Errorf("cleanup: %v", err)
					return
				}
				defer db.Close()
				if _, err := db.Exec("DROP DATABASE IF EXISTS `mirrorsink_c_" + tenant + "`"); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			})
			return engine.Route{Dialect: "mysql", DSN: template}
		},
		Canon:      canonMySQL,
		TimeDigits: 6,
		MinYear:    1000,
	})
}

// canonMySQL maps what the driver scans into *any (binary protocol, parseTime) to canonical text.
func canonMySQL(col typemap.Column, v any) (string, error) {
	k := col.Type.Kind
	switch x := v.(type) {
	case int64:
		return fmt.Sprint(x), nil
	case uint64:
		return fmt.Sprint(x), nil
	case float32:
		return conformance.CanonFloat(float64(x), 32), nil
	case float64:
		if k == typemap.Real {
			return conformance.CanonFloat(float64(float32(x)), 32), nil
		}
		return conformance.CanonFloat(x, 64), nil
	case time.Time:
		if k == typemap.Date {
			return conformance.CanonDate(x), nil
		}
		return conformance.CanonTime(x.UTC()), nil
	case []byte:
		switch k {
		case typemap.Decimal, typemap.Money, typemap.SmallMoney:
			return conformance.NormalizeDecimal(string(x)), nil
		case typemap.Time:
			return canonTime(string(x))
		case typemap.Char, typemap.NChar:
			return strings.TrimRight(string(x), " "), nil
		case typemap.Binary, typemap.VarBinary, typemap.Image, typemap.RowVersion:
			return conformance.CanonBytes(x), nil
		}
		return string(x), nil
	case string:
		return x, nil
	}
	return "", fmt.Errorf("unexpected %T for %s", v, col.Name)
}

// canonTime turns MySQL's "HH:MM:SS[.ffffff]" into canonical time-of-day text.
func canonTime(s string) (string, error) {
	var h, m, sec int
	frac := ""
	main, f, ok := strings.Cut(s, ".")
	if ok {
		frac = f
	}
	if _, err := fmt.Sscanf(main, "%d:%d:%d", &h, &m, &sec); err != nil {
		return "", fmt.Errorf("time %q: %w", s, err)
	}
	ns := int64(0)
	frac = (frac + "000000000")[:9]
	if _, err := fmt.Sscanf(frac, "%d", &ns); err != nil {
		return "", fmt.Errorf("time %q: %w", s, err)
	}
	return conformance.CanonTimeOfDay(((int64(h)*60+int64(m))*60+int64(sec))*1e9 + ns), nil
}
