package dialect_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mirrorsink/mirrorsink/dialect"
	"github.com/mirrorsink/mirrorsink/typemap"
	"github.com/mirrorsink/mirrorsink/typemap/canon"
)

// TestAppendJournalKey pins the journal's key text: integers as JSON numbers (also as a driver scans
// them back, int32), everything else as canonical text in a JSON string, escaped, with the target's
// losses applied, so that the engine's key of a row and a verifier's key of the mirror's row agree.
func TestAppendJournalKey(t *testing.T) {
	at := time.Date(2020, 5, 18, 10, 40, 43, 123456700, time.UTC)
	typ := func(k typemap.Kind) typemap.Type { return typemap.Type{Kind: k, Length: 50, Precision: 7} }
	for _, tc := range []struct {
		name   string
		types  []typemap.Type
		vals   []any
		losses canon.Losses
		want   string
	}{
		{"int", []typemap.Type{typ(typemap.Int)}, []any{int64(42)}, canon.Losses{}, `[42]`},
		{"int scanned as int32", []typemap.Type{typ(typemap.Int)}, []any{int32(-7)}, canon.Losses{}, `[-7]`},
		{"composite", []typemap.Type{typ(typemap.Int), typ(typemap.NVarChar)}, []any{int64(1), "x"}, canon.Losses{}, `[1,"x"]`},
		{"escapes", []typemap.Type{typ(typemap.NVarChar)}, []any{"a\"b\\c\td\x01é\xff"}, canon.Losses{}, `["a\"b\\c\td\u0001é` + "\ufffd" + `"]`},
		{"NUL where the target replaces it", []typemap.Type{typ(typemap.NVarChar)}, []any{"a\x00b"}, canon.Losses{NULReplaced: true}, `["a` + "\ufffd" + `b"]`},
		{"NUL kept", []typemap.Type{typ(typemap.NVarChar)}, []any{"a\x00b"}, canon.Losses{}, `["a\u0000b"]`},
		{"datetime2", []typemap.Type{typ(typemap.DateTime2)}, []any{at}, canon.Losses{}, `["2020-05-18 10:40:43.1234567"]`},
		{"datetime2 at microseconds", []typemap.Type{typ(typemap.DateTime2)}, []any{at}, canon.Losses{MicroTime: true}, `["2020-05-18 10:40:43.1234570"]`},
		{"decimal", []typemap.Type{{Kind: typemap.Decimal, Precision: 19, Scale: 4}}, []any{typemap.DecimalValue("12.5")}, canon.Losses{}, `["12.5"]`},
		{"null", []typemap.Type{typ(typemap.Int)}, []any{nil}, canon.Losses{}, `[null]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dialect.AppendJournalKey([]byte("prefix"), tc.types, tc.vals, tc.losses)
			if err != nil {
				t.Fatal(err)
			}
			if string(got[6:]) != tc.want || string(got[:6]) != "prefix" {
				t.Fatalf("got %s, want %s", got[6:], tc.want)
			}
			if !json.Valid(got[6:]) {
				t.Fatalf("%s is not JSON", got[6:])
			}
		})
	}
	if _, err := dialect.AppendJournalKey(nil, []typemap.Type{typ(typemap.Int)}, nil, canon.Losses{}); err == nil {
		t.Fatal("a key with fewer values than key columns was encoded")
	}
}

// TestJournalBatch: changes come back in order, a wipe's key as nil, and a key that fails to encode
// leaves the batch as it was.
func TestJournalBatch(t *testing.T) {
	var b dialect.JournalBatch
	b.Add(dialect.JournalWipe, nil)
	types := []typemap.Type{{Kind: typemap.Int}}
	if err := b.AddKey(dialect.JournalInsert, types, []any{int64(5)}, canon.Losses{}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddKey(dialect.JournalUpdate, types, []any{"not an int"}, canon.Losses{}); err == nil {
		t.Fatal("a key that does not fit its type was encoded")
	}
	b.Add(dialect.JournalDelete, []byte(`[6]`))
	if b.Len() != 3 {
		t.Fatalf("%d changes, want 3", b.Len())
	}
	for i, want := range []struct {
		op  dialect.JournalOp
		key string
	}{{dialect.JournalWipe, ""}, {dialect.JournalInsert, "[5]"}, {dialect.JournalDelete, "[6]"}} {
		op, key := b.Change(i)
		if op != want.op || string(key) != want.key || (want.key == "") != (key == nil) {
			t.Errorf("change %d: %c %q, want %c %q", i, op, key, want.op, want.key)
		}
	}
	b.Reset()
	if b.Len() != 0 {
		t.Fatal("Reset kept changes")
	}
}
