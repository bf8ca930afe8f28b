package typemap

import (
	"strconv"
	"testing"
)

// BenchmarkDecodeRow decodes a realistic 30-column CRM row (ints, nvarchars, datetimes, floats, as the
// Mirroring Task sends them) with decoders chosen once, as the engine does per batch.
func BenchmarkDecodeRow(b *testing.B) {
	var types []Type
	var row [][]byte
	add := func(typ, text string) {
		types = append(types, mustType(b, typ))
		row = append(row, []byte(text))
	}
	for i := 0; i < 8; i++ {
		add("int", "[I:"+strconv.Itoa(135+i*7919)+"]")
	}
	add("smallint", "[S:0]")
	add("bigint", "[I:9007199254740993]")
	for i := 0; i < 10; i++ {
		add("nvarchar(255)", "Nonnast, Leon "+strconv.Itoa(i)+" Storgata 12, 0155 Oslo")
	}
	for i := 0; i < 6; i++ {
		add("datetime", "[DT:05/18/2020 10:40:4"+strconv.Itoa(i)+".0000000]")
	}
	for i := 0; i < 4; i++ {
		add("float", "[F:"+strconv.FormatFloat(1234.5678*float64(i+1), 'g', -1, 64)+"]")
	}
	decoders := make([]Decoder, len(types))
	for i, t := range types {
		decoders[i] = DecoderFor(t)
	}
	out := make([]any, len(types))
	bytesPerRow := 0
	for _, v := range row {
		bytesPerRow += len(v)
	}
	b.SetBytes(int64(bytesPerRow))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for c, dec := range decoders {
			v, err := dec(row[c])
			if err != nil {
				b.Fatal(err)
			}
			out[c] = v
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
}
