package typemap

import (
	"encoding/hex"
	"time"
)

// DecimalValue is an exact decimal number in canonical text form: an optional '-', the integer digits
// without leading zeros (but at least "0"), and, when the value has a fraction, '.' and the fraction
// digits without trailing zeros. There is no exponent, no '+', and zero is "0", never "-0". Decoders
// return DecimalValue for decimal, numeric, money and smallmoney so that no value passes through
// float64. (It is not called Decimal because that name is the Kind constant.)
type DecimalValue string

// String returns the decimal text.
func (d DecimalValue) String() string { return string(d) }

// TimeOfDay is a SQL Server time(p) value: nanoseconds since midnight, 0 ≤ t < 24 h, a multiple of
// 100 ns (SQL Server's finest unit).
type TimeOfDay int64

// String returns the time as "HH:MM:SS.fffffff" (always seven fraction digits).
func (t TimeOfDay) String() string {
	var b [16]byte
	return string(appendTimeOfDay(b[:0], t))
}

// appendTimeOfDay appends "HH:MM:SS.fffffff"; t must be in 0..24h.
func appendTimeOfDay(b []byte, t TimeOfDay) []byte {
	ns := int64(t)
	if ns < 0 {
		ns = 0
	}
	sec := ns / 1e9
	frac := (ns % 1e9) / 100
	b = append2(b, int(sec/3600))
	b = append(b, ':')
	b = append2(b, int(sec/60%60))
	b = append(b, ':')
	b = append2(b, int(sec%60))
	b = append(b, '.')
	return appendN(b, int(frac), 7)
}

// RoundToMicro rounds t half up to the microsecond, as SQL Server does when it casts time(7) to
// time(6). This is the one lossy conversion of TYPES.md, for targets that stop at microseconds. A
// value that would round up to 24:00:00 (23:59:59.9999995 and later) is clamped to 23:59:59.999999,
// the largest time(6): a time of day cannot carry into the next day, and clamping keeps the value in
// range at a cost of at most 500 ns.
func (t TimeOfDay) RoundToMicro() TimeOfDay {
	const day = TimeOfDay(24 * time.Hour)
	r := (t + 500) / 1000 * 1000
	if r >= day {
		return day - 1000
	}
	return r
}

// RoundToMicro rounds t half up to the microsecond, keeping its location, for targets that stop at
// microseconds (TYPES.md: the only lossy conversion). A value whose wall clock would round past
// 9999-12-31 23:59:59.999999 is clamped to that value, the largest a datetime2(6) holds, rather than
// leave the range every target supports. The monotonic clock reading is dropped.
func RoundToMicro(t time.Time) time.Time {
	r := t.Round(time.Microsecond)
	if r.Year() > 9999 && t.Year() <= 9999 {
		return time.Date(9999, 12, 31, 23, 59, 59, 999999000, t.Location())
	}
	return r
}

// UUID is a uniqueidentifier in the byte order of its text as written: the first byte is the first two
// hex digits. (SQL Server's binary form swaps the first three groups; that is the SQL Server dialect's
// concern, not the wire's.)
type UUID [16]byte

// String returns the UUID in lower case 8-4-4-4-12 form.
func (u UUID) String() string {
	var b [36]byte
	return string(appendUUID(b[:0], u))
}

func appendUUID(b []byte, u UUID) []byte {
	var tmp [36]byte
	hex.Encode(tmp[0:8], u[0:4])
	tmp[8] = '-'
	hex.Encode(tmp[9:13], u[4:6])
	tmp[13] = '-'
	hex.Encode(tmp[14:18], u[6:8])
	tmp[18] = '-'
	hex.Encode(tmp[19:23], u[8:10])
	tmp[23] = '-'
	hex.Encode(tmp[24:36], u[10:16])
	return append(b, tmp[:]...)
}

// ValueError is the error a Decoder returns (as *ValueError) for a value that does not parse or does
// not fit its column. Reason describes the problem without the value itself; the engine adds table,
// column, row number and the (cut) offending text.
type ValueError struct{ Reason string }

// Error returns the reason.
func (e *ValueError) Error() string { return e.Reason }

// append2 appends n (0..99) as two digits.
func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// appendN appends n as exactly width digits with leading zeros.
func appendN(b []byte, n, width int) []byte {
	var tmp [20]byte
	for i := width - 1; i >= 0; i-- {
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, tmp[:width]...)
}

// WallTime is a date or date/time value as DateTimeParser gives it: the wall clock as plain numbers,
// so that a dialect can encode it into its own form without building a time.Time. Its fields are
// those of the time.Time that DecoderFor returns for the same text (see Time).
type WallTime struct {
	// Wall is the wall clock (for datetimeoffset, the local time at Offset) as seconds since
	// 1970-01-01 00:00:00 of the proleptic Gregorian calendar, as if it were UTC.
	Wall int64
	// Nanos is the fraction of the second, already rounded to the type's precision (0 ≤ Nanos < 1e9).
	Nanos int32
	// Offset is datetimeoffset's offset from UTC in seconds east; 0 for the other kinds.
	Offset int32
	// Zoned says that the value is a datetimeoffset: its Time is in a fixed zone of Offset, not UTC.
	Zoned bool
}

// Unix returns the instant as seconds since 1970-01-01 00:00:00 UTC.
func (d WallTime) Unix() int64 { return d.Wall - int64(d.Offset) }

// Time returns the value as DecoderFor decodes it: in time.UTC holding the wall clock for the naive
// kinds, in a time.FixedZone named "+hh:mm" for datetimeoffset.
func (d WallTime) Time() time.Time {
	if !d.Zoned {
		return time.Unix(d.Wall, int64(d.Nanos)).UTC()
	}
	return time.Unix(d.Unix(), int64(d.Nanos)).In(fixedZone(int(d.Offset / 60)))
}

// Date returns the wall clock's calendar date.
func (d WallTime) Date() (year int, month time.Month, day int) {
	days := d.Wall / secondsPerDay
	if d.Wall%secondsPerDay < 0 {
		days--
	}
	y, m, dd := civilFromDays(days)
	return y, time.Month(m), dd
}

// Clock returns the wall clock's hour, minute and second.
func (d WallTime) Clock() (hour, min, sec int) {
	s := int(d.Wall % secondsPerDay)
	if s < 0 {
		s += secondsPerDay
	}
	return s / 3600, s / 60 % 60, s % 60
}

const secondsPerDay = 86400

// civilSeconds returns the seconds since 1970-01-01 00:00:00 of a proleptic Gregorian wall clock; the
// fields may exceed their ranges (a minute of 60) and carry, as in time.Date.
func civilSeconds(year, month, day, hour, min, sec int) int64 {
	return daysFromCivil(year, month, day)*secondsPerDay + int64(hour)*3600 + int64(min)*60 + int64(sec)
}

// daysFromCivil returns the days since 1970-01-01 of a date (month 1..12, year ≥ 0), after Howard
// Hinnant's days_from_civil.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (year, month, day int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}
