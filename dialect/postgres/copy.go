package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// convertFunc turns one non-nil value of a column into what pgx's binary encoder takes for the
// column's PostgreSQL type. It is chosen once per column, so the row loop has no type dispatch beyond
// the assertion each function makes.
type convertFunc func(v any) (any, error)

// copySource adapts a dialect.RowSource to pgx.CopyFromSource, converting values in place into one
// reused slice. pgx encodes each row before asking for the next, so per-column scratch (big.Int) is
// safe to reuse too.
type copySource struct {
	src   dialect.RowSource
	conv  []convertFunc
	out   []any
	row   int
	cur   []any // the source's values of the current row, for warnings
	err   error // a conversion failure, kept so that it survives pgx's CopyFail round trip
	table string
	cols  []typemap.Column
	keyAt []int // positions of the key columns in cols, for NUL warnings
	log   *slog.Logger
	warns int // NUL warnings logged by this copy
}

// maxNULWarnings bounds the NUL warnings of one copy; the metric still counts every replacement.
const maxNULWarnings = 10

func (s *copySource) Next() bool {
	if !s.src.Next() {
		return false
	}
	s.row++
	return true
}

func (s *copySource) Values() ([]any, error) {
	vals, err := s.src.Values()
	if err != nil {
		s.err = fmt.Errorf("row %d: %w", s.row, err)
		return nil, s.err
	}
	s.cur = vals
	if len(vals) != len(s.conv) {
		s.err = fmt.Errorf("row %d has %d values for %d columns", s.row, len(vals), len(s.conv))
		return nil, s.err
	}
	for i, v := range vals {
		if v == nil || s.conv[i] == nil {
			s.out[i] = v
			continue
		}
		c, err := s.conv[i](v)
		if err != nil {
			var ve *dialect.ValueError
			if errors.As(err, &ve) {
				ve.Column, ve.Row = s.cols[i].Name, s.row
				s.err = ve
			} else {
				s.err = fmt.Errorf("column %q, row %d: %w", s.cols[i].Name, s.row, err)
			}
			return nil, s.err
		}
		s.out[i] = c
	}
	return s.out, nil
}

func (s *copySource) Err() error { return s.src.Err() }

// copyRows copies rows (values for cols, in order) into target with binary COPY. target is the
// (schema-qualified) table; its last part is the name that the server's error context shows.
func (t *Tx) copyRows(ctx context.Context, tbl dialect.Table, target pgx.Identifier, cols []typemap.Column, rows dialect.RowSource) (int64, error) {
	src := &copySource{
		src:   rows,
		conv:  make([]convertFunc, len(cols)),
		out:   make([]any, len(cols)),
		table: tbl.Name,
		cols:  cols,
		log:   t.log,
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		if err := checkName(c.Name); err != nil {
			return 0, err
		}
		names[i] = c.Name
		src.conv[i] = src.converter(i)
	}
	// Key columns for NUL warnings: by name, as Delete stages only the key columns.
	for _, k := range tbl.KeyColumns() {
		for i, c := range cols {
			if c.Name == k.Name {
				src.keyAt = append(src.keyAt, i)
			}
		}
	}
	n, err := t.tx.CopyFrom(ctx, target, names, src)
	if err != nil {
		if src.err != nil {
			return n, src.err
		}
		return n, mapError(err, target[len(target)-1], cols)
	}
	return n, nil
}

// converter picks the conversion of column i. Each conversion writes into a scratch value of its own
// column and hands pgx a pointer to it: a pointer fits an interface without allocating, where boxing a
// time.Time or int64 (as pgx's own wrappers do) costs an allocation per value. pgx encodes a row
// before it asks for the next, so one scratch value per column is enough.
func (s *copySource) converter(i int) convertFunc {
	t := s.cols[i].Type
	switch t.Kind {
	case typemap.Bit:
		return nil // bool boxes without allocating
	case typemap.TinyInt, typemap.SmallInt:
		return intConverter(math.MinInt16, math.MaxInt16, "smallint")
	case typemap.Int:
		return intConverter(math.MinInt32, math.MaxInt32, "integer")
	case typemap.BigInt:
		return intConverter(math.MinInt64, math.MaxInt64, "bigint")
	case typemap.Decimal, typemap.Money, typemap.SmallMoney:
		return decimalConverter()
	case typemap.Float:
		return floatConverter()
	case typemap.Real:
		return realConverter()
	case typemap.Date:
		return dateConverter()
	case typemap.Time:
		return timeConverter()
	case typemap.SmallDateTime, typemap.DateTime, typemap.DateTime2:
		return timestampConverter()
	case typemap.DateTimeOffset:
		return timestamptzConverter()
	case typemap.UniqueIdentifier:
		return uuidConverter()
	}
	if isTextual(t.Kind) {
		return func(v any) (any, error) { return s.convertText(i, v) }
	}
	// []byte goes to pgx unchanged.
	return nil
}

func typeError(v any, want string) error {
	return fmt.Errorf("value of Go type %T where %s was expected", v, want)
}

// intConverter checks the range of the PostgreSQL column, so that a bad value is a ValueError rather
// than an encoding failure inside pgx.
func intConverter(lo, hi int64, typ string) convertFunc {
	scratch := &pgtype.Int8{Valid: true}
	return func(v any) (any, error) {
		n, ok := v.(int64)
		if !ok {
			return nil, typeError(v, "int64")
		}
		if n < lo || n > hi {
			return nil, &dialect.ValueError{Reason: "out of range for " + typ}
		}
		scratch.Int64 = n
		return scratch, nil
	}
}

func floatConverter() convertFunc {
	scratch := &pgtype.Float8{Valid: true}
	return func(v any) (any, error) {
		f, ok := v.(float64)
		if !ok {
			return nil, typeError(v, "float64")
		}
		scratch.Float64 = f
		return scratch, nil
	}
}

// realConverter narrows a real's float64 back to float32, which is exact for values that came from a
// 4-byte real.
func realConverter() convertFunc {
	scratch := &pgtype.Float4{Valid: true}
	return func(v any) (any, error) {
		f, ok := v.(float64)
		if !ok {
			return nil, typeError(v, "float64")
		}
		r := float32(f)
		if math.IsInf(float64(r), 0) && !math.IsInf(f, 0) {
			return nil, &dialect.ValueError{Reason: "out of range for real"}
		}
		scratch.Float32 = r
		return scratch, nil
	}
}

// dateConverter sends the date of the value's wall clock.
func dateConverter() convertFunc {
	scratch := &pgtype.Date{Valid: true}
	return func(v any) (any, error) {
		t, ok := v.(time.Time)
		if !ok {
			return nil, typeError(v, "time.Time")
		}
		scratch.Time = t
		return scratch, nil
	}
}

// timeConverter rounds a time of day half up to microseconds (TYPES.md).
func timeConverter() convertFunc {
	scratch := &pgtype.Time{Valid: true}
	return func(v any) (any, error) {
		t, ok := v.(typemap.TimeOfDay)
		if !ok {
			return nil, typeError(v, "typemap.TimeOfDay")
		}
		scratch.Microseconds = int64(t.RoundToMicro()) / 1000
		return scratch, nil
	}
}

// roundMicro rounds half up to microseconds, where pgx would truncate. The server rounds further to
// the column's precision (timestamp(3), timestamp(0)) on input.
func roundMicro(t time.Time) time.Time {
	if t.Nanosecond()%1000 == 0 {
		return t
	}
	return typemap.RoundToMicro(t)
}

// timestampConverter sends a naive value's wall clock (pgx drops the location).
func timestampConverter() convertFunc {
	scratch := &pgtype.Timestamp{Valid: true}
	return func(v any) (any, error) {
		t, ok := v.(time.Time)
		if !ok {
			return nil, typeError(v, "time.Time")
		}
		scratch.Time = roundMicro(t)
		return scratch, nil
	}
}

// timestamptzConverter sends a datetimeoffset's instant.
func timestamptzConverter() convertFunc {
	scratch := &pgtype.Timestamptz{Valid: true}
	return func(v any) (any, error) {
		t, ok := v.(time.Time)
		if !ok {
			return nil, typeError(v, "time.Time")
		}
		scratch.Time = roundMicro(t)
		return scratch, nil
	}
}

func uuidConverter() convertFunc {
	scratch := &pgtype.UUID{Valid: true}
	return func(v any) (any, error) {
		u, ok := v.(typemap.UUID)
		if !ok {
			return nil, typeError(v, "typemap.UUID")
		}
		scratch.Bytes = u
		return scratch, nil
	}
}

// decimalConverter parses exact decimal text into a pgtype.Numeric (digits as a big.Int and a decimal
// exponent) without floating point.
func decimalConverter() convertFunc {
	scratch := &pgtype.Numeric{Int: new(big.Int), Valid: true}
	var digits []byte
	return func(v any) (any, error) {
		d, ok := v.(typemap.DecimalValue)
		if !ok {
			return nil, typeError(v, "typemap.DecimalValue")
		}
		s := string(d)
		neg := strings.HasPrefix(s, "-")
		if neg {
			s = s[1:]
		}
		exp := int32(0)
		digits = digits[:0]
		seenDot := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c >= '0' && c <= '9':
				digits = append(digits, c)
				if seenDot {
					exp--
				}
			case c == '.' && !seenDot:
				seenDot = true
			default:
				return nil, &dialect.ValueError{Reason: "not an exact decimal number"}
			}
		}
		if len(digits) == 0 {
			return nil, &dialect.ValueError{Reason: "not an exact decimal number"}
		}
		n := scratch.Int
		if len(digits) <= 19 {
			// Fits uint64: skip the string conversion and big.Int's parser.
			var u uint64
			for _, c := range digits {
				u = u*10 + uint64(c-'0')
			}
			n.SetUint64(u)
		} else if _, ok := n.SetString(string(digits), 10); !ok {
			return nil, &dialect.ValueError{Reason: "not an exact decimal number"}
		}
		if neg {
			n.Neg(n)
		}
		scratch.Exp = exp
		return scratch, nil
	}
}

// convertText replaces U+0000, which PostgreSQL text cannot hold, with U+FFFD, and says so.
func (s *copySource) convertText(i int, v any) (any, error) {
	str, ok := v.(string)
	if !ok {
		return nil, typeError(v, "string")
	}
	if strings.IndexByte(str, 0) < 0 {
		return v, nil
	}
	n := strings.Count(str, "\x00")
	dialect.NULsReplaced.Add(int64(n))
	s.warns++
	switch {
	case s.warns <= maxNULWarnings:
		s.log.Warn("postgres: NUL characters replaced with U+FFFD", "table", s.table, "column", s.cols[i].Name,
			"key", s.keyText(), "row", s.row, "count", n)
	case s.warns == maxNULWarnings+1:
		s.log.Warn("postgres: more NUL characters replaced in this batch; not logging each",
			"table", s.table, "column", s.cols[i].Name, "key", s.keyText(), "row", s.row)
	}
	return strings.ReplaceAll(str, "\x00", "\uFFFD"), nil
}

// keyText renders the current row's key for a warning; keys are not secret (dialect.OpenOptions).
func (s *copySource) keyText() string {
	var b strings.Builder
	for j, k := range s.keyAt {
		if j > 0 {
			b.WriteString(",")
		}
		fmt.Fprint(&b, s.keyValue(k))
	}
	return b.String()
}

func (s *copySource) keyValue(k int) any {
	if k >= len(s.cur) {
		return "?"
	}
	switch v := s.cur[k].(type) {
	case typemap.UUID:
		return v.String()
	case nil:
		return "NULL"
	default:
		return v
	}
}

// mapError turns a server error into the dialect's errors: a unique violation into ErrDuplicateKey,
// a data exception into a *dialect.ValueError naming the column and, for a COPY into target, the row.
func mapError(err error, target string, cols []typemap.Column) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == codeUniqueViolation:
		// The detail names the key's value; the message (with the constraint) is enough to act on.
		return fmt.Errorf("%w: %s", dialect.ErrDuplicateKey, pe.Message)
	case strings.HasPrefix(pe.Code, "22") || pe.Code == "23502":
		col, row := copyContext(pe, target, cols)
		return &dialect.ValueError{Column: col, Row: row, Reason: pe.Message + " (SQLSTATE " + pe.Code + ")"}
	}
	return err
}

// copyContext recovers the column and row from a COPY error, whose context reads
// `COPY <target>, line <n>, column <column>[: <value>]` (in binary COPY the line is the row number).
// Neither name is quoted there, so both are matched against the known names instead of split on
// separators a name may contain.
func copyContext(pe *pgconn.PgError, target string, cols []typemap.Column) (column string, row int) {
	column = pe.ColumnName
	prefix := "COPY " + target + ", line "
	i := strings.Index(pe.Where, prefix)
	if target == "" || i < 0 {
		return column, 0
	}
	rest := pe.Where[i+len(prefix):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	row, _ = strconv.Atoi(rest[:j])
	rest, ok := strings.CutPrefix(rest[j:], ", column ")
	if !ok || column != "" {
		return column, row
	}
	best := ""
	for _, c := range cols {
		if len(c.Name) > len(best) && strings.HasPrefix(rest, c.Name) &&
			(len(rest) == len(c.Name) || rest[len(c.Name)] == ':') {
			best = c.Name
		}
	}
	return best, row
}
