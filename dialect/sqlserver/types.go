package sqlserver

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	mssql "github.com/microsoft/go-mssqldb"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// This file is the dialect's type table (docs/TYPES.md): for each SQL Server type kind, the one rule
// that every other part consults — the column's type in DDL and in the staging table, how the bulk
// copier gets its values, how staged text becomes the column's type, and how a stored value reads
// back. Types stay native; the exceptions are rowversion (binary(8): a rowversion column cannot be
// written) and the CLR types and sql_variant, which travel as text (see rule.fromText).

// rule is the type table's entry for one kind.
type rule struct {
	// ddl renders the column's type in CREATE TABLE and ALTER COLUMN.
	ddl func(t typemap.Type) (string, error)
	// staging, when set, is the column's type in the staging table instead of the DDL type: the
	// (max) equivalents of the deprecated large types, which the bulk copier handles best, and the
	// text that the converted kinds travel as.
	staging string
	// collate marks character data: the staging column takes the collation of the column it is
	// staged for explicitly (see stagingType), because a temporary table otherwise takes tempdb's,
	// which may differ and then fails every join on a text key; a key column is declared with
	// keyCollation.
	collate bool
	// fromText, set for the kinds that the bulk copier cannot send (it sends CLR types as their
	// binary serialisation, which the wire's text form is not, and has no encoder for sql_variant),
	// converts the staged text (a quoted column reference) into the column's type in the set-based
	// statements. A table with such a column always loads through the staging table.
	fromText func(ref string) string
	// codePage says that the encoder needs the column's code page (char, varchar, text).
	codePage bool
	// encoder makes the bulk-copy encoder of a column of type t.
	encoder func(t typemap.Type, env encodeEnv) (encoder, error)
	// preciseNow says that defaults of the current time take the 100 ns functions (sysdatetime()),
	// as the type holds 100 ns; getdate() otherwise.
	preciseNow bool
	// read, when set, is the expression that Read selects for a column reference: the text form of
	// a type the driver has no Go value for.
	read func(ref string) string
	// scan turns what the driver returns for a column of this kind (never nil) into the plain value
	// that Read hands (dialect.TableEditor.Read).
	scan func(v any, guidConversion bool) (any, error)
}

// Geography and geometry WKT carries no SRID: geography takes WGS 84 (4326), SQL Server's default,
// and geometry the planar SRID 0.
const (
	GeographySRID = 4326
	GeometrySRID  = 0
)

// types is the type table.
var types = map[typemap.Kind]rule{
	typemap.Bit:        {ddl: named("bit"), encoder: bitEncoder, scan: scanAs[bool]},
	typemap.TinyInt:    {ddl: named("tinyint"), encoder: intEncoder(0, math.MaxUint8), scan: scanAs[int64]},
	typemap.SmallInt:   {ddl: named("smallint"), encoder: intEncoder(math.MinInt16, math.MaxInt16), scan: scanAs[int64]},
	typemap.Int:        {ddl: named("int"), encoder: intEncoder(math.MinInt32, math.MaxInt32), scan: scanAs[int64]},
	typemap.BigInt:     {ddl: named("bigint"), encoder: intEncoder(math.MinInt64, math.MaxInt64), scan: scanAs[int64]},
	typemap.Decimal:    {ddl: decimalType, encoder: decimalEncoder, scan: scanDecimal},
	typemap.Money:      {ddl: named("money"), encoder: decimalEncoder, scan: scanDecimal},
	typemap.SmallMoney: {ddl: named("smallmoney"), encoder: decimalEncoder, scan: scanDecimal},
	typemap.Float:      {ddl: named("float"), encoder: floatEncoder(math.MaxFloat64), scan: scanAs[float64]},
	typemap.Real:       {ddl: named("real"), encoder: floatEncoder(math.MaxFloat32), scan: scanAs[float64]},

	typemap.Date:           {ddl: named("date"), encoder: timeEncoder(minDate, maxDate), scan: scanAs[time.Time]},
	typemap.Time:           {ddl: fraction("time"), encoder: timeOfDayEncoder, preciseNow: true, scan: scanTimeOfDay},
	typemap.SmallDateTime:  {ddl: named("smalldatetime"), encoder: smallDateTimeEncoder, scan: scanAs[time.Time]},
	typemap.DateTime:       {ddl: named("datetime"), encoder: timeEncoder(minDateTime, maxDateTime), scan: scanAs[time.Time]},
	typemap.DateTime2:      {ddl: fraction("datetime2"), encoder: timeEncoder(minDate, maxDate), preciseNow: true, scan: scanAs[time.Time]},
	typemap.DateTimeOffset: {ddl: fraction("datetimeoffset"), encoder: offsetEncoder, preciseNow: true, scan: scanAs[time.Time]},

	// The non-Unicode kinds become their Unicode counterparts: a source's varchar holds the characters of
	// the source's code page, which need not be the mirror's (a character that the mirror's code page
	// lacks would not fit), and nvarchar(n) holds every varchar(n) value of any code page, as n bytes
	// are at least n characters. Beyond nvarchar's 4,000 characters they become nvarchar(max). (A
	// UTF-8 collation would keep varchar, but measures n in bytes, which a source's n characters may
	// exceed three times, and needs SQL Server 2019; see docs/TYPES.md.) Tables created before keep
	// their varchar columns: codePage says that the encoder then needs the column's code page.
	typemap.Char:     {ddl: unicode("nchar", false), collate: true, codePage: true, encoder: varcharEncoder, scan: scanAs[string]},
	typemap.VarChar:  {ddl: unicode("nvarchar", true), collate: true, codePage: true, encoder: varcharEncoder, scan: scanAs[string]},
	typemap.NChar:    {ddl: sized("nchar", 4000, false), collate: true, encoder: nvarcharEncoder, scan: scanAs[string]},
	typemap.NVarChar: {ddl: sized("nvarchar", 4000, true), collate: true, encoder: nvarcharEncoder, scan: scanAs[string]},
	typemap.Text:     {ddl: named("nvarchar(max)"), collate: true, codePage: true, encoder: varcharEncoder, scan: scanAs[string]},
	typemap.NText:    {ddl: named("ntext"), staging: "nvarchar(max)", collate: true, encoder: nvarcharEncoder, scan: scanAs[string]},
	// sysname is an alias type: staged spelled out, so that a collation can be attached.
	typemap.SysName: {ddl: named("sysname"), staging: "nvarchar(128)", collate: true, encoder: nvarcharEncoder, scan: scanAs[string]},
	// The copier sends xml as nvarchar (MS-TDS forbids XMLTYPE in INSERT BULK).
	typemap.XML: {ddl: named("xml"), encoder: nvarcharEncoder, scan: scanAs[string]},

	typemap.Binary:    {ddl: sized("binary", 8000, false), encoder: binaryEncoder, scan: scanAs[[]byte]},
	typemap.VarBinary: {ddl: sized("varbinary", 8000, true), encoder: binaryEncoder, scan: scanAs[[]byte]},
	typemap.Image:     {ddl: named("image"), staging: "varbinary(max)", encoder: binaryEncoder, scan: scanAs[[]byte]},
	// A rowversion column is filled by the server and cannot be written; the mirror holds the
	// source's values.
	typemap.RowVersion:       {ddl: named("binary(8)"), encoder: binaryEncoder, scan: scanAs[[]byte]},
	typemap.UniqueIdentifier: {ddl: named("uniqueidentifier"), encoder: uuidEncoder, scan: scanUUID},

	// hierarchyid::Parse takes nvarchar(4000), hence the staged text's length; CAST parses the /1/2/
	// form.
	typemap.HierarchyID: {ddl: named("hierarchyid"), staging: "nvarchar(4000) COLLATE DATABASE_DEFAULT",
		fromText: func(ref string) string { return "CAST(" + ref + " AS hierarchyid)" },
		encoder:  textEncoder(4000), read: method("ToString"), scan: scanAs[string]},
	// ToString() is the WKT of STAsText() with the Z and M values that STGeomFromText also takes. NULL
	// stays NULL without calling the CLR method.
	typemap.Geography: {ddl: named("geography"), staging: "nvarchar(max) COLLATE DATABASE_DEFAULT",
		fromText: spatialFromText("geography", GeographySRID),
		encoder:  textEncoder(0), read: method("ToString"), scan: scanAs[string]},
	typemap.Geometry: {ddl: named("geometry"), staging: "nvarchar(max) COLLATE DATABASE_DEFAULT",
		fromText: spatialFromText("geometry", GeometrySRID),
		encoder:  textEncoder(0), read: method("ToString"), scan: scanAs[string]},
	// A sql_variant holds at most 8000 bytes and no (max) type: its text is staged as nvarchar(4000).
	typemap.SQLVariant: {ddl: named("sql_variant"), staging: "nvarchar(4000) COLLATE DATABASE_DEFAULT",
		fromText: func(ref string) string { return "CAST(" + ref + " AS sql_variant)" },
		encoder:  textEncoder(4000), read: func(ref string) string { return "CAST(" + ref + " AS nvarchar(4000))" }, scan: scanAs[string]},
}

// ruleOf returns the rule of t's kind.
func ruleOf(t typemap.Type) (rule, error) {
	r, ok := types[t.Kind]
	if !ok {
		return rule{}, fmt.Errorf("sqlserver: no SQL Server type for kind %s", t.Kind)
	}
	return r, nil
}

// columnType renders t as the column's type in DDL (TYPES.md).
func columnType(t typemap.Type) (string, error) {
	r, err := ruleOf(t)
	if err != nil {
		return "", err
	}
	return r.ddl(t)
}

// keyCollation is the collation of a text key column: binary, so that keys which differ in case (or
// accents, or width) are two keys, as they are on every other target, whatever the database's
// default collation. SQL Server still compares without trailing spaces (Capabilities.PadsKeys).
const keyCollation = "Latin1_General_100_BIN2"

// keyColumnType renders t as the type of a key column: a text key gets keyCollation (sysname spelled
// out as nvarchar(128), as a collation goes with a base type).
func keyColumnType(t typemap.Type) (string, error) {
	r, err := ruleOf(t)
	if err != nil {
		return "", err
	}
	if !r.collate {
		return r.ddl(t)
	}
	ct := r.staging
	if ct == "" {
		if ct, err = r.ddl(t); err != nil {
			return "", err
		}
	}
	return ct + " COLLATE " + keyCollation, nil
}

// stagingType renders the type of a column of type t in the staging table. A text column takes
// collation, the collation of the table's column that it is staged for (DATABASE_DEFAULT when it is
// not known), so that comparisons between the two never meet a collation conflict.
func stagingType(t typemap.Type, collation string) (string, error) {
	r, err := ruleOf(t)
	if err != nil {
		return "", err
	}
	ct := r.staging
	if ct == "" {
		if ct, err = r.ddl(t); err != nil {
			return "", err
		}
	}
	if r.collate {
		if !collationName.MatchString(collation) {
			collation = "DATABASE_DEFAULT"
		}
		ct += " COLLATE " + collation
	}
	return ct, nil
}

// collationName matches the names of SQL Server's collations, so that only a name of that form, as
// sys.columns reports it, is ever written into a statement.
var collationName = regexp.MustCompile(`^[A-Za-z0-9_]{1,128}$`)

// unicode renders the Unicode type name(n) that holds a non-Unicode type of length n, and nvarchar(max)
// beyond 4,000 characters (or for (max), where withMax allows it).
func unicode(name string, withMax bool) func(typemap.Type) (string, error) {
	fits := sized(name, 4000, withMax)
	return func(t typemap.Type) (string, error) {
		if t.Length > 4000 && t.Length <= 8000 || t.Length == typemap.Max && withMax {
			return "nvarchar(max)", nil
		}
		return fits(t)
	}
}

// isConverted reports whether columns of type t travel as text (rule.fromText).
func isConverted(t typemap.Type) bool { return types[t.Kind].fromText != nil }

// fromStaged returns the expression that reads a staged value (the quoted reference ref) in the
// column's type.
func fromStaged(t typemap.Type, ref string) string {
	if conv := types[t.Kind].fromText; conv != nil {
		return conv(ref)
	}
	return ref
}

// readExpr returns the expression that Read selects for a column reference.
func readExpr(t typemap.Type, ref string) string {
	if read := types[t.Kind].read; read != nil {
		return read(ref)
	}
	return ref
}

func named(name string) func(typemap.Type) (string, error) {
	return func(typemap.Type) (string, error) { return name, nil }
}

// sized renders name(n), and name(max) where withMax allows it.
func sized(name string, limit int, withMax bool) func(typemap.Type) (string, error) {
	return func(t typemap.Type) (string, error) {
		switch {
		case t.Length == typemap.Max && withMax:
			return name + "(max)", nil
		case t.Length >= 1 && t.Length <= limit:
			return name + "(" + strconv.Itoa(t.Length) + ")", nil
		}
		return "", fmt.Errorf("sqlserver: %s length %d outside 1..%d", t.Kind, t.Length, limit)
	}
}

// fraction renders name(p) for the types with fractional seconds.
func fraction(name string) func(typemap.Type) (string, error) {
	return func(t typemap.Type) (string, error) {
		if t.Precision < 0 || t.Precision > 7 {
			return "", fmt.Errorf("sqlserver: %s precision %d outside 0..7", name, t.Precision)
		}
		return name + "(" + strconv.Itoa(t.Precision) + ")", nil
	}
}

func decimalType(t typemap.Type) (string, error) {
	if t.Precision < 1 || t.Precision > 38 || t.Scale < 0 || t.Scale > t.Precision {
		return "", fmt.Errorf("sqlserver: decimal(%d,%d) is not a valid decimal type", t.Precision, t.Scale)
	}
	return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale), nil
}

// spatialFromText parses staged WKT with the type's SRID.
func spatialFromText(typ string, srid int) func(ref string) string {
	return func(ref string) string {
		return fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE %s::STGeomFromText(%s, %d) END", ref, typ, ref, srid)
	}
}

// method calls a CLR type's method on a column reference.
func method(name string) func(ref string) string {
	return func(ref string) string { return ref + "." + name + "()" }
}

// The bulk path.

// An encoder turns one value, as typemap decodes it, into the Go value the go-mssqldb bulk copier
// encodes correctly for the column, or fails with the reason the value does not fit. Encoders check
// everything the copier does not: it wraps out-of-range integers, clamps dates, replaces what a code
// page cannot hold, and panics on an over-long value or a GUID of the wrong length. An encoder may
// return a byte slice it reuses on its next call: the copier copies a row before the next one.
type encoder func(v any) (any, error)

// encodeEnv is what an encoder may depend on beyond the column's type.
type encodeEnv struct {
	// codePage is the code page of the column that the value is stored in, for the kinds whose rule
	// says codePage: unicodeColumn when that column is of a Unicode type.
	codePage int
	// staged says that the value goes to a staging column (of a Unicode type, see the type table),
	// from where the set-based statement moves it into its column.
	staged bool
	// guidConversion mirrors the DSN's "guid conversion" setting: with it, the driver itself swaps a
	// GUID's first three groups, so the bytes must be handed over in text order.
	guidConversion bool
}

// reason is the error an encoder returns; the loader wraps it in a *dialect.ValueError. It may quote
// the value (a ValueError goes back to SuperOffice, never to the log).
type reason string

func (r reason) Error() string { return string(r) }

func reasonf(format string, args ...any) error { return reason(fmt.Sprintf(format, args...)) }

func wrongType(v any, want string) error { return reasonf("got a Go %T, want %s", v, want) }

// unicodeColumn is the code page of a column of a Unicode type (nchar, nvarchar, ntext) in
// encodeEnv.
const unicodeColumn = -1

// newEncoders picks one encoder per column, once per load. codePages holds the code page of the
// column where each value of a non-Unicode kind is stored, by name; staged says that the load goes to
// the staging table.
func newEncoders(cols []typemap.Column, codePages map[string]int, staged, guidConversion bool) ([]encoder, error) {
	return makeEncoders(cols, codePages, staged, guidConversion, func(c typemap.Column, r rule, env encodeEnv) (encoder, error) {
		return r.encoder(c.Type, env)
	})
}

// makeEncoders makes one encoder per column with build, from the column's rule and environment.
func makeEncoders[E any](cols []typemap.Column, codePages map[string]int, staged, guidConversion bool,
	build func(c typemap.Column, r rule, env encodeEnv) (E, error)) ([]E, error) {
	out := make([]E, 0, len(cols))
	for _, c := range cols {
		r, err := ruleOf(c.Type)
		if err != nil {
			return nil, err
		}
		env := encodeEnv{guidConversion: guidConversion, staged: staged}
		if r.codePage {
			cp, ok := codePages[c.Name]
			if !ok {
				return nil, fmt.Errorf("sqlserver: column %q: the code page of the column is not known", c.Name)
			}
			env.codePage = cp
		}
		e, err := build(c, r, env)
		if err != nil {
			return nil, fmt.Errorf("sqlserver: column %q: %w", c.Name, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func bitEncoder(typemap.Type, encodeEnv) (encoder, error) {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil, bool:
			return x, nil
		}
		return nil, wrongType(v, "bool")
	}, nil
}

func intEncoder(lo, hi int64) func(typemap.Type, encodeEnv) (encoder, error) {
	return func(typemap.Type, encodeEnv) (encoder, error) {
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil:
				return nil, nil
			case int64:
				if x < lo || x > hi {
					return nil, reasonf("%d is outside %d..%d", x, lo, hi)
				}
				return x, nil
			}
			return nil, wrongType(v, "int64")
		}, nil
	}
}

func floatEncoder(limit float64) func(typemap.Type, encodeEnv) (encoder, error) {
	return func(t typemap.Type, _ encodeEnv) (encoder, error) {
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil:
				return nil, nil
			case float64:
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, reasonf("%v is not a number SQL Server can store", x)
				}
				if math.Abs(x) > limit {
					return nil, reasonf("%g is outside the range of %s", x, t.Kind)
				}
				return x, nil
			}
			return nil, wrongType(v, "float64")
		}, nil
	}
}

// checkDecimal checks exact decimal text against a column's precision and scale, and returns the
// text the copier parses exactly (it rejects a scale larger than the column's; it never rounds).
// Money kinds are further bounded by their 8- and 4-byte integers, which the copier would wrap.
func checkDecimal(s string, t typemap.Type) (string, error) {
	p, sc := t.NumericPrecisionScale()
	body := s
	if body != "" && (body[0] == '-' || body[0] == '+') {
		body = body[1:]
	}
	intDigits, fracDigits, dot := 0, 0, false
	lead := true
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
			if dot {
				fracDigits++
			} else if !(lead && c == '0') {
				lead = false
				intDigits++
			}
		default:
			return "", reasonf("%q is not exact decimal text", cut(s))
		}
	}
	if intDigits+fracDigits == 0 && !hasDigit(body) {
		return "", reasonf("%q is not exact decimal text", cut(s))
	}
	// Trailing zeros of the fraction beyond the scale carry no value; anything else would round.
	out := s
	for fracDigits > sc && out[len(out)-1] == '0' {
		out = out[:len(out)-1]
		fracDigits--
	}
	if fracDigits > sc {
		return "", reasonf("%s has more than %d decimal places", cut(s), sc)
	}
	if out[len(out)-1] == '.' {
		out = out[:len(out)-1]
	}
	if intDigits > p-sc {
		return "", reasonf("%s does not fit decimal(%d,%d)", cut(s), p, sc)
	}
	switch t.Kind {
	case typemap.Money:
		if decimalOutside(out, "922337203685477.5808", "922337203685477.5807") {
			return "", reasonf("%s is outside the range of money", cut(s))
		}
	case typemap.SmallMoney:
		if decimalOutside(out, "214748.3648", "214748.3647") {
			return "", reasonf("%s is outside the range of smallmoney", cut(s))
		}
	}
	return out, nil
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			return true
		}
	}
	return false
}

// decimalOutside reports whether the decimal text s (at most 4 fraction digits) lies outside
// [-negLimit, posLimit], both limits written with exactly 4 fraction digits.
func decimalOutside(s, negLimit, posLimit string) bool {
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	ip, fp := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			ip, fp = s[:i], s[i+1:]
			break
		}
	}
	for len(ip) > 1 && ip[0] == '0' {
		ip = ip[1:]
	}
	for len(fp) < 4 {
		fp += "0"
	}
	limit := posLimit
	if neg {
		limit = negLimit
	}
	li := limit[:len(limit)-5]
	lf := limit[len(limit)-4:]
	if len(ip) != len(li) {
		return len(ip) > len(li)
	}
	if ip != li {
		return ip > li
	}
	return fp > lf
}

func decimalEncoder(t typemap.Type, _ encodeEnv) (encoder, error) {
	return func(v any) (any, error) {
		var s string
		switch x := v.(type) {
		case nil:
			return nil, nil
		case typemap.DecimalValue:
			s = string(x)
		case string:
			s = x
		default:
			return nil, wrongType(v, "typemap.DecimalValue")
		}
		out, err := checkDecimal(s, t)
		if err != nil {
			return nil, err
		}
		// A plain string: the copier parses it exactly (never through float64).
		return out, nil
	}, nil
}

var (
	minDate     = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate     = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	minDateTime = time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC)
	// The last datetime tick is .997; later values would round into the next day, past the range.
	maxDateTime      = time.Date(9999, 12, 31, 23, 59, 59, 998333333, time.UTC)
	minSmallDateTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxSmallDateTime = time.Date(2079, 6, 6, 23, 59, 0, 0, time.UTC)
)

// naive rebuilds t's wall clock in UTC: the copier encodes naive types from the wall clock fields,
// and smalldatetime from the distance to 1900-01-01 in UTC, so the location must be UTC.
func naive(t time.Time) time.Time {
	if t.Location() == time.UTC {
		return t
	}
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

func timeEncoder(lo, hi time.Time) func(typemap.Type, encodeEnv) (encoder, error) {
	return func(t typemap.Type, _ encodeEnv) (encoder, error) {
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil:
				return nil, nil
			case time.Time:
				w := naive(x)
				if w.Before(lo) || w.After(hi) {
					return nil, reasonf("%s is outside the range of %s", w.Format("2006-01-02 15:04:05.9999999"), t.Kind)
				}
				return w, nil
			}
			return nil, wrongType(v, "time.Time")
		}, nil
	}
}

func smallDateTimeEncoder(typemap.Type, encodeEnv) (encoder, error) {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case time.Time:
			w := naive(x)
			if w.Before(minSmallDateTime) || w.After(maxSmallDateTime) {
				return nil, reasonf("%s is outside the range of smalldatetime", w.Format("2006-01-02 15:04:05"))
			}
			if w.Second() != 0 || w.Nanosecond() != 0 {
				// The copier would drop the seconds; the source type has none.
				return nil, reasonf("%s has seconds, which smalldatetime does not hold", w.Format("2006-01-02 15:04:05.9999999"))
			}
			return w, nil
		}
		return nil, wrongType(v, "time.Time")
	}, nil
}

func offsetEncoder(typemap.Type, encodeEnv) (encoder, error) {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case time.Time:
			_, off := x.Zone()
			if off%60 != 0 || off < -14*3600 || off > 14*3600 {
				return nil, reasonf("offset %ds is not whole minutes within ±14:00", off)
			}
			u := x.UTC()
			if u.Before(minDate) || u.After(maxDate) || x.Year() < 1 || x.Year() > 9999 {
				return nil, reasonf("%s is outside the range of datetimeoffset", x.Format(time.RFC3339Nano))
			}
			return x, nil
		}
		return nil, wrongType(v, "time.Time")
	}, nil
}

func timeOfDayEncoder(typemap.Type, encodeEnv) (encoder, error) {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case typemap.TimeOfDay:
			if x < 0 || x >= typemap.TimeOfDay(24*time.Hour) {
				return nil, reasonf("%d ns is not a time of day", int64(x))
			}
			// The copier encodes time from the clock fields of a time.Time.
			return time.Unix(0, int64(x)).UTC(), nil
		}
		return nil, wrongType(v, "typemap.TimeOfDay")
	}, nil
}

// nvarcharEncoder encodes the text of a Unicode column, up to its length (none for the (max) and
// large kinds).
func nvarcharEncoder(t typemap.Type, _ encodeEnv) (encoder, error) {
	return utf16Encoder(t.MaxLength()), nil
}

// textEncoder encodes the text that a converted kind is staged as, up to limit UTF-16 units (0:
// unbounded).
func textEncoder(limit int) func(typemap.Type, encodeEnv) (encoder, error) {
	return func(typemap.Type, encodeEnv) (encoder, error) { return utf16Encoder(limit), nil }
}

// utf16Encoder encodes text as UTF-16LE bytes, which the copier sends unchanged, checking the length
// in UTF-16 code units (limit 0: unbounded). Invalid UTF-8 is refused rather than turned into U+FFFD.
func utf16Encoder(limit int) encoder {
	var buf []byte
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case string:
			var err error
			if buf, err = appendUTF16(buf[:0], x, limit); err != nil {
				return nil, err
			}
			return buf, nil
		}
		return nil, wrongType(v, "string")
	}
}

// appendUTF16 appends s as UTF-16LE, refusing invalid UTF-8 and more than limit code units (0:
// unbounded).
func appendUTF16[S ~string | ~[]byte](buf []byte, s S, limit int) ([]byte, error) {
	units := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			buf = append(buf, c, 0)
			units++
			i++
			continue
		}
		var head [utf8.UTFMax]byte
		r, size := utf8.DecodeRune(head[:copy(head[:], s[i:])])
		if r == utf8.RuneError && size == 1 {
			return buf, reasonf("text is not valid UTF-8 at byte %d", i)
		}
		i += size
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
			buf = append(buf, byte(hi), byte(hi>>8), byte(lo), byte(lo>>8))
			units += 2
		} else {
			buf = append(buf, byte(r), byte(r>>8))
			units++
		}
	}
	if limit > 0 && units > limit {
		return buf, reasonf("text of %d characters (UTF-16 units) does not fit %d", units, limit)
	}
	return buf, nil
}

// singleByte maps the single-byte code pages of SQL Server collations.
var singleByte = map[int]*charmap.Charmap{
	437: charmap.CodePage437, 850: charmap.CodePage850, 874: charmap.Windows874,
	1250: charmap.Windows1250, 1251: charmap.Windows1251, 1252: charmap.Windows1252,
	1253: charmap.Windows1253, 1254: charmap.Windows1254, 1255: charmap.Windows1255,
	1256: charmap.Windows1256, 1257: charmap.Windows1257, 1258: charmap.Windows1258,
}

// doubleByte maps the DBCS code pages of SQL Server collations.
var doubleByte = map[int]encoding.Encoding{
	932: japanese.ShiftJIS, 936: simplifiedchinese.GBK, 949: korean.EUCKR, 950: traditionalchinese.Big5,
}

// varcharEncoder encodes the text of a non-Unicode kind (char, varchar, text) for the column it is
// stored in. A Unicode column, which the type table creates for these kinds, takes it as UTF-16, up
// to the source's length in characters. A varchar column, which tables created before keep, takes it
// in the column's code page: the copier sends a Go string's UTF-8 bytes unchanged under the column's
// collation, which turns every non-ASCII character into mojibake unless the collation is UTF-8, and a
// character the code page lacks fails here instead of becoming '?'; the limit (none for text and
// varchar(max)) is in bytes, as varchar(n) counts. Staged for such a column, it is checked so, and
// sent as UTF-16 to the staging column, from where the server converts it exactly.
func varcharEncoder(t typemap.Type, env encodeEnv) (encoder, error) {
	codePage, limit := env.codePage, t.MaxLength()
	if codePage == unicodeColumn {
		return utf16Encoder(limit), nil
	}
	var (
		buf    []byte
		encode func(s string) error
	)
	sb, isSB := singleByte[codePage]
	db, isDB := doubleByte[codePage]
	switch {
	case codePage == 65001:
		encode = func(s string) error {
			if !utf8.ValidString(s) {
				return reason("text is not valid UTF-8")
			}
			buf = append(buf, s...)
			return nil
		}
	case isSB:
		encode = func(s string) error {
			for i, r := range s {
				b, ok := sb.EncodeRune(r)
				if !ok || r == utf8.RuneError {
					return reasonf("character %U at byte %d is not in code page %d of the column", r, i, codePage)
				}
				buf = append(buf, b)
			}
			return nil
		}
	case isDB:
		enc := db.NewEncoder()
		encode = func(s string) error {
			if !utf8.ValidString(s) {
				return reason("text is not valid UTF-8")
			}
			b, err := enc.String(s)
			if err != nil {
				return reasonf("text has a character that code page %d of the column lacks", codePage)
			}
			buf = append(buf, b...)
			return nil
		}
	case codePage == 0:
		return nil, errors.New("the column's collation is Unicode-only (code page 0), which varchar cannot use")
	default:
		return nil, fmt.Errorf("code page %d is not supported", codePage)
	}
	staged := utf16Encoder(0)
	return func(v any) (any, error) {
		var s string
		switch x := v.(type) {
		case nil:
			return nil, nil
		case string:
			s = x
		default:
			return nil, wrongType(v, "string")
		}
		buf = buf[:0]
		ascii := true
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				ascii = false
				break
			}
		}
		// Every code page above is ASCII-compatible, so ASCII text needs no encoding.
		if ascii {
			buf = append(buf, s...)
		} else if err := encode(s); err != nil {
			return nil, err
		}
		if limit > 0 && len(buf) > limit {
			return nil, reasonf("text of %d bytes in code page %d does not fit %d", len(buf), codePage, limit)
		}
		if env.staged {
			return staged(s)
		}
		return buf, nil
	}, nil
}

func binaryEncoder(t typemap.Type, _ encodeEnv) (encoder, error) {
	limit := t.MaxLength()
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case []byte:
			if limit > 0 && len(x) > limit {
				return nil, reasonf("%d bytes do not fit %d", len(x), limit)
			}
			if x == nil {
				// A nil slice would be sent as NULL; an empty value is not NULL.
				return []byte{}, nil
			}
			return x, nil
		}
		return nil, wrongType(v, "[]byte")
	}, nil
}

// rawEncoder is the raw encoder of a column: it turns a value's wire text, parsed with typemap's typed
// parsers, into exactly the value the column's encoder hands the copier for the decoded value
// (conformance.RawEncoders checks it). Text that is not a value of the column's type fails with the
// parser's *typemap.ValueError; a value that does not fit with the encoder's reason. Like an encoder,
// it may reuse the byte slice it returns.
type rawEncoder func(text []byte) (any, error)

// rawEncoders is the type table's raw column: for each kind, the factory of a column's raw encoder.
// Most make the typed value with typemap's parser and hand it to the kind's encoder, which checks and
// converts it (rawVia); text goes from the wire's bytes to UTF-16 without a Go string in between. It
// is kept beside the rules rather than in them so that the two encoders of a kind read side by side.
var rawEncoders = map[typemap.Kind]func(t typemap.Type, env encodeEnv) (rawEncoder, error){
	typemap.Bit:              rawVia(func(typemap.Type) func([]byte) (bool, error) { return typemap.ParseBit }),
	typemap.TinyInt:          rawVia(typemap.IntParser),
	typemap.SmallInt:         rawVia(typemap.IntParser),
	typemap.Int:              rawVia(typemap.IntParser),
	typemap.BigInt:           rawVia(typemap.IntParser),
	typemap.Decimal:          rawVia(decimalParser),
	typemap.Money:            rawVia(decimalParser),
	typemap.SmallMoney:       rawVia(decimalParser),
	typemap.Float:            rawVia(typemap.FloatParser),
	typemap.Real:             rawVia(typemap.FloatParser),
	typemap.Date:             rawVia(timeParser),
	typemap.Time:             rawVia(typemap.TimeParser),
	typemap.SmallDateTime:    rawVia(timeParser),
	typemap.DateTime:         rawVia(timeParser),
	typemap.DateTime2:        rawVia(timeParser),
	typemap.DateTimeOffset:   rawVia(timeParser),
	typemap.Char:             rawVarchar,
	typemap.VarChar:          rawVarchar,
	typemap.Text:             rawVarchar,
	typemap.NChar:            rawUTF16(0),
	typemap.NVarChar:         rawUTF16(0),
	typemap.NText:            rawUTF16(0),
	typemap.SysName:          rawUTF16(0),
	typemap.XML:              rawUTF16(0),
	typemap.HierarchyID:      rawUTF16(4000),
	typemap.Geography:        rawUTF16(0),
	typemap.Geometry:         rawUTF16(0),
	typemap.SQLVariant:       rawUTF16(4000),
	typemap.Binary:           rawVia(binaryParser),
	typemap.VarBinary:        rawVia(binaryParser),
	typemap.Image:            rawVia(binaryParser),
	typemap.RowVersion:       rawVia(binaryParser),
	typemap.UniqueIdentifier: rawVia(func(typemap.Type) func([]byte) (typemap.UUID, error) { return typemap.ParseUUID }),
}

// newRawEncoders picks one raw encoder per column, once per load, as newEncoders does.
func newRawEncoders(cols []typemap.Column, codePages map[string]int, staged, guidConversion bool) ([]rawEncoder, error) {
	return makeEncoders(cols, codePages, staged, guidConversion, func(c typemap.Column, _ rule, env encodeEnv) (rawEncoder, error) {
		f, ok := rawEncoders[c.Type.Kind]
		if !ok {
			return nil, fmt.Errorf("no raw encoder for %s", c.Type.Kind)
		}
		return f(c.Type, env)
	})
}

// rawVia is the raw encoder factory of a kind whose copier value its encoder makes from the typed
// value that parser's parser gives: the text is parsed straight into it, not decoded into an
// interface and taken out again.
func rawVia[T any](parser func(typemap.Type) func([]byte) (T, error)) func(typemap.Type, encodeEnv) (rawEncoder, error) {
	return func(t typemap.Type, env encodeEnv) (rawEncoder, error) {
		enc, err := types[t.Kind].encoder(t, env)
		if err != nil {
			return nil, err
		}
		parse := parser(t)
		return func(text []byte) (any, error) {
			v, err := parse(text)
			if err != nil {
				return nil, err
			}
			return enc(v)
		}, nil
	}
}

// decimalParser gives the canonical decimal text, which the encoder checks against the column.
func decimalParser(t typemap.Type) func([]byte) (typemap.DecimalValue, error) {
	parse := typemap.DecimalParser(t)
	var scratch []byte
	return func(b []byte) (typemap.DecimalValue, error) {
		var err error
		if scratch, err = parse(scratch[:0], b); err != nil {
			return "", err
		}
		return typemap.DecimalValue(scratch), nil
	}
}

// timeParser gives the time.Time that typemap decodes a date or date/time to.
func timeParser(t typemap.Type) func([]byte) (time.Time, error) {
	parse := typemap.DateTimeParser(t)
	return func(b []byte) (time.Time, error) {
		w, err := parse(b)
		if err != nil {
			return time.Time{}, err
		}
		return w.Time(), nil
	}
}

// binaryParser decodes into a scratch buffer: the copier copies a row before the next one, and an
// empty value stays a non-nil empty slice.
func binaryParser(t typemap.Type) func([]byte) ([]byte, error) {
	parse := typemap.BinaryParser(t)
	scratch := []byte{}
	return func(b []byte) ([]byte, error) {
		var err error
		scratch, err = parse(scratch[:0], b)
		return scratch, err
	}
}

// rawUTF16 encodes Unicode text from the wire's bytes, after typemap's check of its type: limit is the
// staged text's own bound in UTF-16 units (0: the type's, as utf16Encoder takes it).
func rawUTF16(limit int) func(typemap.Type, encodeEnv) (rawEncoder, error) {
	return func(t typemap.Type, _ encodeEnv) (rawEncoder, error) {
		units := limit
		if units == 0 {
			units = t.MaxLength()
		}
		check := typemap.TextParser(t)
		var buf []byte
		return func(text []byte) (any, error) {
			if err := check(text); err != nil {
				return nil, err
			}
			var err error
			if buf, err = appendUTF16(buf[:0], text, units); err != nil {
				return nil, err
			}
			return buf, nil
		}, nil
	}
}

// rawVarchar checks the text as typemap does and encodes it for its column: as UTF-16 from the wire's
// bytes for a Unicode column, as the type table creates for these kinds; through the column's
// code-page encoder for a varchar column of a table created before.
func rawVarchar(t typemap.Type, env encodeEnv) (rawEncoder, error) {
	if env.codePage == unicodeColumn {
		return rawUTF16(0)(t, env)
	}
	enc, err := varcharEncoder(t, env)
	if err != nil {
		return nil, err
	}
	check := typemap.TextParser(t)
	return func(text []byte) (any, error) {
		if err := check(text); err != nil {
			return nil, err
		}
		return enc(string(text))
	}, nil
}

// uuidBytes returns the 16 bytes the copier must receive for u (in text order): SQL Server's
// mixed-endian form through mssql.UniqueIdentifier, unless the driver converts itself.
func uuidBytes(u typemap.UUID, driverConverts bool) []byte {
	if driverConverts {
		b := make([]byte, 16)
		copy(b, u[:])
		return b
	}
	raw, _ := mssql.UniqueIdentifier(u).Value() // cannot fail
	return raw.([]byte)
}

func uuidEncoder(_ typemap.Type, env encodeEnv) (encoder, error) {
	driverConverts := env.guidConversion
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case typemap.UUID:
			return uuidBytes(x, driverConverts), nil
		case []byte:
			// The copier panics on any length but 16.
			if len(x) != 16 {
				return nil, reasonf("a uniqueidentifier has 16 bytes, not %d", len(x))
			}
			return uuidBytes(typemap.UUID(x), driverConverts), nil
		}
		return nil, wrongType(v, "typemap.UUID")
	}, nil
}

// cut shortens a value quoted in an error message.
func cut(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "…"
}

// Reading back.

// scanAs accepts what the driver returns when it is already the plain value of the kind.
func scanAs[T any](v any, _ bool) (any, error) {
	if x, ok := v.(T); ok {
		return x, nil
	}
	return nil, fmt.Errorf("the driver returned a Go %T, want %T", v, *new(T))
}

// scanDecimal takes the exact text that the driver returns for decimal and money.
func scanDecimal(v any, _ bool) (any, error) {
	switch x := v.(type) {
	case []byte:
		return typemap.DecimalValue(x), nil
	case string:
		return typemap.DecimalValue(x), nil
	}
	return nil, fmt.Errorf("the driver returned a Go %T for a decimal, want its text", v)
}

// scanTimeOfDay takes the clock of the time.Time on 0001-01-01 that the driver returns for time.
func scanTimeOfDay(v any, _ bool) (any, error) {
	x, ok := v.(time.Time)
	if !ok {
		return nil, fmt.Errorf("the driver returned a Go %T for a time, want time.Time", v)
	}
	h, m, s := x.Clock()
	return typemap.TimeOfDay(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(x.Nanosecond())), nil
}

// scanUUID turns the 16 bytes the driver returns into text order: SQL Server sends the first three
// groups little-endian, and the driver swaps them itself only with "guid conversion".
func scanUUID(v any, guidConversion bool) (any, error) {
	b, ok := v.([]byte)
	if !ok || len(b) != 16 {
		return nil, fmt.Errorf("the driver returned a Go %T for a uniqueidentifier, want 16 bytes", v)
	}
	if guidConversion {
		return typemap.UUID(b), nil
	}
	var u mssql.UniqueIdentifier
	if err := u.Scan(b); err != nil {
		return nil, err
	}
	return typemap.UUID(u), nil
}
