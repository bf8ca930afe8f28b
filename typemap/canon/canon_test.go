package canon

import (
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/typemap"
)

func TestValue(t *testing.T) {
	typ := func(s string) typemap.Type {
		ty, err := typemap.ParseType(s)
		if err != nil {
			t.Fatal(err)
		}
		return ty
	}
	micro := Losses{MicroTime: true, NULReplaced: true}
	for _, c := range []struct {
		typ  string
		v    any
		l    Losses
		want string
	}{
		{"int", nil, Losses{}, Null},
		{"nvarchar(10)", "NULL", Losses{}, "NULL"},
		{"bit", true, Losses{}, "1"},
		{"bit", "f", Losses{}, "0"},
		{"decimal(10,4)", typemap.DecimalValue("-0012.3400"), Losses{}, "-12.34"},
		{"decimal(10,4)", "-0.000", Losses{}, "0"},
		{"real", 1.5, Losses{}, "1.5"},
		{"datetime2(7)", time.Date(2020, 5, 18, 10, 40, 43, 123456750, time.UTC), Losses{}, "2020-05-18 10:40:43.1234567"},
		{"datetime2(7)", time.Date(2020, 5, 18, 10, 40, 43, 123456500, time.UTC), micro, "2020-05-18 10:40:43.1234570"},
		{"datetimeoffset(7)", time.Date(2020, 5, 18, 10, 0, 0, 0, time.FixedZone("", 7200)), Losses{}, "2020-05-18 08:00:00.0000000"},
		{"char(5)", "ab   ", Losses{}, "ab"},
		{"nvarchar(10)", "a\x00b", micro, "a\uFFFDb"},
		{"binary(4)", []byte{1}, Losses{}, "01000000"},
		{"varbinary(4)", []byte{1}, Losses{}, "01"},
		{"uniqueidentifier", "{6F9619FF-8B86-D011-B42D-00C04FC964FF}", Losses{}, "6f9619ff-8b86-d011-b42d-00c04fc964ff"},
		{"geometry", "POLYGON ((0 0, 1 0,1 1,  0 0))", Losses{}, "POLYGON((0 0,1 0,1 1,0 0))"},
		{"geography", "POINT(10 59)", Losses{}, "POINT(10 59)"},
		{"geography", "GEOMETRYCOLLECTION EMPTY", Losses{}, "GEOMETRYCOLLECTION EMPTY"},
	} {
		got, err := Value(typ(c.typ), c.v, c.l)
		if err != nil || got != c.want {
			t.Errorf("Value(%s, %#v) = %q, %v; want %q", c.typ, c.v, got, err, c.want)
		}
	}
}
