package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/simulator"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// tsvFlavor is the text format of a raw bulk tool.
type tsvFlavor int

const (
	// flavorPostgres is COPY's text format.
	flavorPostgres tsvFlavor = iota
	// flavorMySQL is LOAD DATA's default format.
	flavorMySQL
)

func (f tsvFlavor) String() string {
	if f == flavorMySQL {
		return "mysql"
	}
	return "pg"
}

// appendField appends one value, decoded from the wire as the mirror decodes it, in the flavor's text
// form of the column type the mirror stores it in (docs/TYPES.md). nil is NULL.
func appendField(b []byte, f tsvFlavor, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, `\N`...), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64), nil
	case float32:
		return strconv.AppendFloat(b, float64(v), 'g', -1, 32), nil
	case bool:
		switch {
		case f == flavorMySQL && v:
			return append(b, '1'), nil
		case f == flavorMySQL:
			return append(b, '0'), nil
		case v:
			return append(b, 't'), nil
		}
		return append(b, 'f'), nil
	case string:
		return appendEscaped(b, f, v), nil
	case typemap.DecimalValue:
		return append(b, v...), nil
	case typemap.UUID:
		return append(b, v.String()...), nil
	case time.Time:
		v = typemap.RoundToMicro(v)
		if v.Location() == time.UTC {
			return v.AppendFormat(b, "2006-01-02 15:04:05.999999"), nil
		}
		// A datetimeoffset: PostgreSQL keeps the instant (timestamptz), MySQL stores it in UTC.
		if f == flavorMySQL {
			return v.UTC().AppendFormat(b, "2006-01-02 15:04:05.999999"), nil
		}
		return v.AppendFormat(b, "2006-01-02 15:04:05.999999Z07:00"), nil
	case []byte:
		if f == flavorMySQL {
			return appendEscaped(b, f, string(v)), nil
		}
		b = append(b, `\\x`...)
		return hex.AppendEncode(b, v), nil
	}
	return b, fmt.Errorf("tsv: no text form for a value of Go type %T", v)
}

// appendEscaped appends s with the characters that the format gives meaning escaped: the separators,
// the escape character itself, and (for MySQL) NUL.
func appendEscaped(b []byte, f tsvFlavor, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case 0:
			if f == flavorMySQL {
				b = append(b, '\\', '0')
			} else {
				b = append(b, c) // PostgreSQL text cannot hold NUL; COPY rejects it, as it would the mirror's value
			}
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendLine appends one line of the flavor's format: each wire value decoded with its column's
// decoder, as the mirror decodes it, and rendered by appendField.
func appendLine(line []byte, f tsvFlavor, decoders []typemap.Decoder, vals []contract.Value) ([]byte, error) {
	for i, v := range vals {
		if i > 0 {
			line = append(line, '\t')
		}
		var x any
		if !v.Null {
			var err error
			if x, err = decoders[i](v.Text); err != nil {
				return line, fmt.Errorf("column %d: %w", i+1, err)
			}
		}
		var err error
		if line, err = appendField(line, f, x); err != nil {
			return line, fmt.Errorf("column %d: %w", i+1, err)
		}
	}
	return append(line, '\n'), nil
}

// writeTSV writes every row of a table of src to path in the flavor's format, decoding each wire value
// with the decoder the mirror uses. It returns the table's column names in file order.
func writeTSV(ctx context.Context, src *simulator.Source, table string, f tsvFlavor, path string) ([]string, int64, error) {
	t, err := src.Table(ctx, table)
	if err != nil {
		return nil, 0, err
	}
	cols := make([]string, len(t.Columns))
	decoders := make([]typemap.Decoder, len(t.Columns))
	for i, c := range t.Columns {
		ty, err := typemap.ParseType(c.Type)
		if err != nil {
			return nil, 0, fmt.Errorf("tsv: %s.%s: %w", table, c.Name, err)
		}
		cols[i], decoders[i] = c.Name, typemap.DecoderFor(ty)
	}
	cur, err := src.OpenCursor(ctx, t, -1)
	if err != nil {
		return nil, 0, err
	}
	defer cur.Close()
	file, err := os.Create(path)
	if err != nil {
		return nil, 0, fmt.Errorf("tsv: %w", err)
	}
	defer file.Close()
	w := bufio.NewWriterSize(file, 1<<20)
	var line []byte
	var rows int64
	for cur.Next() {
		_, vals := cur.Row()
		if line, err = appendLine(line[:0], f, decoders, vals); err != nil {
			return nil, 0, fmt.Errorf("tsv: %s row %d: %w", table, rows+1, err)
		}
		if _, err := w.Write(line); err != nil {
			return nil, 0, fmt.Errorf("tsv: %w", err)
		}
		rows++
		if rows%65536 == 0 && ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
	}
	if err := cur.Err(); err != nil {
		return nil, 0, fmt.Errorf("tsv: read %s: %w", table, err)
	}
	if err := w.Flush(); err != nil {
		return nil, 0, fmt.Errorf("tsv: %w", err)
	}
	if err := file.Close(); err != nil {
		return nil, 0, fmt.Errorf("tsv: %w", err)
	}
	return cols, rows, nil
}
