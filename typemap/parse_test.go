package typemap

import (
	"strings"
	"testing"

	"github.com/mirrorsink/mirrorsink/contract"
)

func TestParseType(t *testing.T) {
	tests := []struct {
		in   string
		want Type
		str  string
	}{
		{"bit", Type{Kind: Bit}, "bit"},
		{"tinyint", Type{Kind: TinyInt}, "tinyint"},
		{"smallint", Type{Kind: SmallInt}, "smallint"},
		{"int", Type{Kind: Int}, "int"},
		{"INT", Type{Kind: Int}, "int"},
		{"  Integer ", Type{Kind: Int}, "int"},
		{"bigint", Type{Kind: BigInt}, "bigint"},
		{"decimal", Type{Kind: Decimal, Precision: 18}, "decimal(18,0)"},
		{"numeric", Type{Kind: Decimal, Precision: 18}, "decimal(18,0)"},
		{"decimal(19,4)", Type{Kind: Decimal, Precision: 19, Scale: 4}, "decimal(19,4)"},
		{"NUMERIC ( 38 , 10 )", Type{Kind: Decimal, Precision: 38, Scale: 10}, "decimal(38,10)"},
		{"decimal(10)", Type{Kind: Decimal, Precision: 10}, "decimal(10,0)"},
		{"decimal(1,1)", Type{Kind: Decimal, Precision: 1, Scale: 1}, "decimal(1,1)"},
		{"dec(5,2)", Type{Kind: Decimal, Precision: 5, Scale: 2}, "decimal(5,2)"},
		{"money", Type{Kind: Money}, "money"},
		{"smallmoney", Type{Kind: SmallMoney}, "smallmoney"},
		{"float", Type{Kind: Float, Precision: 53}, "float"},
		{"float(53)", Type{Kind: Float, Precision: 53}, "float"},
		{"float(25)", Type{Kind: Float, Precision: 53}, "float"},
		{"float(24)", Type{Kind: Real, Precision: 24}, "real"},
		{"float(1)", Type{Kind: Real, Precision: 24}, "real"},
		{"double precision", Type{Kind: Float, Precision: 53}, "float"},
		{"real", Type{Kind: Real, Precision: 24}, "real"},
		{"date", Type{Kind: Date}, "date"},
		{"time", Type{Kind: Time, Precision: 7}, "time(7)"},
		{"time(3)", Type{Kind: Time, Precision: 3}, "time(3)"},
		{"time(0)", Type{Kind: Time, Precision: 0}, "time(0)"},
		{"smalldatetime", Type{Kind: SmallDateTime}, "smalldatetime"},
		{"datetime", Type{Kind: DateTime}, "datetime"},
		{"DateTime", Type{Kind: DateTime}, "datetime"},
		{"datetime2", Type{Kind: DateTime2, Precision: 7}, "datetime2(7)"},
		{"datetime2(7)", Type{Kind: DateTime2, Precision: 7}, "datetime2(7)"},
		{"datetime2 (3)", Type{Kind: DateTime2, Precision: 3}, "datetime2(3)"},
		{"datetimeoffset", Type{Kind: DateTimeOffset, Precision: 7}, "datetimeoffset(7)"},
		{"datetimeoffset(0)", Type{Kind: DateTimeOffset, Precision: 0}, "datetimeoffset(0)"},
		{"char", Type{Kind: Char, Length: 1}, "char(1)"},
		{"char(10)", Type{Kind: Char, Length: 10}, "char(10)"},
		{"character(8000)", Type{Kind: Char, Length: 8000}, "char(8000)"},
		{"varchar", Type{Kind: VarChar, Length: 1}, "varchar(1)"},
		{"varchar(8000)", Type{Kind: VarChar, Length: 8000}, "varchar(8000)"},
		{"VARCHAR(MAX)", Type{Kind: VarChar, Length: Max}, "varchar(max)"},
		{"nchar(4000)", Type{Kind: NChar, Length: 4000}, "nchar(4000)"},
		{"nchar", Type{Kind: NChar, Length: 1}, "nchar(1)"},
		{"nvarchar", Type{Kind: NVarChar, Length: 1}, "nvarchar(1)"},
		{"nvarchar(255)", Type{Kind: NVarChar, Length: 255}, "nvarchar(255)"},
		{"NVARCHAR ( 255 )", Type{Kind: NVarChar, Length: 255}, "nvarchar(255)"},
		{"nvarchar(4000)", Type{Kind: NVarChar, Length: 4000}, "nvarchar(4000)"},
		{"nvarchar(max)", Type{Kind: NVarChar, Length: Max}, "nvarchar(max)"},
		{"nvarchar( Max )", Type{Kind: NVarChar, Length: Max}, "nvarchar(max)"},
		{"national character varying(20)", Type{Kind: NVarChar, Length: 20}, "nvarchar(20)"},
		{"text", Type{Kind: Text}, "text"},
		{"ntext", Type{Kind: NText}, "ntext"},
		{"binary", Type{Kind: Binary, Length: 1}, "binary(1)"},
		{"binary(16)", Type{Kind: Binary, Length: 16}, "binary(16)"},
		{"varbinary", Type{Kind: VarBinary, Length: 1}, "varbinary(1)"},
		{"varbinary(8000)", Type{Kind: VarBinary, Length: 8000}, "varbinary(8000)"},
		{"varbinary(max)", Type{Kind: VarBinary, Length: Max}, "varbinary(max)"},
		{"image", Type{Kind: Image}, "image"},
		{"timestamp", Type{Kind: RowVersion}, "rowversion"},
		{"rowversion", Type{Kind: RowVersion}, "rowversion"},
		{"uniqueidentifier", Type{Kind: UniqueIdentifier}, "uniqueidentifier"},
		{"UNIQUEIDENTIFIER", Type{Kind: UniqueIdentifier}, "uniqueidentifier"},
		{"xml", Type{Kind: XML}, "xml"},
		{"xml(CONTENT dbo.MySchema)", Type{Kind: XML}, "xml"},
		{"hierarchyid", Type{Kind: HierarchyID}, "hierarchyid"},
		{"geography", Type{Kind: Geography}, "geography"},
		{"geometry", Type{Kind: Geometry}, "geometry"},
		{"sql_variant", Type{Kind: SQLVariant}, "sql_variant"},
		{"sysname", Type{Kind: SysName, Length: 128}, "sysname"},
		{"SysName", Type{Kind: SysName, Length: 128}, "sysname"},
		{"[int]", Type{Kind: Int}, "int"},
	}
	for _, tt := range tests {
		got, err := ParseType(tt.in)
		if err != nil {
			t.Errorf("ParseType(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseType(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("ParseType(%q).String() = %q, want %q", tt.in, s, tt.str)
		}
		again, err := ParseType(got.String())
		if err != nil || again != got {
			t.Errorf("ParseType(%q) does not round-trip through String %q: %+v, %v", tt.in, got, again, err)
		}
	}
}

func TestParseTypeErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty type"},
		{"   ", "empty type"},
		{"foo", "unknown SQL Server type"},
		{"varchar2(10)", "unknown SQL Server type"},
		{"int(4)", "takes no arguments"},
		{"nvarchar(4001)", "length 4001 out of range 1..4000 (or max)"},
		{"char(8001)", "length 8001 out of range 1..8000"},
		{"nvarchar(0)", "out of range"},
		{"varchar(8001)", "out of range 1..8000"},
		{"char(max)", "max is allowed only"},
		{"binary(max)", "max is allowed only"},
		{"nvarchar(-1)", "not a number"},
		{"nvarchar(abc)", "not a number"},
		{"nvarchar(", "closing parenthesis"},
		{"nvarchar(10", "closing parenthesis"},
		{"nvarchar(10)x", "closing parenthesis"},
		{"nvarchar)10(", "parenthesis"},
		{"nvarchar((10))", "unbalanced"},
		{"nvarchar()", "empty type argument"},
		{"nvarchar(10,2)", "at most 1 argument"},
		{"decimal(0)", "precision 0 out of range 1..38"},
		{"decimal(39,0)", "precision 39 out of range 1..38"},
		{"decimal(10,11)", "scale 11 out of range 0..10"},
		{"decimal(10,2,1)", "at most 2 arguments"},
		{"decimal(,2)", "empty type argument"},
		{"float(0)", "out of range 1..53"},
		{"float(54)", "out of range 1..53"},
		{"real(24)", "no arguments"},
		{"double precision(53)", "no arguments"},
		{"time(8)", "out of range 0..7"},
		{"datetime2(8)", "out of range 0..7"},
		{"datetimeoffset(9)", "out of range 0..7"},
		{"datetime(3)", "no arguments"},
		{"sysname(10)", "no arguments"},
		{"(10)", "no type name"},
	}
	for _, tt := range tests {
		_, err := ParseType(tt.in)
		if err == nil {
			t.Errorf("ParseType(%q): no error, want %q", tt.in, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseType(%q) error %q, want it to contain %q", tt.in, err, tt.want)
		}
		if !strings.Contains(err.Error(), tt.in) {
			t.Errorf("ParseType(%q) error %q does not name the type text", tt.in, err)
		}
	}
}

func TestKindString(t *testing.T) {
	for k := Invalid; k <= SysName; k++ {
		if k.String() == "" || strings.HasPrefix(k.String(), "kind(") {
			t.Errorf("Kind %d has no name", k)
		}
		if k != Invalid && k != Float && k != Real {
			// Every kind's name parses back to the kind (Float and Real normalise precision).
			typ, err := ParseType(k.String())
			if err != nil || typ.Kind != k {
				t.Errorf("ParseType(%q) = %v, %v; want kind %v", k.String(), typ, err, k)
			}
		}
	}
	if got := Kind(200).String(); got != "kind(200)" {
		t.Errorf("Kind(200).String() = %q", got)
	}
	if got := SQLVariant.String(); got != "sql_variant" {
		t.Errorf("SQLVariant.String() = %q", got)
	}
}

func TestParseColumn(t *testing.T) {
	c, err := ParseColumn(contract.Column{Name: "amount", Type: "decimal(19, 4)", DefaultValue: "default ((0))", IsNullable: true})
	if err != nil {
		t.Fatal(err)
	}
	want := Column{Name: "amount", Type: Type{Kind: Decimal, Precision: 19, Scale: 4}, Nullable: true,
		Default: &Default{Kind: DefaultLiteral, Literal: "0", Raw: "default ((0))"}}
	if c.Name != want.Name || c.Type != want.Type || c.Nullable != want.Nullable || *c.Default != *want.Default {
		t.Errorf("ParseColumn = %+v (default %+v), want %+v", c, c.Default, want)
	}
	c, err = ParseColumn(contract.Column{Name: "name", Type: "nvarchar(255)"})
	if err != nil || c.Default != nil || c.Nullable {
		t.Errorf("ParseColumn without default = %+v, %v", c, err)
	}
	_, err = ParseColumn(contract.Column{Name: "weird", Type: "varchar2(10)"})
	if err == nil || !strings.Contains(err.Error(), `column "weird"`) || !strings.Contains(err.Error(), "varchar2(10)") {
		t.Errorf("ParseColumn error %v does not name the column and type", err)
	}
	_, err = ParseColumn(contract.Column{Name: "d", Type: "int", DefaultValue: "default ((0)"})
	if err == nil || !strings.Contains(err.Error(), `column "d"`) {
		t.Errorf("ParseColumn with a malformed default: %v", err)
	}
}

func TestParseDefault(t *testing.T) {
	tests := []struct {
		in       string
		kind     DefaultKind
		literal  string
		isString bool
	}{
		{"default ((0))", DefaultLiteral, "0", false},
		{"DEFAULT ((0))", DefaultLiteral, "0", false},
		{"(0)", DefaultLiteral, "0", false},
		{"((0))", DefaultLiteral, "0", false},
		{"default ((1.5))", DefaultLiteral, "1.5", false},
		{"default ((-1))", DefaultLiteral, "-1", false},
		{"default (-(1))", DefaultLiteral, "-1", false},
		{"default ((+2))", DefaultLiteral, "2", false},
		{"default ((1e3))", DefaultLiteral, "1e3", false},
		{"default (N'')", DefaultLiteral, "", true},
		{"default ('')", DefaultLiteral, "", true},
		{"default ('x')", DefaultLiteral, "x", true},
		{"default (N'1760-01-01 00:00:00')", DefaultLiteral, "1760-01-01 00:00:00", true},
		{"default (N'it''s')", DefaultLiteral, "it's", true},
		{"default ('a(b')", DefaultLiteral, "a(b", true},
		{"default ('''')", DefaultLiteral, "'", true},
		{"default (n'x')", DefaultLiteral, "x", true},
		{"  default  (  ( 0 )  )  ", DefaultLiteral, "0", false},
		{"default(0)", DefaultLiteral, "0", false},
		{"DEFAULT (NULL)", DefaultNull, "", false},
		{"default (null)", DefaultNull, "", false},
		{"default (getdate())", DefaultNow, "", false},
		{"default (GETDATE ( ))", DefaultNow, "", false},
		{"default (current_timestamp)", DefaultNow, "", false},
		{"default (sysdatetime())", DefaultNow, "", false},
		{"default (getutcdate())", DefaultUTCNow, "", false},
		{"default (sysutcdatetime())", DefaultUTCNow, "", false},
		{"default (sysdatetimeoffset())", DefaultNowOffset, "", false},
		{"default (newid())", DefaultNewID, "", false},
		{"default (NEWSEQUENTIALID())", DefaultNewID, "", false},
		{"default (dateadd(day,(1),getdate()))", DefaultUnsupported, "", false},
		{"default ((1)+(2))", DefaultUnsupported, "", false},
		{"default ('a'+'b')", DefaultUnsupported, "", false},
		{"default (CONVERT([bit],(0)))", DefaultUnsupported, "", false},
		{"default (user_name())", DefaultUnsupported, "", false},
		{"default ()", DefaultUnsupported, "", false},
		{"default (0x00)", DefaultUnsupported, "", false},
		{"defaultx", DefaultUnsupported, "", false},
	}
	for _, tt := range tests {
		d, err := parseDefault(tt.in)
		if err != nil {
			t.Errorf("parseDefault(%q): %v", tt.in, err)
			continue
		}
		if d == nil {
			t.Errorf("parseDefault(%q) = nil", tt.in)
			continue
		}
		if d.Kind != tt.kind || d.Literal != tt.literal || d.IsString != tt.isString || d.Raw != tt.in {
			t.Errorf("parseDefault(%q) = %+v, want kind %d literal %q string %v", tt.in, *d, tt.kind, tt.literal, tt.isString)
		}
	}
	if d, err := parseDefault(""); d != nil || err != nil {
		t.Errorf(`parseDefault("") = %v, %v; want nil, nil`, d, err)
	}
	if d, err := parseDefault("   "); d != nil || err != nil {
		t.Errorf(`parseDefault("   ") = %v, %v; want nil, nil`, d, err)
	}
	for _, bad := range []string{"default ((0)", "default (0))", "default ('abc)", "default (N'it''s)"} {
		if d, err := parseDefault(bad); err == nil {
			t.Errorf("parseDefault(%q) = %+v, want an error", bad, d)
		}
	}
}

func TestWidens(t *testing.T) {
	tests := []struct {
		from, to string
		want     bool
	}{
		{"int", "int", true},
		{"nvarchar(50)", "nvarchar(255)", true},
		{"nvarchar(255)", "nvarchar(50)", false},
		{"nvarchar(255)", "nvarchar(max)", true},
		{"nvarchar(max)", "nvarchar(4000)", false},
		{"varchar(10)", "varchar(max)", true},
		{"varchar(10)", "nvarchar(10)", true},
		{"varchar(10)", "nvarchar(9)", false},
		{"varchar(max)", "nvarchar(max)", true},
		{"nvarchar(10)", "varchar(10)", false},
		{"char(10)", "char(20)", true},
		{"char(10)", "varchar(10)", true},
		{"char(10)", "nchar(10)", true},
		{"varchar(10)", "char(10)", false},
		{"nchar(10)", "nvarchar(max)", true},
		{"sysname", "nvarchar(128)", true},
		{"sysname", "nvarchar(100)", false},
		{"binary(8)", "binary(16)", true},
		{"binary(8)", "varbinary(8)", true},
		{"varbinary(8)", "varbinary(max)", true},
		{"varbinary(max)", "varbinary(8000)", false},
		{"varbinary(8)", "binary(8)", false},
		{"tinyint", "smallint", true},
		{"tinyint", "bigint", true},
		{"smallint", "int", true},
		{"int", "bigint", true},
		{"bigint", "int", false},
		{"int", "smallint", false},
		{"int", "decimal(38,0)", false},
		{"bit", "tinyint", false},
		{"decimal(10,2)", "decimal(12,2)", true},
		{"decimal(10,2)", "decimal(12,4)", true},
		{"decimal(10,2)", "decimal(11,3)", true}, // 8 integer digits either way, scale 3 ≥ 2
		{"decimal(10,2)", "decimal(10,3)", false},
		{"decimal(10,2)", "decimal(10,1)", false},
		{"numeric(18,0)", "decimal(19,4)", false},
		{"numeric(18,0)", "decimal(22,4)", true},
		{"real", "float", true},
		{"float", "real", false},
		{"datetime", "datetime2(3)", true},
		{"datetime", "datetime2(7)", true},
		{"datetime", "datetime2(2)", false},
		{"smalldatetime", "datetime2(0)", true},
		{"smalldatetime", "datetime", true},
		{"datetime", "smalldatetime", false},
		{"datetime2(3)", "datetime2(7)", true},
		{"datetime2(7)", "datetime2(3)", false},
		{"datetime2(7)", "datetime", false},
		{"time(3)", "time(7)", true},
		{"time(7)", "time(6)", false},
		{"datetimeoffset(3)", "datetimeoffset(7)", true},
		{"date", "datetime2", false},
		{"int", "nvarchar(max)", false},
		{"uniqueidentifier", "uniqueidentifier", true},
		{"text", "nvarchar(max)", false},
		{"money", "decimal(19,4)", false},
	}
	for _, tt := range tests {
		from, err1 := ParseType(tt.from)
		to, err2 := ParseType(tt.to)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad test types: %v %v", err1, err2)
		}
		if got := Widens(from, to); got != tt.want {
			t.Errorf("Widens(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}
