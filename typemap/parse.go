package typemap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mirrorsink/mirrorsink/contract"
)

// typeNames maps every accepted SQL Server type name (lower case, single spaces) to its Kind. It
// includes the ANSI synonyms SQL Server accepts in DDL, since they may appear in type text.
var typeNames = map[string]Kind{
	"bit":                        Bit,
	"tinyint":                    TinyInt,
	"smallint":                   SmallInt,
	"int":                        Int,
	"integer":                    Int,
	"bigint":                     BigInt,
	"decimal":                    Decimal,
	"dec":                        Decimal,
	"numeric":                    Decimal,
	"money":                      Money,
	"smallmoney":                 SmallMoney,
	"float":                      Float,
	"double precision":           Float,
	"real":                       Real,
	"date":                       Date,
	"time":                       Time,
	"smalldatetime":              SmallDateTime,
	"datetime":                   DateTime,
	"datetime2":                  DateTime2,
	"datetimeoffset":             DateTimeOffset,
	"char":                       Char,
	"character":                  Char,
	"varchar":                    VarChar,
	"char varying":               VarChar,
	"character varying":          VarChar,
	"nchar":                      NChar,
	"national char":              NChar,
	"national character":         NChar,
	"nvarchar":                   NVarChar,
	"nchar varying":              NVarChar,
	"national char varying":      NVarChar,
	"national character varying": NVarChar,
	"text":                       Text,
	"ntext":                      NText,
	"national text":              NText,
	"binary":                     Binary,
	"varbinary":                  VarBinary,
	"binary varying":             VarBinary,
	"image":                      Image,
	"rowversion":                 RowVersion,
	"timestamp":                  RowVersion,
	"uniqueidentifier":           UniqueIdentifier,
	"xml":                        XML,
	"hierarchyid":                HierarchyID,
	"geography":                  Geography,
	"geometry":                   Geometry,
	"sql_variant":                SQLVariant,
	"sysname":                    SysName,
}

// ParseType parses a SQL Server type text such as "int", "NVARCHAR ( 255 )", "nvarchar(max)",
// "decimal(19,4)", "datetime2(7)" or "float(24)", in any case and with any spaces, into a Type with
// SQL Server's defaults filled in: decimal/numeric without arguments is decimal(18,0) and with one is
// decimal(p,0); time, datetime2 and datetimeoffset default to precision 7; char, varchar, nchar,
// nvarchar, binary and varbinary without a length have length 1; float(1..24) is Real and
// float(25..53) or plain float is Float (Precision 24 or 53); sysname is nvarchar(128) with Kind SysName;
// timestamp is rowversion. Arguments are range-checked as SQL Server does. The error names the type text
// and the reason; the caller adds table and column.
func ParseType(s string) (Type, error) {
	t, err := parseType(s)
	if err != nil {
		return Type{}, fmt.Errorf("typemap: type %q: %w", s, err)
	}
	return t, nil
}

// ParseColumn turns a received ColumnInfo into the typed model: type, nullability and default. The
// error names the column.
func ParseColumn(c contract.Column) (Column, error) {
	t, err := parseType(c.Type)
	if err != nil {
		return Column{}, fmt.Errorf("typemap: column %q: type %q: %w", c.Name, c.Type, err)
	}
	d, err := parseDefault(c.DefaultValue)
	if err != nil {
		return Column{}, fmt.Errorf("typemap: column %q: default %q: %w", c.Name, c.DefaultValue, err)
	}
	return Column{Name: c.Name, Type: t, Nullable: c.IsNullable, Default: d}, nil
}

func parseType(s string) (Type, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Type{}, errors.New("empty type")
	}
	name, args, hasArgs := s, "", false
	if i := strings.IndexByte(s, '('); i >= 0 {
		if s[len(s)-1] != ')' {
			return Type{}, errors.New("text after the closing parenthesis or no closing parenthesis")
		}
		name, args, hasArgs = s[:i], s[i+1:len(s)-1], true
		if strings.ContainsAny(args, "()") {
			return Type{}, errors.New("unbalanced parentheses")
		}
	} else if strings.IndexByte(s, ')') >= 0 {
		return Type{}, errors.New("unbalanced parentheses")
	}
	name = strings.ToLower(strings.Join(strings.Fields(name), " "))
	if len(name) > 2 && name[0] == '[' && name[len(name)-1] == ']' {
		name = name[1 : len(name)-1]
	}
	if name == "" {
		return Type{}, errors.New("no type name")
	}
	kind, ok := typeNames[name]
	if !ok {
		return Type{}, errors.New("unknown SQL Server type")
	}
	var params []string
	if hasArgs {
		params = strings.Split(args, ",")
		for i := range params {
			params[i] = strings.ToLower(strings.TrimSpace(params[i]))
			if params[i] == "" {
				return Type{}, errors.New("empty type argument")
			}
		}
	}
	t := Type{Kind: kind}
	switch kind {
	case Decimal:
		if len(params) > 2 {
			return Type{}, errors.New("decimal takes at most 2 arguments (precision, scale)")
		}
		t.Precision, t.Scale = 18, 0
		if len(params) >= 1 {
			p, err := intArg(params[0], 1, 38, "precision")
			if err != nil {
				return Type{}, err
			}
			t.Precision = p
		}
		if len(params) == 2 {
			sc, err := intArg(params[1], 0, t.Precision, "scale")
			if err != nil {
				return Type{}, err
			}
			t.Scale = sc
		}
	case Float:
		if len(params) > 1 {
			return Type{}, errors.New("float takes at most 1 argument")
		}
		t.Precision = 53
		if name == "float" && len(params) == 1 {
			n, err := intArg(params[0], 1, 53, "mantissa bits")
			if err != nil {
				return Type{}, err
			}
			if n <= 24 {
				t = Type{Kind: Real, Precision: 24}
			}
		} else if len(params) == 1 {
			return Type{}, errors.New("takes no arguments")
		}
	case Real:
		if len(params) > 0 {
			return Type{}, errors.New("real takes no arguments")
		}
		t.Precision = 24
	case Time, DateTime2, DateTimeOffset:
		if len(params) > 1 {
			return Type{}, errors.New("takes at most 1 argument (fractional-second precision)")
		}
		t.Precision = 7
		if len(params) == 1 {
			p, err := intArg(params[0], 0, 7, "fractional-second precision")
			if err != nil {
				return Type{}, err
			}
			t.Precision = p
		}
	case Char, VarChar, NChar, NVarChar, Binary, VarBinary:
		if len(params) > 1 {
			return Type{}, errors.New("takes at most 1 argument (length)")
		}
		limit := 8000
		if kind == NChar || kind == NVarChar {
			limit = 4000
		}
		t.Length = 1
		if len(params) == 1 {
			if params[0] == "max" {
				if kind == Char || kind == NChar || kind == Binary {
					return Type{}, errors.New("max is allowed only for varchar, nvarchar and varbinary")
				}
				t.Length = Max
			} else {
				n, err := intArg(params[0], 1, limit, "length")
				if err != nil {
					if kind == VarChar || kind == NVarChar || kind == VarBinary {
						return Type{}, fmt.Errorf("%w (or max)", err)
					}
					return Type{}, err
				}
				t.Length = n
			}
		}
	case XML:
		// Typed xml, e.g. xml(CONTENT dbo.Schema), holds the same text as untyped xml; the schema
		// collection is a constraint the mirror does not enforce.
	case SysName:
		if hasArgs {
			return Type{}, errors.New("takes no arguments")
		}
		t.Length = 128
	default:
		if hasArgs {
			return Type{}, errors.New("takes no arguments")
		}
	}
	return t, nil
}

// intArg parses a type argument that must be a whole number in lo..hi.
func intArg(s string, lo, hi int, what string) (int, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%s %q is not a number", what, s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s %s out of range %d..%d", what, s, lo, hi)
	}
	return n, nil
}
