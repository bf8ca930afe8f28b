package typemap

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// The typed parsers are what the decoders are made of, so the decode tests cover their accepting and
// refusing; these tests cover what is theirs alone: WallTime's calendar arithmetic, and that parsing
// allocates nothing.

// checkWall compares a WallTime's calendar with time.Time's for the same wall clock.
func checkWall(t *testing.T, w WallTime) {
	t.Helper()
	want := time.Unix(w.Wall, int64(w.Nanos)).UTC()
	y, m, d := w.Date()
	h, mi, s := w.Clock()
	wy, wm, wd := want.Date()
	wh, wmi, ws := want.Clock()
	if y != wy || m != wm || d != wd || h != wh || mi != wmi || s != ws {
		t.Fatalf("wall %d: Date/Clock %04d-%02d-%02d %02d:%02d:%02d, time.Time says %s", w.Wall, y, m, d, h, mi, s, want)
	}
	if got := civilSeconds(wy, int(wm), wd, wh, wmi, ws); got != w.Wall {
		t.Fatalf("civilSeconds(%s) = %d, want %d", want, got, w.Wall)
	}
}

func TestWallTimeCalendar(t *testing.T) {
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	last := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	for _, day := range []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 2, 28, 12, 0, 0, 0, time.UTC),
		time.Date(4, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1600, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1899, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(1900, 2, 28, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2079, 6, 6, 23, 59, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		checkWall(t, WallTime{Wall: day.Unix()})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		checkWall(t, WallTime{Wall: first + r.Int64N(last-first+1)})
	}
}

func FuzzWallTimeCalendar(f *testing.F) {
	f.Add(int64(0))
	f.Add(int64(-62135596800))
	f.Add(int64(253402300799))
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	last := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	f.Fuzz(func(t *testing.T, sec int64) {
		if sec < first || sec > last {
			return
		}
		checkWall(t, WallTime{Wall: sec})
	})
}

// TestTypedParsersMatchDecoders checks, for the decode tests' inputs, that each typed parser gives
// the decoder's value (through the same conversion DecoderFor makes) or the same error.
func TestTypedParsersMatchDecoders(t *testing.T) {
	for _, tt := range decodeTests {
		typ, err := ParseType(tt.typ)
		if err != nil {
			continue
		}
		want, wantErr := DecoderFor(typ)([]byte(tt.in))
		got, gotErr := viaTypedParser(typ, []byte(tt.in))
		if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
			t.Errorf("%s %q: decoder error %v, typed parser error %v", tt.typ, tt.in, wantErr, gotErr)
			continue
		}
		if wantErr == nil && !equalValue(want, got) {
			t.Errorf("%s %q: decoder %#v, typed parser %#v", tt.typ, tt.in, want, got)
		}
	}
}

// viaTypedParser decodes b with the typed parser of typ, boxed as DecoderFor boxes it.
func viaTypedParser(typ Type, b []byte) (any, error) {
	var v any
	var err error
	switch {
	case typ.Kind == Bit:
		v, err = ParseBit(b)
	case typ.IsInteger():
		v, err = IntParser(typ)(b)
	case typ.IsDecimal():
		var d []byte
		d, err = DecimalParser(typ)(nil, b)
		v = DecimalValue(d)
	case typ.IsFloat():
		v, err = FloatParser(typ)(b)
	case typ.Kind == Time:
		v, err = TimeParser(typ)(b)
	case typ.IsTemporal():
		var w WallTime
		w, err = DateTimeParser(typ)(b)
		v = w.Time()
	case typ.IsString():
		err = TextParser(typ)(b)
		v = string(b)
	case typ.IsBinary():
		v, err = BinaryParser(typ)([]byte{}, b)
	case typ.Kind == UniqueIdentifier:
		v, err = ParseUUID(b)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// TestTypedParsersDoNotAllocate: the raw encoders of the dialects call these per value, so they must
// not allocate (binary values append to the caller's buffer, which has room here).
func TestTypedParsersDoNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	parseInt := IntParser(mustType(t, "int"))
	parseDecimal := DecimalParser(mustType(t, "decimal(19,4)"))
	parseFloat := FloatParser(mustType(t, "float"))
	parseDateTime := DateTimeParser(mustType(t, "datetime"))
	parseOffset := DateTimeParser(mustType(t, "datetimeoffset"))
	parseTime := TimeParser(mustType(t, "time"))
	checkText := TextParser(mustType(t, "nvarchar(50)"))
	parseBinary := BinaryParser(mustType(t, "varbinary(max)"))
	in := func(s string) []byte { return []byte(s) }
	bit, integer, decimal, float := in("[I:1]"), in("[I:123456]"), in("[F:-1234.5600]"), in("[F:1234.5678]")
	datetime, offset := in("[DT:05/18/2020 10:40:43.0000000]"), in("[DT:05/18/2020 10:40:43.1234567 +02:00]")
	clock, text, binary := in("[T:10:40:43.1234567]"), in("Nonnast, Leon – Øst"), in("[B:AAECAwQFBgc=]")
	uuid := in("6f9619ff-8b86-d011-b42d-00c04fc964ff")
	cases := []struct {
		name string
		run  func() error
	}{
		{"bit", func() error { _, err := ParseBit(bit); return err }},
		{"int", func() error { _, err := parseInt(integer); return err }},
		{"decimal", func() error { _, err := parseDecimal(buf[:0], decimal); return err }},
		{"float", func() error { _, err := parseFloat(float); return err }},
		{"datetime", func() error { _, err := parseDateTime(datetime); return err }},
		{"datetimeoffset", func() error { _, err := parseOffset(offset); return err }},
		{"time", func() error { _, err := parseTime(clock); return err }},
		{"nvarchar", func() error { return checkText(text) }},
		{"varbinary", func() error { _, err := parseBinary(buf[:0], binary); return err }},
		{"uniqueidentifier", func() error { _, err := ParseUUID(uuid); return err }},
	}
	for _, c := range cases {
		if err := c.run(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = c.run() }); n != 0 {
			t.Errorf("%s: %v allocations per value, want 0", c.name, n)
		}
	}
}

func TestBinaryParserAppends(t *testing.T) {
	p := BinaryParser(mustType(t, "varbinary(4)"))
	out, err := p([]byte("ab"), []byte("0x0102"))
	if err != nil || !bytes.Equal(out, []byte("ab\x01\x02")) {
		t.Fatalf("got %q, %v", out, err)
	}
	// A refused value leaves dst as it was.
	out, err = p([]byte("ab"), []byte("0x0102030405"))
	if err == nil || string(out) != "ab" {
		t.Fatalf("got %q, %v", out, err)
	}
	out, err = BinaryParser(mustType(t, "rowversion"))([]byte("ab"), []byte("0x01"))
	if err == nil || string(out) != "ab" {
		t.Fatalf("rowversion: got %q, %v", out, err)
	}
}
