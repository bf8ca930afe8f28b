package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// The load writes PostgreSQL's binary COPY format itself (COPY … FROM STDIN BINARY, described in the
// COPY reference page): a header, then per row an int16 field count and per field an int32 length
// (-1 for NULL) and the value in the type's binary send format, then an int16 -1 trailer. pgx's
// CopyFrom plans an encoding per value through its type map, which cost four times our own
// conversion; here each column's encoder is chosen once per load and appends straight into one
// reused buffer.

// copyHeader is the signature, the flags field (no OIDs) and an empty header extension.
const copyHeader = "PGCOPY\n\377\r\n\000" + "\000\000\000\000" + "\000\000\000\000"

// copyChunk is the buffer size below which a fill keeps encoding rows: pgconn sends whatever one Read
// returns as one CopyData message, and reads into a 64 KiB buffer.
const copyChunk = 64 << 10

// maxKeptBuffer bounds the buffer kept between fills: a huge value grows it, and it is dropped once sent.
const maxKeptBuffer = 4 << 20

// maxNULWarnings bounds the NUL warnings of one copy; the metric still counts every replacement.
const maxNULWarnings = 10

// encodeFunc appends one non-nil value of a column as a binary COPY field: its int32 length and its
// bytes in the binary format of the column's PostgreSQL type. It is chosen once per column, so the row
// loop has no type dispatch beyond the assertion each function makes. A value the column cannot hold
// is a *dialect.ValueError without column and row, which the caller fills in.
type encodeFunc func(buf []byte, v any) ([]byte, error)

// errCopyEnded answers a Read after the COPY returned, which pgconn may attempt when it gives up on a
// broken connection without waiting for its sending goroutine.
var errCopyEnded = errors.New("copy already ended")

// copySource streams a dialect.RowSource as a binary COPY body. It is the io.Reader that pgconn's
// CopyFrom reads from: each Read encodes rows on demand until it has a message's worth, so memory
// stays bounded by one chunk (or one row, if a row is larger) whatever the number of rows.
type copySource struct {
	ctx   context.Context
	src   dialect.RowSource
	enc   []encodeFunc
	row   int
	cur   []any // the source's values of the current row, for warnings
	err   error // why the stream stopped, kept so that it survives pgconn's CopyFail round trip
	table string
	cols  []typemap.Column
	keyAt []int // positions of the key columns in cols, for NUL warnings
	log   *slog.Logger
	warns int // NUL warnings logged by this copy

	// mu orders Reads, which run in pgconn's goroutine, before end, so that the row source is never
	// touched after copyRows returns.
	mu      sync.Mutex
	buf     []byte
	off     int // bytes of buf already handed out
	started bool
	done    bool // the trailer is in buf
	ended   bool
}

// Read hands out encoded bytes, encoding more rows when fewer than len(p) are pending, so that every
// message but the last is full.
func (s *copySource) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return 0, errCopyEnded
	}
	if s.err != nil {
		return 0, s.err
	}
	if len(s.buf)-s.off < len(p) && !s.done {
		if s.off == len(s.buf) && cap(s.buf) > maxKeptBuffer {
			s.buf = nil
		}
		n := copy(s.buf, s.buf[s.off:])
		s.buf, s.off = s.buf[:n], 0
		if err := s.fill(max(len(p), copyChunk)); err != nil {
			s.err = err
			return 0, err
		}
	}
	if s.off == len(s.buf) {
		return 0, io.EOF
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

// end makes further Reads fail; it waits for a Read in progress.
func (s *copySource) end() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
}

// fill encodes rows until want bytes are pending or the source ends, after which it appends the trailer.
func (s *copySource) fill(want int) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if !s.started {
		if s.buf == nil {
			// A chunk and a typical row's overshoot, so that the first fill does not grow it step by step.
			s.buf = make([]byte, 0, copyChunk+copyChunk/4)
		}
		s.buf = append(s.buf, copyHeader...)
		s.started = true
	}
	for len(s.buf) < want {
		if !s.src.Next() {
			if err := s.src.Err(); err != nil {
				return fmt.Errorf("row %d: %w", s.row+1, err)
			}
			s.buf = append(s.buf, 0xff, 0xff)
			s.done = true
			return nil
		}
		s.row++
		vals, err := s.src.Values()
		if err != nil {
			return fmt.Errorf("row %d: %w", s.row, err)
		}
		s.cur = vals
		if len(vals) != len(s.enc) {
			return fmt.Errorf("row %d has %d values for %d columns", s.row, len(vals), len(s.enc))
		}
		s.buf = binary.BigEndian.AppendUint16(s.buf, uint16(len(vals)))
		for i, v := range vals {
			if v == nil {
				s.buf = append(s.buf, 0xff, 0xff, 0xff, 0xff)
				continue
			}
			if s.buf, err = s.enc[i](s.buf, v); err != nil {
				return s.valueError(i, err)
			}
		}
	}
	return nil
}

// valueError names the column and row of a conversion failure.
func (s *copySource) valueError(i int, err error) error {
	var ve *dialect.ValueError
	if errors.As(err, &ve) {
		ve.Column, ve.Row = s.cols[i].Name, s.row
		return ve
	}
	return fmt.Errorf("column %q, row %d: %w", s.cols[i].Name, s.row, err)
}

// copyRows copies rows (values for cols, in order) into target with binary COPY. target is the
// (schema-qualified) table; its last part is the name that the server's error context shows.
func (t *Tx) copyRows(ctx context.Context, tbl dialect.Table, target pgx.Identifier, cols []typemap.Column, rows dialect.RowSource) (int64, error) {
	src := &copySource{
		ctx:   ctx,
		src:   rows,
		enc:   make([]encodeFunc, len(cols)),
		table: tbl.Name,
		cols:  cols,
		log:   t.log,
	}
	var sql strings.Builder
	sql.WriteString("COPY ")
	for i, part := range target {
		if err := checkName(part); err != nil {
			return 0, err
		}
		if i > 0 {
			sql.WriteByte('.')
		}
		sql.WriteString(quoteUnchecked(part))
	}
	sql.WriteString(" (")
	for i, c := range cols {
		if err := checkName(c.Name); err != nil {
			return 0, err
		}
		if i > 0 {
			sql.WriteString(", ")
		}
		sql.WriteString(quoteUnchecked(c.Name))
		enc, err := src.encoder(i)
		if err != nil {
			return 0, err
		}
		src.enc[i] = enc
	}
	sql.WriteString(") FROM STDIN BINARY")
	// Key columns for NUL warnings: by name, as Delete stages only the key columns.
	for _, k := range tbl.KeyColumns() {
		for i, c := range cols {
			if c.Name == k.Name {
				src.keyAt = append(src.keyAt, i)
			}
		}
	}
	tag, err := t.tx.Conn().PgConn().CopyFrom(ctx, src, sql.String())
	src.end()
	if err != nil {
		if src.err != nil {
			return 0, src.err
		}
		return 0, mapError(err, target[len(target)-1], cols)
	}
	return tag.RowsAffected(), nil
}

// encoder picks the encoding of column i from its SQL Server type, which fixes the PostgreSQL type
// (ColumnType) of both the table and the staging tables copied from it.
func (s *copySource) encoder(i int) (encodeFunc, error) {
	t := s.cols[i].Type
	switch t.Kind {
	case typemap.Bit:
		return encodeBool, nil
	case typemap.TinyInt, typemap.SmallInt:
		return encodeInt2, nil
	case typemap.Int:
		return encodeInt4, nil
	case typemap.BigInt:
		return encodeInt8, nil
	case typemap.Decimal:
		return numericEncoder(t.Scale), nil
	case typemap.Money, typemap.SmallMoney:
		return numericEncoder(4), nil
	case typemap.Float:
		return encodeFloat8, nil
	case typemap.Real:
		return encodeFloat4, nil
	case typemap.Date:
		return encodeDate, nil
	case typemap.Time:
		return encodeTime, nil
	case typemap.SmallDateTime, typemap.DateTime, typemap.DateTime2:
		return encodeTimestamp, nil
	case typemap.DateTimeOffset:
		return encodeTimestamptz, nil
	case typemap.UniqueIdentifier:
		return encodeUUID, nil
	case typemap.Binary, typemap.VarBinary, typemap.Image, typemap.RowVersion:
		return encodeBytea, nil
	}
	if isTextual(t.Kind) {
		return func(buf []byte, v any) ([]byte, error) { return s.encodeText(buf, i, v) }, nil
	}
	return nil, fmt.Errorf("postgres: column %q: no binary encoding for SQL Server type kind %d", s.cols[i].Name, t.Kind)
}

func typeError(v any, want string) error {
	return fmt.Errorf("value of Go type %T where %s was expected", v, want)
}

// appendLen appends a field's int32 length.
func appendLen(buf []byte, n int) []byte { return binary.BigEndian.AppendUint32(buf, uint32(n)) }

func encodeBool(buf []byte, v any) ([]byte, error) {
	b, ok := v.(bool)
	if !ok {
		return buf, typeError(v, "bool")
	}
	if b {
		return append(buf, 0, 0, 0, 1, 1), nil
	}
	return append(buf, 0, 0, 0, 1, 0), nil
}

// The integer encoders check the range of the PostgreSQL column, so that a bad value is a ValueError
// naming the row rather than a wrapped number.

func encodeInt2(buf []byte, v any) ([]byte, error) {
	n, ok := v.(int64)
	if !ok {
		return buf, typeError(v, "int64")
	}
	if n < math.MinInt16 || n > math.MaxInt16 {
		return buf, &dialect.ValueError{Reason: "out of range for smallint"}
	}
	return binary.BigEndian.AppendUint16(append(buf, 0, 0, 0, 2), uint16(n)), nil
}

func encodeInt4(buf []byte, v any) ([]byte, error) {
	n, ok := v.(int64)
	if !ok {
		return buf, typeError(v, "int64")
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return buf, &dialect.ValueError{Reason: "out of range for integer"}
	}
	return binary.BigEndian.AppendUint32(append(buf, 0, 0, 0, 4), uint32(n)), nil
}

func encodeInt8(buf []byte, v any) ([]byte, error) {
	n, ok := v.(int64)
	if !ok {
		return buf, typeError(v, "int64")
	}
	return binary.BigEndian.AppendUint64(append(buf, 0, 0, 0, 8), uint64(n)), nil
}

func encodeFloat8(buf []byte, v any) ([]byte, error) {
	f, ok := v.(float64)
	if !ok {
		return buf, typeError(v, "float64")
	}
	return binary.BigEndian.AppendUint64(append(buf, 0, 0, 0, 8), math.Float64bits(f)), nil
}

// encodeFloat4 narrows a real's float64 back to float32, which is exact for values that came from a
// 4-byte real.
func encodeFloat4(buf []byte, v any) ([]byte, error) {
	f, ok := v.(float64)
	if !ok {
		return buf, typeError(v, "float64")
	}
	r := float32(f)
	if math.IsInf(float64(r), 0) && !math.IsInf(f, 0) {
		return buf, &dialect.ValueError{Reason: "out of range for real"}
	}
	return binary.BigEndian.AppendUint32(append(buf, 0, 0, 0, 4), math.Float32bits(r)), nil
}

// Dates and timestamps count from PostgreSQL's epoch, 2000-01-01 (00:00:00 UTC for timestamptz).
const (
	pgEpochUnix   = 946684800 // 2000-01-01 in Unix seconds
	pgEpochDays   = pgEpochUnix / 86400
	secondsPerDay = 86400
	microsPerSec  = 1_000_000
	// maxEpochSeconds keeps microseconds, and an instant two days off a wall clock, within int64;
	// PostgreSQL's own range ends well inside it.
	maxEpochSeconds = math.MaxInt64/microsPerSec - 2*secondsPerDay
	// maxWallMicros is 9999-12-31 23:59:59.999999, where typemap.RoundToMicro clamps.
	maxWallMicros = (253402300799-pgEpochUnix)*microsPerSec + 999999
)

// wallUnix returns t's wall clock in its own location as seconds since 1970-01-01 00:00:00.
func wallUnix(t time.Time) int64 {
	if loc := t.Location(); loc == time.UTC {
		return t.Unix()
	}
	_, off := t.Zone()
	return t.Unix() + int64(off)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// encodeDate sends the date of the value's wall clock as days since 2000-01-01.
func encodeDate(buf []byte, v any) ([]byte, error) {
	t, ok := v.(time.Time)
	if !ok {
		return buf, typeError(v, "time.Time")
	}
	days := floorDiv(wallUnix(t), secondsPerDay) - pgEpochDays
	if days < math.MinInt32 || days > math.MaxInt32 {
		return buf, &dialect.ValueError{Reason: "out of range for date"}
	}
	return binary.BigEndian.AppendUint32(append(buf, 0, 0, 0, 4), uint32(days)), nil
}

// encodeTime sends a time of day as microseconds since midnight, rounded half up (TYPES.md).
func encodeTime(buf []byte, v any) ([]byte, error) {
	t, ok := v.(typemap.TimeOfDay)
	if !ok {
		return buf, typeError(v, "typemap.TimeOfDay")
	}
	return binary.BigEndian.AppendUint64(append(buf, 0, 0, 0, 8), uint64(int64(t.RoundToMicro())/1000)), nil
}

// wallMicros returns t's wall clock as microseconds since 2000-01-01 00:00:00, rounded half up as
// typemap.RoundToMicro rounds (including its clamp at the end of year 9999), and the zone offset.
// The server rounds further to the column's precision on input.
func wallMicros(t time.Time) (micros, offset int64, ok bool) {
	sec := wallUnix(t)
	offset = sec - t.Unix()
	sec -= pgEpochUnix
	if sec > maxEpochSeconds || sec < -maxEpochSeconds {
		return 0, 0, false
	}
	ns := int64(t.Nanosecond())
	floor := sec*microsPerSec + ns/1000
	micros = sec*microsPerSec + (ns+500)/1000
	if micros > maxWallMicros && floor <= maxWallMicros {
		micros = maxWallMicros
	}
	return micros, offset, true
}

// encodeTimestamp sends a naive value's wall clock.
func encodeTimestamp(buf []byte, v any) ([]byte, error) {
	t, ok := v.(time.Time)
	if !ok {
		return buf, typeError(v, "time.Time")
	}
	us, _, ok := wallMicros(t)
	if !ok {
		return buf, &dialect.ValueError{Reason: "out of range for timestamp"}
	}
	return binary.BigEndian.AppendUint64(append(buf, 0, 0, 0, 8), uint64(us)), nil
}

// encodeTimestamptz sends a datetimeoffset's instant, rounded on its own wall clock.
func encodeTimestamptz(buf []byte, v any) ([]byte, error) {
	t, ok := v.(time.Time)
	if !ok {
		return buf, typeError(v, "time.Time")
	}
	us, off, ok := wallMicros(t)
	if !ok {
		return buf, &dialect.ValueError{Reason: "out of range for timestamptz"}
	}
	return binary.BigEndian.AppendUint64(append(buf, 0, 0, 0, 8), uint64(us-off*microsPerSec)), nil
}

func encodeUUID(buf []byte, v any) ([]byte, error) {
	u, ok := v.(typemap.UUID)
	if !ok {
		return buf, typeError(v, "typemap.UUID")
	}
	return append(append(buf, 0, 0, 0, 16), u[:]...), nil
}

func encodeBytea(buf []byte, v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return buf, typeError(v, "[]byte")
	}
	if len(b) > math.MaxInt32 {
		return buf, &dialect.ValueError{Reason: "too long for bytea"}
	}
	return append(appendLen(buf, len(b)), b...), nil
}

// Limits of numeric's binary form: int16 digit count and weight, and the largest display scale.
const (
	numericMaxGroups = math.MaxInt16
	numericMaxDScale = 0x3FFF
	numericNegative  = 0x4000
)

// numericEncoder encodes exact decimal text as numeric's binary form, without floating point: ndigits,
// weight (of the first base-10000 digit), sign and display scale, all int16, then the base-10000
// digits, with leading and trailing zero digits dropped. The display scale is the column's scale, or
// the text's if it has more fraction digits: the server then rounds to the column's scale, as it did
// for pgx's encoding. Precision overflow is the server's to report (numeric field overflow).
func numericEncoder(scale int) encodeFunc {
	return func(buf []byte, v any) ([]byte, error) {
		d, ok := v.(typemap.DecimalValue)
		if !ok {
			return buf, typeError(v, "typemap.DecimalValue")
		}
		s := string(d)
		neg := len(s) > 0 && s[0] == '-'
		if neg {
			s = s[1:]
		}
		ip, fp := s, ""
		if i := strings.IndexByte(s, '.'); i >= 0 {
			ip, fp = s[:i], s[i+1:]
		}
		if len(ip)+len(fp) == 0 || !isDigits(ip) || !isDigits(fp) {
			return buf, &dialect.ValueError{Reason: "not an exact decimal number"}
		}
		ip = strings.TrimLeft(ip, "0")
		dscale := max(len(fp), scale, 0)
		// Digit positions are aligned so that the integer part ends on a group boundary: lead zeros
		// pad it on the left, zeros past the text pad the fraction on the right.
		lead := (4 - len(ip)%4) % 4
		intGroups := (lead + len(ip)) / 4
		groups := intGroups + (len(fp)+3)/4
		if groups > numericMaxGroups || dscale > numericMaxDScale {
			return buf, &dialect.ValueError{Reason: "out of range for numeric"}
		}
		weight := intGroups - 1
		start := len(buf)
		buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		nd, kept := 0, 0 // digits written, and written up to the last nonzero one
		for g := range groups {
			x := 0
			for k := g*4 - lead; k < g*4-lead+4; k++ {
				x *= 10
				switch {
				case k < 0:
				case k < len(ip):
					x += int(ip[k] - '0')
				case k-len(ip) < len(fp):
					x += int(fp[k-len(ip)] - '0')
				}
			}
			if nd == 0 && x == 0 {
				weight--
				continue
			}
			buf = binary.BigEndian.AppendUint16(buf, uint16(x))
			nd++
			if x != 0 {
				kept = nd
			}
		}
		buf = buf[:start+12+2*kept]
		sign := 0
		if kept == 0 {
			weight = 0
		} else if neg {
			sign = numericNegative
		}
		h := buf[start:]
		binary.BigEndian.PutUint32(h[0:], uint32(8+2*kept))
		binary.BigEndian.PutUint16(h[4:], uint16(kept))
		binary.BigEndian.PutUint16(h[6:], uint16(int16(weight)))
		binary.BigEndian.PutUint16(h[8:], uint16(sign))
		binary.BigEndian.PutUint16(h[10:], uint16(dscale))
		return buf, nil
	}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// encodeText sends a string's UTF-8 bytes (the server checks them against the client encoding, UTF8).
// PostgreSQL text cannot hold U+0000: it is replaced with U+FFFD, counted and logged.
func (s *copySource) encodeText(buf []byte, i int, v any) ([]byte, error) {
	str, ok := v.(string)
	if !ok {
		return buf, typeError(v, "string")
	}
	if strings.IndexByte(str, 0) >= 0 {
		str = s.replaceNULs(i, str)
	}
	if len(str) > math.MaxInt32 {
		return buf, &dialect.ValueError{Reason: "too long for text"}
	}
	return append(appendLen(buf, len(str)), str...), nil
}

// replaceNULs replaces U+0000 with U+FFFD, and says so.
func (s *copySource) replaceNULs(i int, str string) string {
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
	return strings.ReplaceAll(str, "\x00", "\uFFFD")
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
