package typemap

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Decoder turns the text of one non-NULL ColumnValues string into the Go value of its column's type
// (see DecoderFor). It must not retain text: the bytes are reused for the next row. Errors are
// *ValueError.
type Decoder func(text []byte) (any, error)

// DecoderFor returns the decoder for a column of type t, to be chosen once per column per batch. The
// Go values are:
//
//	bit                                        bool
//	tinyint, smallint, int, bigint             int64 (range-checked per type)
//	decimal, numeric, money, smallmoney        DecimalValue (exact; digits checked against p and s)
//	float, real                                float64 (real: within float32 range; no NaN or ±Inf)
//	date                                       time.Time, 00:00 UTC
//	smalldatetime, datetime, datetime2         time.Time in time.UTC holding the naive wall clock
//	datetimeoffset                             time.Time in a time.FixedZone of its offset
//	time                                       TimeOfDay
//	char … ntext, xml, sysname, sql_variant,   string, verbatim, valid UTF-8, at most n characters
//	hierarchyid, geography, geometry
//	binary, varbinary, image, rowversion       []byte (at most n bytes; rowversion exactly 8)
//	uniqueidentifier                           UUID
//
// Wire forms are those of PROTOCOL.md ("Values in ColumnValues"). Temporal values with more fraction
// digits than the type stores are rounded half up, as SQL Server would have stored them (datetime to
// the millisecond, smalldatetime to the minute); a time(p) that would round up to 24:00:00 is clamped
// to the largest time(p) instead. A real is the float64 of the text as written (within float32 range),
// not widened from a float32, so "0.1" is 0.1. Money ranges are SQL Server's exact ones
// (-922337203685477.5808..922337203685477.5807, smallmoney -214748.3648..214748.3647). Decoders do
// no allocation beyond the returned value and are safe for concurrent use.
func DecoderFor(t Type) Decoder {
	switch t.Kind {
	case Bit:
		return decodeBit
	case TinyInt, SmallInt, Int, BigInt:
		return boxed(IntParser(t))
	case Decimal, Money, SmallMoney:
		parse := DecimalParser(t)
		return func(b []byte) (any, error) {
			var buf [96]byte
			out, err := parse(buf[:0], b)
			if err != nil {
				return nil, err
			}
			return DecimalValue(out), nil
		}
	case Float, Real:
		return boxed(FloatParser(t))
	case Date, SmallDateTime, DateTime, DateTime2, DateTimeOffset:
		parse := DateTimeParser(t)
		return func(b []byte) (any, error) {
			d, err := parse(b)
			if err != nil {
				return nil, err
			}
			return d.Time(), nil
		}
	case Time:
		return boxed(TimeParser(t))
	case Char, VarChar, NChar, NVarChar, SysName, Text, NText, XML, HierarchyID, Geography, Geometry, SQLVariant:
		check := TextParser(t)
		return func(b []byte) (any, error) {
			if err := check(b); err != nil {
				return nil, err
			}
			return string(b), nil
		}
	case Binary, VarBinary, Image, RowVersion:
		parse := BinaryParser(t)
		return func(b []byte) (any, error) {
			// A fresh, non-nil slice: the value must not alias the wire text, and an empty value is
			// []byte{}, not nil.
			out, err := parse([]byte{}, b)
			if err != nil {
				return nil, err
			}
			return out, nil
		}
	case UniqueIdentifier:
		return boxed(ParseUUID)
	}
	return func([]byte) (any, error) { return nil, noParser(t) }
}

// boxed turns a typed parser into a Decoder.
func boxed[T any](parse func([]byte) (T, error)) Decoder {
	return func(b []byte) (any, error) {
		v, err := parse(b)
		if err != nil {
			return nil, err
		}
		return v, nil
	}
}

// noParser is the error of a parser asked for a type it does not parse: a programming error, reported
// as a value error so that it fails the batch rather than the process.
func noParser(t Type) error {
	return &ValueError{Reason: "no decoder for type " + t.Kind.String()}
}

// Preallocated errors keep the failure path of the hot loop allocation-free as well.
var (
	errNotBit        = &ValueError{"not a bit (expected [I:0], [I:1], 0, 1, true or false)"}
	errNotInt        = &ValueError{"not an integer"}
	errEmptyInt      = &ValueError{"empty value is not an integer"}
	errRangeTinyInt  = &ValueError{"out of range for tinyint (0..255)"}
	errRangeSmallInt = &ValueError{"out of range for smallint (-32768..32767)"}
	errRangeInt      = &ValueError{"out of range for int (-2147483648..2147483647)"}
	errRangeBigInt   = &ValueError{"out of range for bigint"}
	errNotDecimal    = &ValueError{"not a decimal number"}
	errRangeMoney    = &ValueError{"out of range for money"}
	errRangeSmallMon = &ValueError{"out of range for smallmoney"}
	errNotFloat      = &ValueError{"not a floating-point number"}
	errNaNInf        = &ValueError{"NaN and infinity are not SQL Server values"}
	errRangeFloat    = &ValueError{"out of range for float"}
	errRangeReal     = &ValueError{"out of range for real"}
	errNotDateTime   = &ValueError{"not a date/time (expected [DT:MM/dd/yyyy HH:mm:ss.fffffff] or ISO 8601)"}
	errDateHasTime   = &ValueError{"date value has a time of day"}
	errUnexpectedOff = &ValueError{"unexpected time zone offset for a type without one"}
	errMissingOffset = &ValueError{"datetimeoffset value has no offset"}
	errRangeDate     = &ValueError{"date out of range 0001-01-01..9999-12-31"}
	errRangeDateTime = &ValueError{"out of range for datetime (1753-01-01..9999-12-31 23:59:59.997)"}
	errRangeSmallDT  = &ValueError{"out of range for smalldatetime (1900-01-01..2079-06-06 23:59)"}
	errNotTime       = &ValueError{"not a time of day (expected [T:HH:mm:ss.fffffff] or HH:mm:ss[.f])"}
	errInvalidUTF8   = &ValueError{"text is not valid UTF-8"}
	errNotBinary     = &ValueError{"not binary (expected [B:base64] or 0x hex)"}
	errRowVersionLen = &ValueError{"rowversion must be exactly 8 bytes"}
	errNotUUID       = &ValueError{"not a uniqueidentifier (expected 8-4-4-4-12 hex digits)"}
)

// untag splits "[TAG:body]" into tag and body. ok is false when b has no such wrapper; tags are one or
// two upper-case letters.
func untag(b []byte) (tag, body []byte, ok bool) {
	n := len(b)
	if n < 4 || b[0] != '[' || b[n-1] != ']' {
		return nil, nil, false
	}
	if b[2] == ':' && isUpper(b[1]) {
		return b[1:2], b[3 : n-1], true
	}
	if n >= 5 && b[3] == ':' && isUpper(b[1]) && isUpper(b[2]) {
		return b[1:3], b[4 : n-1], true
	}
	return nil, nil, false
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

func tagIs(tag []byte, s string) bool { return string(tag) == s }

func decodeBit(b []byte) (any, error) {
	v, err := ParseBit(b)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// ParseBit parses a bit: [I:0], [I:1], 0, 1, true or false (any case).
func ParseBit(b []byte) (bool, error) {
	if tag, body, ok := untag(b); ok {
		if !tagIs(tag, "I") || len(body) != 1 {
			return false, errNotBit
		}
		b = body
	}
	switch len(b) {
	case 1:
		switch b[0] {
		case '0':
			return false, nil
		case '1':
			return true, nil
		}
	case 4:
		if lowerEq(b, "true") {
			return true, nil
		}
	case 5:
		if lowerEq(b, "false") {
			return false, nil
		}
	}
	return false, errNotBit
}

// lowerEq reports whether b equals the lower-case ASCII word w, ignoring case.
func lowerEq(b []byte, w string) bool {
	if len(b) != len(w) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i]|0x20 != w[i] {
			return false
		}
	}
	return true
}

// IntParser returns the parser of an integer column of type t (tinyint, smallint, int, bigint): [I:n],
// [S:n], [L:n] or plain digits, range-checked for the type.
func IntParser(t Type) func(b []byte) (int64, error) {
	switch t.Kind {
	case TinyInt:
		return intParser(0, math.MaxUint8, false, errRangeTinyInt)
	case SmallInt:
		return intParser(math.MinInt16, math.MaxInt16, true, errRangeSmallInt)
	case Int:
		return intParser(math.MinInt32, math.MaxInt32, true, errRangeInt)
	case BigInt:
		return intParser(math.MinInt64, math.MaxInt64, true, errRangeBigInt)
	}
	return func([]byte) (int64, error) { return 0, noParser(t) }
}

func intParser(lo, hi int64, signed bool, errRange *ValueError) func(b []byte) (int64, error) {
	return func(b []byte) (int64, error) {
		if tag, body, ok := untag(b); ok {
			if len(tag) != 1 || (tag[0] != 'I' && tag[0] != 'S' && tag[0] != 'L') {
				return 0, errNotInt
			}
			b = body
		}
		if len(b) == 0 {
			return 0, errEmptyInt
		}
		if !signed && b[0] == '-' {
			return 0, errRange
		}
		v, err := parseInt64(b)
		if err != nil {
			if err == errRangeBigInt {
				return 0, errRange
			}
			return 0, err
		}
		if v < lo || v > hi {
			return 0, errRange
		}
		return v, nil
	}
}

// parseInt64 parses -?[0-9]+ by hand (no '+', no spaces, leading zeros allowed).
func parseInt64(b []byte) (int64, error) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 {
		return 0, errNotInt
	}
	const limit = uint64(1) << 63
	var mag uint64
	for _, c := range b {
		d := uint64(c - '0')
		if d > 9 {
			return 0, errNotInt
		}
		if mag > (limit-d)/10 {
			// Keep scanning so that "12x…" reports "not an integer" rather than a range error.
			for _, c := range b {
				if c < '0' || c > '9' {
					return 0, errNotInt
				}
			}
			return 0, errRangeBigInt
		}
		mag = mag*10 + d
	}
	if neg {
		return -int64(mag-1) - 1, nil
	}
	if mag == limit {
		return 0, errRangeBigInt
	}
	return int64(mag), nil
}

// decimalParts is a parsed decimal: the significant digits and where the decimal point sits.
type decimalParts struct {
	neg bool
	// digits are the significant digits with leading and (fractional) trailing zeros removed.
	digits []byte
	// point is the number of digits before the decimal point; it may be negative (0.00x) or larger
	// than len(digits) (x00).
	point int
}

// parseDecimal parses [-+]?digits[.digits][(e|E)[+-]digits] (at least one digit in the mantissa)
// without any floating-point arithmetic. The returned digits alias b.
func parseDecimal(b []byte) (decimalParts, bool) {
	var p decimalParts
	i := 0
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		p.neg = b[i] == '-'
		i++
	}
	intStart := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(b) && b[i] == '.' {
		i++
		fracStart = i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		fracEnd = i
	}
	if intEnd == intStart && fracEnd == fracStart {
		return p, false
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		if i == len(b) {
			return p, false
		}
		for ; i < len(b); i++ {
			c := b[i]
			if c < '0' || c > '9' {
				return p, false
			}
			if exp < 100000 { // beyond this the value is out of any range or zero anyway
				exp = exp*10 + int(c-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(b) {
		return p, false
	}
	// The digits of the integer and fraction parts are contiguous except for the '.', so keep them as
	// two runs and normalise: leading zeros of the integer run, then of the fraction run when the
	// integer run is all zeros.
	intDigits := b[intStart:intEnd]
	fracDigits := b[fracStart:fracEnd]
	point := len(intDigits) + exp
	for len(intDigits) > 0 && intDigits[0] == '0' {
		intDigits = intDigits[1:]
		point--
	}
	if len(intDigits) == 0 {
		for len(fracDigits) > 0 && fracDigits[0] == '0' {
			fracDigits = fracDigits[1:]
			point--
		}
		intDigits = fracDigits
		fracDigits = nil
	}
	// Trailing zeros only matter before the point.
	for len(fracDigits) > 0 && fracDigits[len(fracDigits)-1] == '0' {
		fracDigits = fracDigits[:len(fracDigits)-1]
	}
	if len(fracDigits) == 0 {
		for len(intDigits) > point && len(intDigits) > 0 && intDigits[len(intDigits)-1] == '0' {
			intDigits = intDigits[:len(intDigits)-1]
		}
	}
	if len(intDigits) == 0 {
		return decimalParts{}, true // zero, whatever its sign or exponent
	}
	if len(fracDigits) == 0 {
		p.digits = intDigits
	} else {
		// intDigits and fracDigits are separated by exactly one '.' in b; the caller copies digits
		// through digitAt, which skips it.
		p.digits = b[intStart+(len(b[intStart:intEnd])-len(intDigits)) : fracStart+len(fracDigits)]
	}
	p.point = point
	return p, true
}

// digitCount returns the number of digits of p (without a '.').
func (p decimalParts) digitCount() int {
	n := 0
	for _, c := range p.digits {
		if c != '.' {
			n++
		}
	}
	return n
}

// appendDecimal writes p in canonical form.
func appendDecimal(out []byte, p decimalParts) []byte {
	n := p.digitCount()
	if n == 0 {
		return append(out, '0')
	}
	if p.neg {
		out = append(out, '-')
	}
	k := 0 // digits written
	if p.point <= 0 {
		out = append(out, '0', '.')
		for i := p.point; i < 0; i++ {
			out = append(out, '0')
		}
	}
	for _, c := range p.digits {
		if c == '.' {
			continue
		}
		if k == p.point && k > 0 {
			out = append(out, '.')
		}
		out = append(out, c)
		k++
	}
	for ; k < p.point; k++ {
		out = append(out, '0')
	}
	return out
}

// DecimalParser returns the parser of an exact decimal column of type t (decimal, numeric, money,
// smallmoney): it appends the value's canonical text (DecimalValue's form) to dst, checking its digits
// against the type's precision and scale and money's exact range.
func DecimalParser(t Type) func(dst, b []byte) ([]byte, error) {
	if !t.IsDecimal() {
		return func(dst, _ []byte) ([]byte, error) { return dst, noParser(t) }
	}
	prec, scale := t.NumericPrecisionScale()
	maxInt := prec - scale
	errRange := &ValueError{"out of range for " + t.String() + " (more than " + strconv.Itoa(maxInt) +
		" integer digits)"}
	errScale := &ValueError{"more than " + strconv.Itoa(scale) + " fraction digits for " + t.String()}
	kind := t.Kind
	return func(dst, b []byte) ([]byte, error) {
		if tag, body, ok := untag(b); ok {
			if len(tag) != 1 || (tag[0] != 'F' && tag[0] != 'M') {
				return dst, errNotDecimal
			}
			b = body
		}
		p, ok := parseDecimal(b)
		if !ok {
			return dst, errNotDecimal
		}
		n := p.digitCount()
		if n == 0 {
			return append(dst, '0'), nil
		}
		if p.point > maxInt {
			return dst, errRange
		}
		if frac := n - p.point; frac > scale {
			return dst, errScale
		}
		switch kind {
		case Money:
			if !moneyInRange(p, 9223372036854775807, 9223372036854775808) {
				return dst, errRangeMoney
			}
		case SmallMoney:
			if !moneyInRange(p, 2147483647, 2147483648) {
				return dst, errRangeSmallMon
			}
		}
		return appendDecimal(dst, p), nil
	}
}

// moneyInRange checks a value with at most 4 fraction digits against SQL Server's money limits, held
// as integers of 1/10000 (money is a scaled 64-bit integer, smallmoney a 32-bit one).
func moneyInRange(p decimalParts, maxPos, maxNeg uint64) bool {
	var v uint64
	k := 0
	for _, c := range p.digits {
		if c == '.' {
			continue
		}
		k++
		if v > (math.MaxUint64-9)/10 {
			return false
		}
		v = v*10 + uint64(c-'0')
	}
	// Scale to 4 fraction digits: the value has n-point fraction digits now.
	for frac := k - p.point; frac < 4; frac++ {
		if v > math.MaxUint64/10 {
			return false
		}
		v *= 10
	}
	if p.neg {
		return v <= maxNeg
	}
	return v <= maxPos
}

// validFloatSyntax accepts [+-]?digits[.digits][(e|E)[+-]?digits], rejecting what strconv.ParseFloat
// would also take but SQL Server never sends: "Inf", "NaN", hex floats and underscores.
func validFloatSyntax(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

func floatText(b []byte) ([]byte, error) {
	if tag, body, ok := untag(b); ok {
		if !tagIs(tag, "F") {
			return nil, errNotFloat
		}
		b = body
	}
	if !validFloatSyntax(b) {
		if len(b) > 0 && (b[0]|0x20 == 'n' || b[0]|0x20 == 'i' || len(b) > 1 && b[1]|0x20 == 'i') {
			return nil, errNaNInf
		}
		return nil, errNotFloat
	}
	return b, nil
}

// FloatParser returns the parser of a float or real column of type t: [F:r] or plain decimal or
// scientific text, without NaN or infinities; a real must be within float32's range, and is the
// float64 of the text as written.
func FloatParser(t Type) func(b []byte) (float64, error) {
	switch t.Kind {
	case Float:
		return parseFloatText
	case Real:
		return parseReal
	}
	return func([]byte) (float64, error) { return 0, noParser(t) }
}

func parseReal(b []byte) (float64, error) {
	v, err := parseFloatText(b)
	if err != nil {
		return 0, err
	}
	if math.Abs(v) > math.MaxFloat32 && math.IsInf(float64(float32(v)), 0) {
		return 0, errRangeReal
	}
	return v, nil
}

// parseFloatText parses a float or real wire value. Overflow is an error; underflow yields the nearest
// float (zero or a denormal), as SQL Server would have stored it.
func parseFloatText(b []byte) (float64, error) {
	b, err := floatText(b)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			if math.IsInf(v, 0) {
				return 0, errRangeFloat
			}
			return v, nil
		}
		return 0, errNotFloat
	}
	return v, nil
}

// dtParts is a parsed date/time text.
type dtParts struct {
	year, month, day        int
	hour, minute, sec, nsec int
	hasTime, hasOffset      bool
	offset                  int // minutes east of UTC
}

// digits parses exactly n ASCII digits at b[i:].
func digits(b []byte, i, n int) (int, bool) {
	if i+n > len(b) {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseClock parses HH:mm:ss[.f{1,9}] at b[i:] and returns the index after it.
func parseClock(b []byte, i int, p *dtParts) (int, bool) {
	var ok1, ok2, ok3 bool
	p.hour, ok1 = digits(b, i, 2)
	p.minute, ok2 = digits(b, i+3, 2)
	p.sec, ok3 = digits(b, i+6, 2)
	if !ok1 || !ok2 || !ok3 || b[i+2] != ':' || b[i+5] != ':' {
		return 0, false
	}
	if p.hour > 23 || p.minute > 59 || p.sec > 59 {
		return 0, false
	}
	i += 8
	p.hasTime = true
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		ns := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 9 {
			ns = ns*10 + int(b[i]-'0')
			i++
		}
		n := i - start
		if n == 0 || i < len(b) && b[i] >= '0' && b[i] <= '9' {
			return 0, false
		}
		p.nsec = ns * int(pow10[9-n])
	}
	return i, true
}

// parseOffset parses [ ](Z|±hh:mm) at b[i:] through the end of b.
func parseOffset(b []byte, i int, p *dtParts, allowZ bool) bool {
	if i < len(b) && b[i] == ' ' {
		i++
	}
	if allowZ && i == len(b)-1 && b[i] == 'Z' {
		p.hasOffset = true
		return true
	}
	if len(b)-i != 6 || (b[i] != '+' && b[i] != '-') || b[i+3] != ':' {
		return false
	}
	h, ok1 := digits(b, i+1, 2)
	m, ok2 := digits(b, i+4, 2)
	if !ok1 || !ok2 || m > 59 || h*60+m > 14*60 {
		return false
	}
	p.hasOffset = true
	p.offset = h*60 + m
	if b[i] == '-' {
		p.offset = -p.offset
	}
	return true
}

// parseDateTime parses the [DT:…]/[D:…] body "MM/dd/yyyy[ HH:mm:ss[.f]][ ±hh:mm]" or ISO 8601
// "yyyy-MM-dd[(T| )HH:mm:ss[.f]][[ ](Z|±hh:mm)]".
func parseDateTime(b []byte) (dtParts, bool) {
	if p, ok := parseTaskDateTime(b); ok {
		return p, true
	}
	var p dtParts
	var i int
	switch {
	case len(b) >= 10 && b[2] == '/' && b[5] == '/':
		var ok1, ok2, ok3 bool
		p.month, ok1 = digits(b, 0, 2)
		p.day, ok2 = digits(b, 3, 2)
		p.year, ok3 = digits(b, 6, 4)
		if !ok1 || !ok2 || !ok3 {
			return p, false
		}
		i = 10
		if i < len(b) {
			if b[i] != ' ' || len(b) < i+9 {
				return p, false
			}
			var ok bool
			if i, ok = parseClock(b, i+1, &p); !ok {
				return p, false
			}
			if i < len(b) && !parseOffset(b, i, &p, false) {
				return p, false
			}
		}
	case len(b) >= 10 && b[4] == '-' && b[7] == '-':
		var ok1, ok2, ok3 bool
		p.year, ok1 = digits(b, 0, 4)
		p.month, ok2 = digits(b, 5, 2)
		p.day, ok3 = digits(b, 8, 2)
		if !ok1 || !ok2 || !ok3 {
			return p, false
		}
		i = 10
		if i < len(b) {
			if (b[i] != 'T' && b[i] != ' ') || len(b) < i+9 {
				return p, false
			}
			var ok bool
			if i, ok = parseClock(b, i+1, &p); !ok {
				return p, false
			}
			if i < len(b) && !parseOffset(b, i, &p, true) {
				return p, false
			}
		}
	default:
		return p, false
	}
	if p.year < 1 || p.month < 1 || p.month > 12 || p.day < 1 || p.day > daysIn(p.month, p.year) {
		return p, false
	}
	return p, true
}

// parseTaskDateTime parses the one form the Mirroring Task writes for every naive date/time,
// "MM/dd/yyyy HH:mm:ss.fffffff", at fixed positions; ok is false for anything else, which
// parseDateTime then parses the general way (and judges). Its checks are those of the general way.
func parseTaskDateTime(b []byte) (p dtParts, ok bool) {
	if len(b) != 27 || b[2] != '/' || b[5] != '/' || b[10] != ' ' || b[13] != ':' || b[16] != ':' || b[19] != '.' {
		return p, false
	}
	bad := false
	digit := func(i int) int {
		d := b[i] - '0' // a byte below '0' wraps around above 9
		bad = bad || d > 9
		return int(d)
	}
	two := func(i int) int { return digit(i)*10 + digit(i+1) }
	p.month, p.day = two(0), two(3)
	p.year = two(6)*100 + two(8)
	p.hour, p.minute, p.sec = two(11), two(14), two(17)
	ns := 0
	for i := 20; i < 27; i++ {
		ns = ns*10 + digit(i)
	}
	if bad || p.hour > 23 || p.minute > 59 || p.sec > 59 ||
		p.year < 1 || p.month < 1 || p.month > 12 || p.day < 1 || p.day > daysIn(p.month, p.year) {
		return p, false
	}
	p.nsec, p.hasTime = ns*100, true
	return p, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// roundNanos rounds ns half up to digits fraction digits; the result may reach 1e9 (a carry).
func roundNanos(ns int, digits int) int {
	unit := int(pow10[9-digits])
	r := ns % unit
	ns -= r
	if 2*r >= unit {
		ns += unit
	}
	return ns
}

// The ranges of datetime and smalldatetime, as wall-clock seconds since 1970-01-01 (and nanoseconds).
var (
	minDateTime      = civilSeconds(1753, 1, 1, 0, 0, 0)
	maxDateTime      = civilSeconds(9999, 12, 31, 23, 59, 59)
	maxDateTimeNanos = int32(997000000)
	minSmallDateTime = civilSeconds(1900, 1, 1, 0, 0, 0)
	maxSmallDateTime = civilSeconds(2079, 6, 6, 23, 59, 0)
	// endOfYear9999 is the first second after every type's range: 10000-01-01.
	endOfYear9999 = civilSeconds(10000, 1, 1, 0, 0, 0)
)

// DateTimeParser returns the parser of a date or date/time column of type t (date, smalldatetime,
// datetime, datetime2, datetimeoffset): [DT:MM/dd/yyyy HH:mm:ss.fffffff], [D:…] or ISO 8601, with an
// offset exactly for datetimeoffset, rounded to the type's precision and checked against its range. It
// builds no time.Time (WallTime.Time does, as DecoderFor's values).
func DateTimeParser(t Type) func(b []byte) (WallTime, error) {
	kind, prec := t.Kind, t.Precision
	switch kind {
	case Date, SmallDateTime, DateTime, DateTime2, DateTimeOffset:
	default:
		return func([]byte) (WallTime, error) { return WallTime{}, noParser(t) }
	}
	return func(b []byte) (WallTime, error) {
		if tag, body, ok := untag(b); ok {
			if !tagIs(tag, "DT") && !tagIs(tag, "D") {
				return WallTime{}, errNotDateTime
			}
			b = body
		}
		p, ok := parseDateTime(b)
		if !ok {
			return WallTime{}, errNotDateTime
		}
		if p.hasOffset != (kind == DateTimeOffset) {
			if p.hasOffset {
				return WallTime{}, errUnexpectedOff
			}
			return WallTime{}, errMissingOffset
		}
		var v WallTime
		switch kind {
		case Date:
			if p.hour != 0 || p.minute != 0 || p.sec != 0 || p.nsec != 0 {
				return WallTime{}, errDateHasTime
			}
			v = wallTime(p.year, p.month, p.day, 0, 0, 0, 0)
		case DateTime:
			v = wallTime(p.year, p.month, p.day, p.hour, p.minute, p.sec, roundNanos(p.nsec, 3))
			if v.Wall < minDateTime || v.Wall > maxDateTime || v.Wall == maxDateTime && v.Nanos > maxDateTimeNanos {
				return WallTime{}, errRangeDateTime
			}
		case SmallDateTime:
			// SQL Server rounds 29.998 s and less down and 29.999 s and more up.
			min := p.minute
			if p.sec*1000+p.nsec/1e6 >= 29999 {
				min++
			}
			v = wallTime(p.year, p.month, p.day, p.hour, min, 0, 0)
			if v.Wall < minSmallDateTime || v.Wall > maxSmallDateTime {
				return WallTime{}, errRangeSmallDT
			}
		case DateTime2:
			v = wallTime(p.year, p.month, p.day, p.hour, p.minute, p.sec, roundNanos(p.nsec, prec))
			if v.Wall >= endOfYear9999 {
				return WallTime{}, errRangeDate
			}
		default: // DateTimeOffset
			v = wallTime(p.year, p.month, p.day, p.hour, p.minute, p.sec, roundNanos(p.nsec, prec))
			if v.Wall >= endOfYear9999 {
				return WallTime{}, errRangeDate
			}
			v.Offset, v.Zoned = int32(p.offset*60), true
		}
		return v, nil
	}
}

// wallTime is the WallTime of a wall clock whose nanoseconds may have rounded up to a whole second.
func wallTime(year, month, day, hour, min, sec, nsec int) WallTime {
	w := civilSeconds(year, month, day, hour, min, sec)
	if nsec >= 1e9 {
		w++
		nsec -= 1e9
	}
	return WallTime{Wall: w, Nanos: int32(nsec)}
}

// zones caches one *time.Location per offset minute (-14:00..+14:00) so that decoding a
// datetimeoffset does not allocate a zone per value, and equal offsets share one Location.
var zones [2*14*60 + 1]atomic.Pointer[time.Location]

// fixedZone returns the cached time.FixedZone for an offset in minutes east of UTC, named "+hh:mm".
func fixedZone(minutes int) *time.Location {
	slot := &zones[minutes+14*60]
	if loc := slot.Load(); loc != nil {
		return loc
	}
	name := make([]byte, 0, 6)
	m := minutes
	if m < 0 {
		name = append(name, '-')
		m = -m
	} else {
		name = append(name, '+')
	}
	name = append2(name, m/60)
	name = append(name, ':')
	name = append2(name, m%60)
	loc := time.FixedZone(string(name), minutes*60)
	if slot.CompareAndSwap(nil, loc) {
		return loc
	}
	return slot.Load()
}

// TimeParser returns the parser of a time column of type t: [T:HH:mm:ss.fffffff] or HH:mm:ss[.f],
// rounded to the type's precision (a value that would round up to 24:00:00 is clamped to the largest
// time(p)).
func TimeParser(t Type) func(b []byte) (TimeOfDay, error) {
	if t.Kind != Time {
		return func([]byte) (TimeOfDay, error) { return 0, noParser(t) }
	}
	prec := t.Precision
	const day = int64(24 * time.Hour)
	maxOfPrec := day - pow10[9-prec]
	return func(b []byte) (TimeOfDay, error) {
		if tag, body, ok := untag(b); ok {
			if !tagIs(tag, "T") {
				return 0, errNotTime
			}
			b = body
		}
		var p dtParts
		if len(b) < 8 {
			return 0, errNotTime
		}
		i, ok := parseClock(b, 0, &p)
		if !ok || i != len(b) {
			return 0, errNotTime
		}
		ns := int64(p.hour*3600+p.minute*60+p.sec)*1e9 + int64(roundNanos(p.nsec, prec))
		if ns >= day {
			// Rounding 23:59:59.99…5 up would reach the next day; keep the largest time(p) instead.
			ns = maxOfPrec
		}
		return TimeOfDay(ns), nil
	}
}

// TextParser returns the check of a column whose values are strings (t.IsString: char … ntext,
// sysname, xml, hierarchyid, the spatial kinds, sql_variant): the value is the text itself, verbatim,
// and must be valid UTF-8 of at most the type's length in characters.
func TextParser(t Type) func(b []byte) error {
	if !t.IsString() {
		return func([]byte) error { return noParser(t) }
	}
	limit := t.MaxLength()
	if limit <= 0 {
		return checkUTF8
	}
	suffix := " characters, column holds " + strconv.Itoa(limit)
	return func(b []byte) error {
		if len(b) <= limit && isASCII(b) {
			// The usual value: it cannot be too long, and ASCII is valid UTF-8.
			return nil
		}
		n := 0
		for i := 0; i < len(b); {
			if b[i] < utf8.RuneSelf {
				i++
				n++
				continue
			}
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return errInvalidUTF8
			}
			i += size
			n++
		}
		if n > limit {
			return &ValueError{"value is " + strconv.Itoa(n) + suffix}
		}
		return nil
	}
}

// isASCII reports whether b holds only bytes below 0x80, eight at a time.
func isASCII(b []byte) bool {
	const highs = 0x8080808080808080
	var acc uint64
	for len(b) >= 8 {
		acc |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		acc |= uint64(c)
	}
	return acc&highs == 0
}

func checkUTF8(b []byte) error {
	if !utf8.Valid(b) {
		return errInvalidUTF8
	}
	return nil
}

// BinaryParser returns the parser of a binary column of type t (binary, varbinary, image,
// rowversion): [B:base64] or 0x hex, at most the type's length (rowversion exactly 8 bytes). It
// appends the bytes to dst.
func BinaryParser(t Type) func(dst, b []byte) ([]byte, error) {
	if !t.IsBinary() {
		return func(dst, _ []byte) ([]byte, error) { return dst, noParser(t) }
	}
	limit, exact := t.MaxLength(), t.Kind == RowVersion
	suffix := " bytes, column holds " + strconv.Itoa(limit)
	return func(dst, b []byte) ([]byte, error) {
		start := len(dst)
		if tag, body, ok := untag(b); ok {
			if !tagIs(tag, "B") {
				return dst, errNotBinary
			}
			n, err := decodedBase64Len(body)
			if err != nil {
				return dst, errNotBinary
			}
			if limit > 0 && n > limit {
				return dst, &ValueError{"value is " + strconv.Itoa(n) + suffix}
			}
			out := slices.Grow(dst, n)[:start+n]
			if m, err := base64.StdEncoding.Decode(out[start:], body); err != nil || m != n {
				return dst, errNotBinary
			}
			dst = out
		} else if len(b) >= 2 && b[0] == '0' && b[1]|0x20 == 'x' {
			hexd := b[2:]
			if len(hexd)%2 != 0 {
				return dst, errNotBinary
			}
			n := len(hexd) / 2
			if limit > 0 && n > limit {
				return dst, &ValueError{"value is " + strconv.Itoa(n) + suffix}
			}
			out := slices.Grow(dst, n)[:start+n]
			for i := 0; i < n; i++ {
				hi, ok1 := unhex(hexd[2*i])
				lo, ok2 := unhex(hexd[2*i+1])
				if !ok1 || !ok2 {
					return dst, errNotBinary
				}
				out[start+i] = hi<<4 | lo
			}
			dst = out
		} else {
			return dst, errNotBinary
		}
		if exact && len(dst)-start != limit {
			return dst[:start], errRowVersionLen
		}
		return dst, nil
	}
}

// decodedBase64Len returns the exact decoded length of padded standard base64.
func decodedBase64Len(b []byte) (int, error) {
	if len(b)%4 != 0 {
		return 0, errNotBinary
	}
	n := len(b) / 4 * 3
	if len(b) > 0 && b[len(b)-1] == '=' {
		n--
		if b[len(b)-2] == '=' {
			n--
		}
	}
	return n, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ParseUUID parses a uniqueidentifier: 8-4-4-4-12 hex digits, optionally in braces, any case.
func ParseUUID(b []byte) (UUID, error) {
	var u UUID
	if len(b) == 38 && b[0] == '{' && b[37] == '}' {
		b = b[1:37]
	}
	if len(b) != 36 || b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return u, errNotUUID
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := unhex(b[i])
		lo, ok2 := unhex(b[i+1])
		if !ok1 || !ok2 {
			return UUID{}, errNotUUID
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, nil
}
